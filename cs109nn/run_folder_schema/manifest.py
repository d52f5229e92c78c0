"""manifest.json: read (its format checked, damage a clear error) and written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cs109nn.atomic_files import write_atomic
from cs109nn.run_folder_schema.files import MANIFEST, MANIFEST_FORMAT, RunFolderFormatError


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """manifest.json as a dict; None when there is none. Raises
    :class:`RunFolderFormatError` when its ``format`` is not ``MANIFEST_FORMAT``."""
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderFormatError(
            f"{path} is damaged ({error}): which config this folder holds cannot be known; "
            "start it over with --fresh, or write to another folder"
        ) from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != MANIFEST_FORMAT:
        raise RunFolderFormatError(f"{path}: format {found!r}, expected {MANIFEST_FORMAT!r}")
    return manifest


def write_manifest(run_dir: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, allow_nan=True) + "\n"
    write_atomic(Path(run_dir) / MANIFEST, text)
