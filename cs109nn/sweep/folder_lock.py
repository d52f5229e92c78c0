"""One sweep at a time in a run folder: an exclusive lock, and who holds it.

The lock is an OS file lock (``filelock``: ``flock`` on POSIX), so it dies with its holder: a
killed sweep never leaves a lock that blocks the next one. Beside it, the holder writes who it
is (pid, host, since); a second sweep on the folder is refused naming that holder, and a
sweep that finds the note of a holder that is gone (the lock free, the note still there) says
it takes over from a run that ended without releasing. Only process 0 of a multi-process run
takes the lock. On a network file system without working locks the guarantee is the file
system's.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from cs109nn import run_folder_schema as schema
from cs109nn.atomic_files import write_atomic
from cs109nn.errors import RunError
from cs109nn.sweep import run_folder


class FolderLockedError(RunError):
    """Another sweep holds the run folder; the message names it."""


@contextlib.contextmanager
def locked_run_folder(run_dir: Path, note: Callable[[str], None]) -> Iterator[None]:
    """Hold ``run_dir``'s lock (creating the folder) for the ``with`` block; ``note`` receives
    a line when a previous holder ended without releasing it. Raises FolderLockedError."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(run_dir / schema.LOCK, timeout=0)
    owner = run_dir / schema.LOCK_OWNER
    try:
        lock.acquire()
    except filelock.Timeout:
        raise FolderLockedError(
            f"{run_dir} is in use by another sweep ({_describe(owner)}); wait for it to end, "
            "or write to another folder"
        ) from None
    try:
        if owner.exists():
            note(f"note: {run_dir}: the previous sweep ({_describe(owner)}) ended without "
                 "releasing the folder (killed?); taking over")  # fmt: skip
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": run_folder.now()}
        write_atomic(owner, json.dumps(me) + "\n")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def _describe(owner: Path) -> str:
    try:
        who = json.loads(owner.read_text(encoding="utf-8"))
        return f"pid {who['pid']} on {who['host']}, since {who['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
