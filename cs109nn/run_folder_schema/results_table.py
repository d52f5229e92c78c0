"""results.csv: its columns and their types (one table), how a cell is written and read back,
and the rows' digest. Reading is strict: a column or a cell the sweep never writes is an error
naming the file, the row and the column, never a guess."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cs109nn.atomic_files import write_atomic
from cs109nn.hyperparameters import HPARAM_NAMES
from cs109nn.run_folder_schema.files import RESULTS, RunFolderFormatError

# The engine's history metrics (curves/<group>.npz); results.csv holds each one's final value.
# Model selection reads the validation split only; test is reported, never chosen by.
CURVE_METRICS = ("train_ll", "train_acc", "val_ll", "val_acc", "test_ll", "test_acc")


class Column(NamedTuple):
    """One column of results.csv. ``kind``: config, member, hparam, size, train_metric,
    val_metric, test_metric, search, divergence or timing."""

    name: str
    type: type  # str, int, float or bool
    kind: str


def _columns(kind: str, type_: type, names: Sequence[str]) -> list[Column]:
    return [Column(name, type_, kind) for name in names]


# The table: every column, in file order, with its type. ``group`` is the group id; schedule is
# the learning rate's kind (its numbers are hparam columns); batch_size is written by
# ``batch_size_cell``; diverged_step is -1 for a member that did not diverge; the
# timings are the group's and differ run to run, so comparisons of results leave them out.
COLUMNS: tuple[Column, ...] = (
    Column("group", str, "config"),
    *_columns("config", str, ("dataset", "model", "optimizer", "schedule", "search")),
    *_columns("config", int, ("steps", "batch_size")),
    *_columns("member", int, ("member", "seed")),
    *_columns("hparam", float, HPARAM_NAMES),
    # the member's own model's parameters (the live ones of its width and depth): derived
    # from the config, so not part of it
    Column("num_params", int, "size"),
    *_columns("train_metric", float, [f"final_{m}" for m in CURVE_METRICS[:2]]),
    *_columns("val_metric", float, [f"final_{m}" for m in CURVE_METRICS[2:4]]),
    *_columns("test_metric", float, [f"final_{m}" for m in CURVE_METRICS[4:]]),
    # the steps the member trained (fewer than ``steps`` for one successive halving stopped)
    # and whether the group's search selected it (by validation, ``cs109nn.selection``)
    Column("steps_trained", int, "search"),
    Column("selected", bool, "search"),
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
VAL_METRICS = _names("val_metric")  # final_val_ll, final_val_acc
TEST_METRICS = _names("test_metric")  # final_test_ll, final_test_acc
# A split some data set of a sweep may lack: its columns exist when any data set has it, and
# are empty for those that have not (the only cells that may be empty).
OPTIONAL_KINDS = ("val_metric", "test_metric")
SEARCH_COLUMNS = _names("search")  # steps_trained, selected
DIVERGENCE_COLUMNS = _names("divergence")
TIMING_COLUMNS = _names("timing")


def results_columns(*, with_test: bool, with_val: bool = True) -> tuple[str, ...]:
    """The header of results.csv: the validation / test columns when some data set of the
    sweep has that split (``OPTIONAL_KINDS``)."""
    left_out = {"val_metric"} - ({"val_metric"} if with_val else set())
    left_out |= {"test_metric"} - ({"test_metric"} if with_test else set())
    return tuple(c.name for c in COLUMNS if c.kind not in left_out)


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
    if text == "" and kind.kind in OPTIONAL_KINDS:
        return None  # a data set without that split
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


def write_results(
    run_dir: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """Replace results.csv atomically with ``columns`` and ``rows`` (cells already formatted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    write_atomic(Path(run_dir) / RESULTS, buffer.getvalue())
