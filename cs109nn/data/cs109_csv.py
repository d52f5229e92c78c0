"""The CS109 CSV format: a header row, one column per feature, the binary label last.

Every CS109 problem-set data set (netflix, heart, ancestry, simple) is a pair of files
``{name}-train.csv`` and ``{name}-test.csv``: a header row of column names, then one row per
example; every column but the last is a feature (``Demographic`` included) and the last column,
named ``Label``, is the class in {0, 1}. A malformed file raises one ``DataFormatError`` that
names the file and, where it applies, the 1-based line, the column and the offending value.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from cs109nn.data.dataset import Dataset
from cs109nn.lecture.inputs import DataError

LABEL_COLUMN = "Label"


class DataFormatError(DataError):
    """A data file that does not follow its format; the message names file, row and column."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file the user named is not there (or is a folder); the message names the path."""


def _parse_number(text: str) -> float | None:
    """``float(text)`` for a finite number, else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def load_cs109_csv(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read one CS109 CSV file.

    Args:
      path: a CSV file whose header names the features and ends with ``Label``.

    Returns:
      ``(X, y, feature_names)``: X [n, m] float32 features, y [n] int32 labels in {0, 1},
      and the m feature names in column order (the header without ``Label``).

    Raises:
      FileNotFoundError: the file does not exist (the message names the path).
      DataFormatError: empty file or header only, no ``Label`` column or ``Label`` not last,
        a ragged row, a cell that is not a finite number, or a label outside {0, 1}.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise DataFileNotFoundError(f"CS109 data file {what}: {path}")
    # utf-8-sig drops a byte-order mark; newline="" lets csv handle CRLF files.
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            # reader.line_num: the file line where the record ends (1-based); blank lines skipped.
            rows = [(reader.line_num, row) for row in reader if row]
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataFormatError(f"{path}: not a readable UTF-8 CSV file ({error})") from error
    if not rows:
        raise DataFormatError(f"{path}: empty file (expected a header row ending in 'Label')")

    header_line, header = rows[0]
    names = [name.strip() for name in header]
    if LABEL_COLUMN not in names:
        raise DataFormatError(
            f"{path}, line {header_line}: no '{LABEL_COLUMN}' column in header {names}"
        )
    if names[-1] != LABEL_COLUMN or names.count(LABEL_COLUMN) > 1:
        raise DataFormatError(
            f"{path}, line {header_line}: '{LABEL_COLUMN}' must be the last column, "
            f"and only once; header is {names}"
        )
    if len(names) < 2:
        raise DataFormatError(f"{path}, line {header_line}: no feature columns before 'Label'")
    if len(rows) == 1:
        raise DataFormatError(f"{path}: header only, no data rows")

    width = len(names)
    x = np.empty((len(rows) - 1, width - 1), dtype=np.float32)
    y = np.empty(len(rows) - 1, dtype=np.int32)
    for i, (line, row) in enumerate(rows[1:]):
        if len(row) != width:
            raise DataFormatError(
                f"{path}, line {line}: expected {width} values (one per header column), "
                f"got {len(row)}"
            )
        for j, (name, cell) in enumerate(zip(names, row, strict=True)):
            value = _parse_number(cell)
            if value is None:
                raise DataFormatError(
                    f"{path}, line {line}, column '{name}': not a finite number: {cell!r}"
                )
            if j < width - 1:
                x[i, j] = value
            elif value in (0.0, 1.0):
                y[i] = int(value)
            else:
                raise DataFormatError(
                    f"{path}, line {line}, column '{name}': label must be 0 or 1, got {cell!r}"
                )
    return x, y, tuple(names[:-1])


def load_cs109_dataset(data_dir: str | os.PathLike[str], name: str) -> Dataset:
    """Read ``{data_dir}/{name}-train.csv`` and ``{data_dir}/{name}-test.csv``.

    Returns:
      a binary ``Dataset`` named ``name``: x_train [n, m] float32, y_train [n] int32,
      x_test [n_test, m], y_test [n_test], the m feature names from the header.

    Raises:
      FileNotFoundError / DataFormatError as ``load_cs109_csv``; DataFormatError also when the
      two files' headers differ.
    """
    data_dir = Path(data_dir)
    train_path = data_dir / f"{name}-train.csv"
    test_path = data_dir / f"{name}-test.csv"
    x_train, y_train, names = load_cs109_csv(train_path)
    x_test, y_test, test_names = load_cs109_csv(test_path)
    if test_names != names:
        raise DataFormatError(
            f"{test_path}: header {list(test_names)} differs from {train_path}: {list(names)}"
        )
    return Dataset(name, x_train, y_train, x_test, y_test, names, num_classes=2)
