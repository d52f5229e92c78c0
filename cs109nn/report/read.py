"""Read a run folder for a report: the manifest, results.csv as typed rows, the curves, the
boundary grids (``boundaries/<group>.npz``, see ``cs109nn.sweep.boundaries``), the test
predictions (``predictions/<group>.npz``, see ``cs109nn.sweep.predictions``) and the searches'
records (``search/<group>.npz``: halving rungs, PBT lineages; ``SEARCH_ARRAYS``).

The files are read through :mod:`cs109nn.run_folder_schema`, the sweep's own description of
them, so what the report reads is what the sweep writes; no JAX is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from cs109nn.report.configs import Row
from cs109nn.run_folder_schema import (
    CURVES,
    MANIFEST,
    SEARCH,
    Curves,
    RunFolderFormatError,
    read_arrays,
    read_curves,
    read_manifest,
    read_typed_results,
)
from cs109nn.run_folder_schema.files import BOUNDARIES, PREDICTIONS


@dataclass
class Run:
    """A run folder's contents: manifest, typed result rows (file order), curves by group id,
    and boundary grids, test predictions and search records (halving and PBT groups) by group
    id (name -> array; empty when the sweep wrote none)."""

    path: Path
    manifest: dict[str, Any]
    columns: list[str]
    rows: list[Row]
    curves: dict[str, Curves] = field(default_factory=dict)
    boundaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    searches: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_run(run_dir: str | Path) -> Run:
    """Everything in a run folder; a sweep still in progress reads as far as it got.

    Raises RunFolderFormatError for a folder that is not a run folder (no manifest.json: an
    empty folder, a folder of the user's own files) or whose files are not as the sweep writes
    them, so that a report is never written into it."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunFolderFormatError(f"no run folder at {path}")
    manifest = read_manifest(path)
    if manifest is None:
        raise RunFolderFormatError(
            f"{path} is not a run folder (no {MANIFEST}): nothing to report, nothing written"
        )
    columns, rows = read_typed_results(path)
    curves = {file.stem: read_curves(file) for file in sorted((path / CURVES).glob("*.npz"))}
    boundaries = {
        file.stem: read_arrays(file) for file in sorted((path / BOUNDARIES).glob("*.npz"))
    }
    predictions = {
        file.stem: read_arrays(file) for file in sorted((path / PREDICTIONS).glob("*.npz"))
    }
    searches = {file.stem: read_arrays(file) for file in sorted((path / SEARCH).glob("*.npz"))}
    return Run(
        path=path,
        manifest=manifest,
        columns=list(columns),
        rows=rows,
        curves=curves,
        boundaries=boundaries,
        predictions=predictions,
        searches=searches,
    )


class ManifestSummary(NamedTuple):
    """What a report states about a run, from its manifest; ``None`` where it does not say."""

    experiment: str | None
    config_hash: str | None
    git_commit: str | None
    git_dirty: bool | None
    started: str | None
    finished: str | None
    backend: str | None
    devices: str | None  # e.g. "8 × cpu"
    process_count: int | None
    versions: dict[str, str]
    planned_members: int | None
    planned_groups: int | None


def summarize_manifest(manifest: dict[str, Any]) -> ManifestSummary:
    """The manifest's facts, from its top level, its ``plan`` and its ``environment`` (the
    session that started the run)."""
    environment = manifest.get("environment") or {}
    plan = manifest.get("plan") or {}
    count, kinds = environment.get("device_count"), environment.get("device_kinds") or []
    groups = plan.get("groups")
    return ManifestSummary(
        experiment=manifest.get("experiment"),
        config_hash=manifest.get("config_hash"),
        git_commit=environment.get("git_commit"),
        git_dirty=environment.get("git_dirty"),
        started=manifest.get("started"),
        finished=manifest.get("finished"),
        backend=environment.get("backend"),
        devices=f"{count} × {', '.join(map(str, kinds)) or 'device'}" if count else None,
        process_count=environment.get("process_count"),
        versions={str(k): str(v) for k, v in (environment.get("versions") or {}).items()},
        planned_members=plan.get("models"),
        planned_groups=len(groups) if isinstance(groups, list) else None,
    )
