"""Atomic file writes: a reader sees the previous complete file or the new one, never a part.

The bytes go to a temporary file in the destination's folder (same file system, so the rename
is atomic), are flushed and fsynced, then ``os.replace`` puts the file in place and the folder
is fsynced so that the rename survives a power cut. Temporary files are named ``.<name>.*.tmp``:
hidden, never a result name, and removed by :func:`remove_temporary_files` when a run resumes.

Test hook: with ``CS109NN_FAULT=POINT:N`` in the environment, the N-th time (1-based, counted
per process) that :func:`write_atomic` reaches POINT it SIGKILLs its own process -- a crash at
an exact moment, for the fault-injection tests (``tests/test_sweep_faults.py``). POINT is
``after_temp_write`` (the temporary file written and fsynced, not yet renamed) or
``after_replace`` (renamed, the folder not yet fsynced). Unset, it does nothing. Other
writers reach their own points through :func:`fault_point` (``after_checkpoint``: a group
checkpoint complete, ``cs109nn.train.checkpoints``).
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

_SUFFIX = ".tmp"

FAULT_VARIABLE = "CS109NN_FAULT"
FAULT_POINTS = ("after_temp_write", "after_replace")  # write_atomic's own
CHECKPOINT_FAULT_POINT = "after_checkpoint"
_KNOWN_POINTS = (*FAULT_POINTS, CHECKPOINT_FAULT_POINT)
_fault_counts = dict.fromkeys(_KNOWN_POINTS, 0)  # times each point was reached, this process


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically (text is encoded as UTF-8; folders are created).

    Shared by the sweep (results, curves, manifest) and the report (report.md, figures).
    ``CS109NN_FAULT`` is a test hook that kills the process mid-write (module docstring).
    """
    fault = _fault_setting()  # read once per call; None unless a test set it
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
        _reach("after_temp_write", fault)
        os.replace(temporary, path)
    except BaseException:
        # a failed or interrupted write leaves the previous file as it was, and no temp file
        temporary.unlink(missing_ok=True)
        raise
    _reach("after_replace", fault)
    _fsync_folder(path.parent)
    return path


def remove_temporary_files(folder: str | os.PathLike) -> list[Path]:
    """Delete what interrupted writes left in ``folder`` (not recursive); returns the paths."""
    removed = []
    for path in Path(folder).glob(f".*{_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _fault_setting() -> tuple[str, int] | None:
    """``CS109NN_FAULT`` as (point, n), None when unset; raises ValueError when malformed (a
    test whose fault never fires would pass for the wrong reason)."""
    setting = os.environ.get(FAULT_VARIABLE)
    if not setting:
        return None
    point, _, count = setting.partition(":")
    if point not in _KNOWN_POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(
            f"{FAULT_VARIABLE}={setting!r}: expected POINT:N, POINT one of "
            f"{', '.join(_KNOWN_POINTS)}, N >= 1"
        )
    return point, int(count)


def fault_point(point: str) -> None:
    """The test hook for a writer outside this module: reaching ``point`` (one of
    ``_KNOWN_POINTS``) the N-th time SIGKILLs the process when ``CS109NN_FAULT=point:N``."""
    _reach(point, _fault_setting())


def _reach(point: str, fault: tuple[str, int] | None) -> None:
    """The test hook: SIGKILL this process when ``point`` is reached the N-th time."""
    if fault is None or fault[0] != point:
        return
    _fault_counts[point] += 1
    if _fault_counts[point] == fault[1]:
        # no handler, no cleanup, no flush: what a crash or `kill -9` leaves (Windows has no
        # SIGKILL; there os.kill terminates the process all the same)
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder; os.replace is atomic there all the same
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
