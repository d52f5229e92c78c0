"""The run folder's schema: its files, results.csv's columns and their types, how a cell is
written and read back, the manifest and the .npz arrays. The one place of these facts, read by
the sweep (which writes a folder) and the report (which reads one); free of JAX.

::

    RUN_DIR/
      manifest.json         format, resolved config and its hash, the plan, the environment
                            (versions, numerics flags, backend and devices, process count, git
                            commit) of the session that started the run, started/finished;
                            ``sessions``: each invocation (a resume is one) with its environment,
                            start, end (null if killed) and the groups it trained
      results.csv           one row per trained member (``results_columns``)
      curves/<group>.npz    per group: eval_steps [T], each history metric [M, T], member, seed,
                            each hyperparameter, diverged, diverged_step [M]
      params/<group>.npz    per group, when ``save_params``: flattened params, leading axis [M]
      report.md, figures/   the report (``cs109nn report``), regenerated from the rest

Cells are written so that they read back exactly: floats as ``repr(float(x))`` (a float32
value reads back as the float64 holding exactly that value), booleans as True/False, absent
values as empty cells. Reading is strict: a column or a cell the sweep never writes is an
error naming the file, the row and the column, never a guess.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cs109nn.atomic_files import write_atomic
from cs109nn.errors import RunError
from cs109nn.hyperparameters import HPARAM_NAMES

MANIFEST = "manifest.json"
RESULTS = "results.csv"
CURVES = "curves"
PARAMS = "params"
REPORT = "report.md"
FIGURES = "figures"
MANIFEST_FORMAT = "cs109nn-run-folder/1"

# Everything a run and its report put in a folder; starting a run over deletes these, nothing
# else (a user's own files in the folder stay).
RUN_FOLDER_ENTRIES = (MANIFEST, RESULTS, CURVES, PARAMS, REPORT, FIGURES)
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


# --- results.csv ---------------------------------------------------------------------------

# The engine's history metrics (curves/<group>.npz); results.csv holds each one's final value.
CURVE_METRICS = ("train_ll", "train_acc", "test_ll", "test_acc")


class Column(NamedTuple):
    """One column of results.csv. ``kind``: config, member, hparam, train_metric, test_metric,
    divergence or timing."""

    name: str
    type: type  # str, int, float or bool
    kind: str


def _columns(kind: str, type_: type, names: Sequence[str]) -> list[Column]:
    return [Column(name, type_, kind) for name in names]


# The table: every column, in file order, with its type. ``group`` is the group id; batch_size
# is written by ``batch_size_cell``; diverged_step is -1 for a member that did not diverge; the
# timings are the group's and differ run to run, so comparisons of results leave them out.
COLUMNS: tuple[Column, ...] = (
    Column("group", str, "config"),
    *_columns("config", str, ("dataset", "model", "optimizer")),
    *_columns("config", int, ("steps", "batch_size")),
    *_columns("member", int, ("member", "seed")),
    *_columns("hparam", float, HPARAM_NAMES),
    *_columns("train_metric", float, [f"final_{m}" for m in CURVE_METRICS[:2]]),
    *_columns("test_metric", float, [f"final_{m}" for m in CURVE_METRICS[2:]]),
    Column("diverged", bool, "divergence"),
    Column("diverged_step", int, "divergence"),
    *_columns("timing", float, ("group_wall_s", "group_compile_s")),
)
_BY_NAME = {column.name: column for column in COLUMNS}


def _names(*kinds: str) -> tuple[str, ...]:
    return tuple(column.name for column in COLUMNS if column.kind in kinds)


CONFIG_COLUMNS = _names("config")
MEMBER_COLUMNS = _names("member")
TRAIN_METRICS = _names("train_metric")  # final_train_ll, final_train_acc
TEST_METRICS = _names("test_metric")  # final_test_ll, final_test_acc
DIVERGENCE_COLUMNS = _names("divergence")
TIMING_COLUMNS = _names("timing")


def results_columns(*, with_test: bool) -> tuple[str, ...]:
    """The header of results.csv. The test columns exist when some data set of the sweep has a
    test split; they are empty for one that has not (the only cells that may be empty)."""
    return tuple(c.name for c in COLUMNS if with_test or c.kind != "test_metric")


def batch_size_cell(batch_size: int | None) -> int:
    """The one place of the encoding: full batch is ``None`` in Python, 0 in the file."""
    return 0 if batch_size is None else int(batch_size)


def batch_size_from_cell(cell: int) -> int | None:
    """The inverse of :func:`batch_size_cell`."""
    return None if cell == 0 else cell


def format_value(value: Any) -> str:
    """One results.csv cell: exact and readable back by pandas without cleaning."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        # the shortest text that reads back (as float64, as pandas and Python read it) to
        # exactly the value computed: equal text is equal bits, and nothing is rounded
        return repr(float(value))
    return str(value)


def parse_cell(column: str, text: str) -> str | int | float | bool | None:
    """A results.csv cell as its column's type: the inverse of :func:`format_value`.

    Raises ValueError for an unknown column, and for a cell ``format_value`` does not write
    (``3.0`` in an int column, ``yes`` for a bool, ``1e-1`` for 0.1, an empty config cell).
    """
    if column not in _BY_NAME:
        raise ValueError(f"unknown column {column!r}")
    kind = _BY_NAME[column]
    if text == "" and kind.kind == "test_metric":
        return None  # a data set without a test split
    value: Any = None
    if kind.type is str:
        value = text or None
    elif kind.type is bool:
        value = {"True": True, "False": False}.get(text)
    else:
        try:
            value = kind.type(text)
        except ValueError:
            value = None
        if format_value(value) != text:
            value = None  # a number, but not as the sweep writes it ("3.0" for 3, "1e-1")
    if value is None:
        raise ValueError(f"column {column!r}: {text!r} is not a {kind.type.__name__} cell")
    return value


