"""The CS109 CSV loader, checked against the files read by other means (str.split, loadtxt)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cs109nn.data import DataFormatError, load_cs109_csv, load_cs109_dataset, load_dataset

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cs109"
needs_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"CS109 data files not found at {DATA_DIR}"
)

# (train rows, test rows, features), counted from the files outside the package.
SHAPES = {
    "netflix": (100, 500, 20),
    "heart": (80, 187, 23),
    "ancestry": (283, 184, 20),
    "simple": (4, 4, 2),
}


def _header_by_str_split(path: Path) -> list[str]:
    return path.read_text().splitlines()[0].strip().split(",")


@needs_data
def test_netflix_train_has_100_users_19_movies_and_demographic():
    x, y, names = load_cs109_csv(DATA_DIR / "netflix-train.csv")
    assert x.shape == (100, 20) and x.dtype == np.float32
    assert y.shape == (100,) and y.dtype == np.int32
    assert set(np.unique(y)) <= {0, 1} and len(np.unique(y)) == 2
    assert names[-1] == "Demographic" and "Label" not in names
    assert names[:3] == ("3 Idiots", "Bourne Identity", "Bruce Almighty")


@needs_data
@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("split", ["train", "test"])
def test_loader_matches_header_split_and_loadtxt(name, split):
    path = DATA_DIR / f"{name}-{split}.csv"
    x, y, names = load_cs109_csv(path)
    header = _header_by_str_split(path)
    assert list(names) == header[:-1] and header[-1] == "Label"
    reference = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(x, reference[:, :-1])
    np.testing.assert_array_equal(y, reference[:, -1])
    n_train, n_test, m = SHAPES[name]
    assert x.shape == (n_train if split == "train" else n_test, m)


@needs_data
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_dataset_pairs_the_train_and_test_files(name):
    ds = load_cs109_dataset(DATA_DIR, name)
    n_train, n_test, m = SHAPES[name]
    assert ds.name == name and ds.num_classes == 2
    assert ds.x_train.shape == (n_train, m) and ds.x_test.shape == (n_test, m)
    assert ds.y_train.shape == (n_train,) and ds.y_test.shape == (n_test,)
    assert list(ds.feature_names) == _header_by_str_split(DATA_DIR / f"{name}-test.csv")[:-1]
    reference = np.loadtxt(DATA_DIR / f"{name}-test.csv", delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(ds.y_test, reference[:, -1])


@needs_data
def test_registry_reads_cs109_specs_from_data_dir():
    ds = load_dataset("cs109:heart", data_dir=str(DATA_DIR))
    reference = np.loadtxt(DATA_DIR / "heart-train.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(ds.x_train, reference[:, :-1])


def test_registry_cs109_without_data_dir_says_so():
    with pytest.raises(ValueError, match="data_dir"):
        load_dataset("cs109:netflix")


def test_registry_cs109_rejects_n(tmp_path):
    with pytest.raises(ValueError, match="n=10"):
        load_dataset("cs109:netflix", data_dir=str(tmp_path), n=10)


# --- well-formed variants ---------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "bad-train.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))  # bytes, so "\r\n" and a BOM reach the file as written
    return path


def test_crlf_bom_blank_trailing_lines_and_no_final_newline_are_accepted(tmp_path):
    path = _write(tmp_path, "\ufeffa, b ,Label\r\n1,0.5,1\r\n0,-2,0\r\n\r\n")
    x, y, names = load_cs109_csv(path)
    assert names == ("a", "b")
    np.testing.assert_array_equal(x, np.array([[1, 0.5], [0, -2]], np.float32))
    np.testing.assert_array_equal(y, [1, 0])
    path = _write(tmp_path, "a,Label\n3,0", name="nolf.csv")
    np.testing.assert_array_equal(load_cs109_csv(path)[0], [[3.0]])


# --- every bad input: one DataFormatError naming file, line, column, value ---------------


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("nope-train.csv")):
        load_cs109_csv(tmp_path / "nope-train.csv")


def test_missing_test_file_names_it(tmp_path):
    _write(tmp_path, "a,Label\n1,0\n", name="half-train.csv")
    with pytest.raises(FileNotFoundError, match=re.escape("half-test.csv")):
        load_cs109_dataset(tmp_path, "half")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", r"bad-train\.csv: empty file"),
        ("\n\n", r"bad-train\.csv: empty file"),
        ("a,b,Label\n", r"bad-train\.csv: header only"),
        ("a,b,c\n1,0,1\n", r"bad-train\.csv, line 1: no 'Label' column"),
        ("a,Label,b\n1,0,1\n", r"bad-train\.csv, line 1: 'Label' must be the last column"),
        ("Label,Label\n1,0\n", r"bad-train\.csv, line 1: 'Label' must be the last column"),
        ("Label\n1\n", r"bad-train\.csv, line 1: no feature columns"),
        (
            "a,b,Label\n1,0,1\n0,1,0\n1,yes,1\n",
            r"bad-train\.csv, line 4, column 'b': not a finite number: 'yes'",
        ),
        ("a,b,Label\n1,,1\n", r"bad-train\.csv, line 2, column 'b': not a finite number: ''"),
        ("a,b,Label\n1,nan,1\n", r"bad-train\.csv, line 2, column 'b': not a finite number: 'nan'"),
        (
            "a,b,Label\n1,0,1\n1,0,2\n",
            r"bad-train\.csv, line 3, column 'Label': label must be 0 or 1, got '2'",
        ),
        (
            "a,b,Label\n1,0,0.5\n",
            r"bad-train\.csv, line 2, column 'Label': label must be 0 or 1, got '0.5'",
        ),
        (
            "a,b,Label\n1,0,1\n1,0,1\n1,0\n",
            r"bad-train\.csv, line 4: expected 3 values .*got 2",
        ),
        ("a,b,Label\n1,0,1,1\n", r"bad-train\.csv, line 2: expected 3 values .*got 4"),
    ],
)
def test_bad_file_raises_one_error_naming_file_line_column_value(tmp_path, text, pattern):
    path = _write(tmp_path, text)
    with pytest.raises(DataFormatError, match=pattern):
        load_cs109_csv(path)


def test_line_numbers_count_skipped_blank_lines(tmp_path):
    path = _write(tmp_path, "a,Label\n1,0\n\n1,x\n")
    with pytest.raises(DataFormatError, match=r"line 4, column 'Label'.*'x'"):
        load_cs109_csv(path)


def test_non_utf8_file_is_a_data_format_error(tmp_path):
    path = tmp_path / "bad-train.csv"
    path.write_bytes(b"a,Label\n\xff\xfe,1\n")
    with pytest.raises(DataFormatError, match=r"bad-train\.csv"):
        load_cs109_csv(path)


def test_train_and_test_headers_must_agree(tmp_path):
    _write(tmp_path, "a,b,Label\n1,0,1\n", name="mix-train.csv")
    _write(tmp_path, "a,c,Label\n1,0,1\n", name="mix-test.csv")
    with pytest.raises(DataFormatError, match=r"mix-test\.csv.*differs from.*mix-train\.csv"):
        load_cs109_dataset(tmp_path, "mix")


def test_data_format_error_is_a_value_error():
    assert issubclass(DataFormatError, ValueError)
