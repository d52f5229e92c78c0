"""Data: the CS109 CSV files, scikit-learn's digits, 2-D sets no line separates, generated
Netflix-like ratings; splits, standardisation and one-hot encoding.

Every loader returns a ``Dataset`` (x float32, y int32) and never prints or downloads.
``load_dataset(spec)`` names any of them by a short string (see ``DATASETS``).
"""

from cs109nn.data.cs109_csv import DataFormatError, load_cs109_csv, load_cs109_dataset
from cs109nn.data.dataset import Dataset, check_dataset
from cs109nn.data.digits import digits
from cs109nn.data.planar import circles, moons, spirals, xor
from cs109nn.data.ratings import ratings, star_ratings
from cs109nn.data.registry import DATASETS, load_dataset
from cs109nn.data.transforms import one_hot, standardize, train_test_split, with_validation

__all__ = [
    "DATASETS",
    "DataFormatError",
    "Dataset",
    "check_dataset",
    "circles",
    "digits",
    "load_cs109_csv",
    "load_cs109_dataset",
    "load_dataset",
    "moons",
    "one_hot",
    "ratings",
    "spirals",
    "standardize",
    "star_ratings",
    "train_test_split",
    "with_validation",
    "xor",
]
