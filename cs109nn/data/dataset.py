"""The data contract shared by every loader: arrays in, no I/O beyond the loader itself."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from cs109nn.lecture.inputs import DataError, check_examples


class Dataset(NamedTuple):
    """A supervised data set, split into train, (optionally) validation and (optionally) test.

    x_train: [n, *feature_shape] float32; y_train: [n] int32 class labels in {0..K-1}.
    x_test / y_test: the same for the test split, or ``None``; x_val / y_val: the validation
    split, carved from the training split by ``with_validation`` (what model selection reads;
    the test split is only reported), or ``None``.
    feature_names: one name per feature column (flattened order), ``num_classes``: K.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    feature_names: tuple[str, ...]
    num_classes: int = 2
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


def check_dataset(data: Dataset, *, num_classes: int | None = None) -> Dataset:
    """``data``, checked as the slides' inputs (``cs109nn.lecture.inputs.check_examples``):
    each split's shapes, finiteness and labels in {0, ..., K-1}, with K = ``num_classes``
    (a model's head; default the data set's own), the test split's features shaped like the
    training split's, and one feature name per feature. A single-class training split warns
    (``OneClassWarning``). Raises ``DataError`` naming the data set, the split and what is wrong.
    """
    k = data.num_classes if num_classes is None else num_classes
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise DataError(f"data set {data.name!r}: num_classes must be an integer >= 2, got {k!r}")
    where = f"data set {data.name!r}"
    check_examples(data.x_train, data.y_train, num_classes=k, source=where,
                   names=("x_train", "y_train"))  # fmt: skip
    for split in ("val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if (x is None) != (y is None):
            raise DataError(f"{where}: x_{split} and y_{split} must both be given or both None")
        if x is None:
            continue
        check_examples(x, y, num_classes=k, source=where, names=(f"x_{split}", f"y_{split}"),
                       warn_one_class=False)  # fmt: skip
        train_features, features = np.shape(data.x_train)[1:], np.shape(x)[1:]
        if train_features != features:
            raise DataError(
                f"{where}: x_{split} has feature shape {features}, x_train {train_features}"
            )
    features = math.prod(np.shape(data.x_train)[1:])
    if data.feature_names and len(data.feature_names) != features:
        raise DataError(f"{where}: {len(data.feature_names)} feature names for {features} features")
    return data
