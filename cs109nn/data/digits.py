"""Handwritten digits: scikit-learn's bundled 8×8 images (1797 of them; no download).

The lecture's digit-recognition example at laptop scale. Pixels (0..16 in the source) are
scaled to [0, 1]. Three views: 10 classes, the binary task "digit >= 5" used by the
benchmarks, and either flat [n, 64] rows or [n, 8, 8, 1] images (NHWC, for a conv net).
"""

from __future__ import annotations

import numpy as np

from cs109nn.data.dataset import Dataset
from cs109nn.data.transforms import train_test_split
from cs109nn.errors import ConfigError

IMAGE_SIDE = 8
PIXEL_MAX = 16.0
FEATURE_NAMES = tuple(f"pixel_{r}_{c}" for r in range(IMAGE_SIDE) for c in range(IMAGE_SIDE))


def digits(
    *,
    binary: bool = False,
    images: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    n: int | None = None,
) -> Dataset:
    """scikit-learn's digits, scaled to [0, 1], split stratified by digit with ``seed``.

    Args:
      binary: label 1 for digits 5..9, 0 for 0..4 (two classes) instead of the digit (ten).
      images: x as [n, 8, 8, 1] images instead of flat [n, 64] rows (row-major pixels).
      test_fraction: share of each digit's examples held out for test.
      seed: seed of the split (and of the subsample when ``n`` is given).
      n: use a seeded random subset of n of the 1797 examples.

    Returns:
      Dataset "digits", "digits-binary", "digits-images" (or "digits-binary-images"):
      x_train [n_train, 64] or [n_train, 8, 8, 1] float32 in [0, 1]; y_train [n_train] int32
      in {0..9} or {0, 1}; the same for test; feature names ``pixel_{row}_{col}``.
    """
    # Imported here: scikit-learn takes ~1 s to import, and most users of the package never
    # load digits.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / PIXEL_MAX).astype(np.float32)
    digit = bunch.target.astype(np.int32)
    if n is not None:
        if not 0 < n <= len(digit):
            raise ConfigError(f"n must be in 1..{len(digit)}, got {n}")
        # Its own stream ([seed, 1]), so the subset does not mirror the split's permutation.
        keep = np.sort(np.random.default_rng([seed, 1]).permutation(len(digit))[:n])
        x, digit = x[keep], digit[keep]
    if images:
        x = x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 1)
    # Stratify on the digit even for the binary task, so both splits see every digit.
    x_train, x_test, y_train, y_test = train_test_split(
        x, digit, test_fraction, seed, stratify=True
    )
    if binary:
        y_train, y_test = (y_train >= 5).astype(np.int32), (y_test >= 5).astype(np.int32)
    name = "digits" + ("-binary" if binary else "") + ("-images" if images else "")
    return Dataset(
        name, x_train, y_train, x_test, y_test, FEATURE_NAMES, num_classes=2 if binary else 10
    )
