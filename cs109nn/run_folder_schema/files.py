"""The run folder's files: their names, what a run owns, the lock's names, the error a file
that is not as the sweep writes it raises, digests, and .npz arrays."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cs109nn.atomic_files import write_atomic
from cs109nn.errors import RunError

MANIFEST = "manifest.json"
RESULTS = "results.csv"
CURVES = "curves"
PARAMS = "params"
BOUNDARIES = "boundaries"
PREDICTIONS = "predictions"
# checkpoints/<group_id>/: a long group's state while it trains (cs109nn.train.checkpoints),
# removed when the group finishes; never read by the report
CHECKPOINTS = "checkpoints"
# search/<group_id>.npz: a halving group's rungs or a PBT group's lineage (``SEARCH_ARRAYS``)
SEARCH = "search"
REPORT = "report.md"
FIGURES = "figures"
# /2: validation metrics (final_val_*, val_* curves) and per-group digests in the manifest.
# /3: train_size and the schedule's kind and numbers in results.csv; fitted groups (steps 0);
# predictions/ (save_predictions).
# /4: the group's search in results.csv (search, steps_trained, selected) and search/.
MANIFEST_FORMAT = "cs109nn-run-folder/4"

# Everything a run and its report put in a folder; starting a run over deletes these, nothing
# else (a user's own files in the folder stay).
RUN_FOLDER_ENTRIES = (
    MANIFEST, RESULTS, CURVES, PARAMS, BOUNDARIES, PREDICTIONS, CHECKPOINTS, SEARCH, REPORT,
    FIGURES,
)  # fmt: skip
# The sweep's exclusive lock on the folder, and who holds it (pid, host, since): never deleted
# by a run, never a sign that a folder holds a run.
LOCK = ".cs109nn.lock"
LOCK_OWNER = ".cs109nn.lock.owner"
LOCK_FILES = (LOCK, LOCK_OWNER)


class RunFolderFormatError(RunError, ValueError):
    """A file of a run folder is not as the sweep writes it; the message names where."""


def delete_run(run_dir: str | os.PathLike) -> None:
    """Delete what a run and its report put in ``run_dir`` (``RUN_FOLDER_ENTRIES``) only."""
    for name in RUN_FOLDER_ENTRIES:
        path = Path(run_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def curves_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / CURVES / f"{group_id}.npz"


def params_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / PARAMS / f"{group_id}.npz"


def checkpoints_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / CHECKPOINTS / group_id


def search_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / SEARCH / f"{group_id}.npz"


# The searches of a group's members (results.csv's ``search``): none -- every member trains all
# its steps (a grid, or random search over the draws); grid -- the distribution fields' space
# laid out as a grid of ``samples`` points instead of random draws, every point trained fully;
# halving -- successive halving; pbt -- population-based training. The last two select a member
# of their own (only it stands for a config) and write search/<group_id>.npz.
SEARCHES = ("none", "grid", "halving", "pbt")
# What search/<group_id>.npz holds, per search kind that writes one (``SELECTING_SEARCHES``):
# halving -- the step each rung ended at [R] and, per rung and member [R, M], whether it ran,
# whether it was kept for the next rung, its validation accuracy and LL at the rung's end (NaN
# where it did not run); pbt -- the step after which each exploit happened [G - 1], whom each
# member copied then [G - 1, M] (-1: none) and each hyperparameter per generation and member,
# hp_<name> [G, M].
SEARCH_ARRAYS = {
    "halving": ("rung_stop_step", "rung_ran", "rung_kept", "rung_val_acc", "rung_val_ll"),
    "pbt": ("exploit_step", "source"),  # and hp_<name> for every hyperparameter
}
SELECTING_SEARCHES = tuple(SEARCH_ARRAYS)


def boundaries_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / BOUNDARIES / f"{group_id}.npz"


def predictions_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / PREDICTIONS / f"{group_id}.npz"


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (a group's curves, params, boundary grids and predictions,
    recorded in the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """An .npz of ``arrays`` (no pickled objects), written atomically; folders are created."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(array) for name, array in arrays.items()})
    write_atomic(path, buffer.getvalue())


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """An .npz as name -> array (no pickled objects are read)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: np.asarray(data[name]) for name in data.files}
