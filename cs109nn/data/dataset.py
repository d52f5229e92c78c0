"""The data contract shared by every loader: arrays in, no I/O beyond the loader itself."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Dataset(NamedTuple):
    """A supervised data set, split into train and (optionally) test.

    x_train: [n, *feature_shape] float32; y_train: [n] int32 class labels in {0..K-1}.
    x_test / y_test: the same for the test split, or ``None``.
    feature_names: one name per feature column (flattened order), ``num_classes``: K.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    feature_names: tuple[str, ...]
    num_classes: int = 2