def read_results(run_dir: str | os.PathLike) -> tuple[tuple[str, ...], list[list[str]]]:
    """results.csv as (header, rows of cells as written), for exact comparison; ``((), [])``
    when there is none."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return (), []
    with open(path, newline="", encoding="utf-8") as file:
        lines = list(csv.reader(file))
    return (tuple(lines[0]), lines[1:]) if lines else ((), [])


def read_typed_results(run_dir: str | os.PathLike) -> tuple[tuple[str, ...], list[dict]]:
    """results.csv as (header, rows of column -> typed value), in file order; ``((), [])`` when
    there is none. Raises :class:`RunFolderFormatError` naming the file, row and column of
    anything the sweep does not write."""
    path = Path(run_dir) / RESULTS
    header, rows = read_results(run_dir)
    if not header:
        return (), []
    if header not in (results_columns(with_test=True), results_columns(with_test=False)):
        unknown = [name for name in header if name not in _BY_NAME]
        missing = [name for name in results_columns(with_test=False) if name not in header]
        raise RunFolderFormatError(
            f"{path}: header is not results.csv's (unknown columns: {unknown}, missing: "
            f"{missing}); expected {list(results_columns(with_test=True))}"
        )
    typed = []
    for number, row in enumerate(rows, start=1):
        try:
            if len(row) != len(header):
                raise ValueError(f"{len(row)} cells, expected {len(header)}")
            typed.append({name: parse_cell(name, row[k]) for k, name in enumerate(header)})
        except ValueError as error:
            where = f"{path}, row {number} (line {number + 1})"
            raise RunFolderFormatError(f"{where}: {error}") from None
    return header, typed


def rows_digest(rows: Sequence[Sequence[str]]) -> str:
    """sha256 of rows of cells as results.csv holds them: a group's fingerprint in the manifest,
    so that a resumed run can tell a group's rows are the ones it wrote."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (a group's curves and params, recorded in the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_results(
    run_dir: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """Replace results.csv atomically with ``columns`` and ``rows`` (cells already formatted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    write_atomic(Path(run_dir) / RESULTS, buffer.getvalue())


# --- manifest.json -------------------------------------------------------------------------


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


# --- curves/<group>.npz and params/<group>.npz ---------------------------------------------

# The per-member arrays [M] of a curves file besides the history metrics [M, T].
CURVE_MEMBER_ARRAYS = ("member", "seed", *HPARAM_NAMES, "diverged", "diverged_step")


class Curves(NamedTuple):
    """One group's learning curves, members in the group's member order.

    ``eval_steps: [T]``; ``metrics[name]: [M, T, ...]`` for each history metric of the file
    (``CURVE_METRICS``, and gradient statistics when the sweep recorded them); ``members[name]:
    [M]`` for each of ``CURVE_MEMBER_ARRAYS``.
    """

    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    members: dict[str, np.ndarray]

    def member_curve(self, member: int, metric: str) -> np.ndarray | None:
        """``[T]`` curve of ``metric`` for member index ``member``, or None if absent."""
        positions = np.flatnonzero(self.members["member"] == member)
        if metric not in self.metrics or positions.size == 0:
            return None
        return self.metrics[metric][positions[0]]


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """An .npz of ``arrays`` (no pickled objects), written atomically; folders are created."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(array) for name, array in arrays.items()})
    write_atomic(path, buffer.getvalue())


def read_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """An .npz as name -> array (no pickled objects are read)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: np.asarray(data[name]) for name in data.files}


def write_curves(
    run_dir: str | os.PathLike,
    group_id: str,
    eval_steps: np.ndarray,
    metrics: Mapping[str, np.ndarray],
    members: Mapping[str, np.ndarray],
) -> None:
    """``curves/<group_id>.npz``: ``eval_steps [T]``, ``metrics`` (name -> [M, T, ...]) and
    ``members`` (each of ``CURVE_MEMBER_ARRAYS`` but ``member``, which is 0..M-1 -> [M]);
    checked as :func:`read_curves` checks it before anything is written."""
    path = curves_path(run_dir, group_id)
    arrays = {"eval_steps": eval_steps, "member": np.arange(len(members["seed"]))}
    arrays.update({**members, **metrics})
    _checked_curves(path, {name: np.asarray(array) for name, array in arrays.items()})
    write_arrays(path, arrays)


def read_curves(path: str | os.PathLike) -> Curves:
    """One curves file, checked: ``eval_steps [T]``, every array of ``CURVE_MEMBER_ARRAYS``
    [M], every other array [M, T, ...]; raises :class:`RunFolderFormatError` naming the file
    and the array."""
    return _checked_curves(path, read_arrays(path))


def _checked_curves(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Curves:
    missing = [name for name in ("eval_steps", *CURVE_MEMBER_ARRAYS) if name not in arrays]
    if missing:
        raise RunFolderFormatError(f"{path}: no array {missing[0]!r}")
    metrics = dict(arrays)
    eval_steps = metrics.pop("eval_steps")
    members = {name: metrics.pop(name) for name in CURVE_MEMBER_ARRAYS}
    steps, size = len(eval_steps), len(members["member"])
    shapes = [("eval_steps", eval_steps, (steps,), True)]
    shapes += [(name, array, (size,), True) for name, array in members.items()]
    shapes += [(name, array, (size, steps), False) for name, array in metrics.items()]
    for name, array, expected, exact in shapes:
        found = array.shape if exact else array.shape[:2]
        if found != expected:
            raise RunFolderFormatError(f"{path}: {name!r} has shape {array.shape}, not {expected}")
    return Curves(eval_steps=eval_steps, metrics=metrics, members=members)
