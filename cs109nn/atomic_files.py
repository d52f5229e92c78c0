"""Atomic file writes: a reader sees the previous complete file or the new one, never a part.

The bytes go to a temporary file in the destination's folder (same file system, so the rename
is atomic), are flushed and fsynced, then ``os.replace`` puts the file in place and the folder
is fsynced so that the rename survives a power cut. Temporary files are named ``.<name>.*.tmp``:
hidden, never a result name, and removed by :func:`remove_temporary_files` when a run resumes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_SUFFIX = ".tmp"


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically (text is encoded as UTF-8; folders are created).

    Shared by the sweep (results, curves, manifest) and the report (report.md, figures).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}{_SUFFIX}"
    # mode 0o666 less the umask, as for any new file (mkstemp would make it private)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        # a failed or interrupted write leaves the previous file as it was, and no temp file
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def remove_temporary_files(folder: str | os.PathLike) -> list[Path]:
    """Delete what interrupted writes left in ``folder`` (not recursive); returns the paths."""
    removed = []
    for path in Path(folder).glob(f".*{_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder; os.replace is atomic there all the same
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
