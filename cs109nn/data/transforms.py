"""Array transforms every data set shares: train/test split, standardisation, one-hot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cs109nn.data.dataset import Dataset
from cs109nn.errors import ConfigError
from cs109nn.lecture.inputs import DataError


def train_test_split(
    x: np.ndarray,
    y: np.ndarray,
    test_fraction: float,
    seed: int,
    *,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split examples at random into train and test, deterministically in ``seed``.

    Args:
      x: [n, ...] inputs; y: [n] labels.
      test_fraction: share of examples in the test split, in [0, 1); the test split gets
        ``round(n * test_fraction)`` examples (per class when ``stratify``).
      seed: seed of ``np.random.default_rng``.
      stratify: keep each class's share of examples the same in both splits.

    Returns:
      ``(x_train, x_test, y_train, y_test)`` (scikit-learn's order): [n_train, ...],
      [n_test, ...], [n_train], [n_test]; within each split, examples keep their original order.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise DataError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
    if not 0.0 <= test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    is_test = np.zeros(n, dtype=bool)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(n)]
    for members in groups:
        n_test = round(len(members) * test_fraction)
        is_test[rng.permutation(members)[:n_test]] = True
    return x[~is_test], x[is_test], y[~is_test], y[is_test]


def with_validation(data: Dataset, fraction: float, seed: int) -> Dataset:
    """``data`` with a validation split carved from its training split: ``round(n * fraction)``
    training examples per class (stratified), chosen by ``seed``; the test split is untouched.

    Model selection reads validation only, so that the test split measures the chosen model
    honestly. ``fraction`` 0 returns ``data`` unchanged; a data set that already has a
    validation split is refused.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {fraction}")
    if data.x_val is not None:
        raise ConfigError(f"data set {data.name!r} already has a validation split")
    if fraction == 0.0:
        return data
    x_train, x_val, y_train, y_val = train_test_split(
        data.x_train, data.y_train, fraction, seed, stratify=True
    )
    if len(y_val) == 0 or len(y_train) == 0:
        raise ConfigError(
            f"data set {data.name!r}: val_fraction={fraction} of {len(data.y_train)} training "
            "examples leaves an empty split"
        )
    return data._replace(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)


def standardize(
    x_train: np.ndarray, x_test: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shift and scale each feature to mean 0, standard deviation 1 on the training split.

    The statistics come from ``x_train`` alone and are applied to both splits, so no
    information leaks from test to train. A constant training column (std 0) is only
    centred, never divided by zero.

    Args:
      x_train: [n, ...] features; statistics over axis 0. x_test: [n_test, ...] or None.

    Returns:
      ``(x_train_std, x_test_std)`` float32 with the input shapes (``None`` stays ``None``).
    """
    train = np.asarray(x_train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    scale = np.where(std > 0, std, 1.0)

    def apply(x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - mean) / scale).astype(np.float32)

    return apply(train), None if x_test is None else apply(x_test)


def one_hot(
    values: Sequence[Any] | np.ndarray,
    num_values: int | None = None,
    *,
    categories: Sequence[Any] | None = None,
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Encode one multi-valued discrete input as k 0/1 columns (the slides' X ∈ {A, B, C}).

    Args:
      values: [n] category of each example: strings, integers, any hashable.
      num_values: for integer codes, k: the categories are 0..k-1 (so a code absent from
        ``values`` still gets its column).
      categories: the k categories, in column order; overrides the default.
        Default: ``range(num_values)`` when given, else the sorted distinct values.

    Returns:
      ``(encoded, categories)``: encoded [n, k] float32 with one 1 per row, in column order
      ``categories``.

    Raises:
      ValueError: a value that is not one of the categories.
    """
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"one_hot expects [n] values, got shape {values.shape}")
        items = values.tolist()  # numpy scalars -> Python values, so categories print plainly
    else:
        items = list(values)
    if categories is None:
        categories = range(num_values) if num_values is not None else sorted(set(items))
    categories = tuple(categories)
    if num_values is not None and len(categories) != num_values:
        raise ValueError(f"num_values={num_values} but {len(categories)} categories given")
    column = {category: j for j, category in enumerate(categories)}
    encoded = np.zeros((len(items), len(categories)), dtype=np.float32)
    for i, value in enumerate(items):
        if value not in column:
            raise ValueError(f"value {value!r} (example {i}) is not one of {list(categories)}")
        encoded[i, column[value]] = 1.0
    return encoded, categories
