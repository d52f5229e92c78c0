"""Handwritten digits: scikit-learn's bundled 8×8 images (1797 of them; no download).

The lecture's digit-recognition example at laptop scale. Pixels (0..16 in the source) are
scaled to [0, 1]. Three views: 10 classes, the binary task "digit >= 5" used by the
benchmarks, a binary pair of digits (the slides' "0 vs 1", the harder "3 vs 8"), and either
flat [n, 64] rows or [n, 8, 8, 1] images (NHWC, for a conv net).
"""

from __future__ import annotations

import re

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
    pair: tuple[int, int] | None = None,
    images: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    n: int | None = None,
) -> Dataset:
    """scikit-learn's digits, scaled to [0, 1], split stratified by digit with ``seed``.

    Args:
      binary: label 1 for digits 5..9, 0 for 0..4 (two classes) instead of the digit (ten).
      pair: ``(a, b)``, two different digits: only their images, label 0 for ``a`` and 1 for
        ``b`` (two classes); not with ``binary``.
      images: x as [n, 8, 8, 1] images instead of flat [n, 64] rows (row-major pixels).
      test_fraction: share of each digit's examples held out for test.
      seed: seed of the split (and of the subsample when ``n`` is given).
      n: use a seeded random subset of n of the 1797 examples (of the pair's, with ``pair``).

    Returns:
      Dataset "digits", "digits-binary", "digits:{a}v{b}", each with "-images" for images:
      x_train [n_train, 64] or [n_train, 8, 8, 1] float32 in [0, 1]; y_train [n_train] int32
      in {0..9} or {0, 1}; the same for test; feature names ``pixel_{row}_{col}``.
    """
    if pair is not None and (binary or len(set(pair)) != 2 or not set(pair) <= set(range(10))):
        raise ConfigError(f"pair must be two different digits 0..9, not with binary; got {pair}")
    # Imported here: scikit-learn takes ~1 s to import, and most users of the package never
    # load digits.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / PIXEL_MAX).astype(np.float32)
    digit = bunch.target.astype(np.int32)
    if pair is not None:
        keep = np.isin(digit, pair)
        x, digit = x[keep], digit[keep]
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
    if pair is not None:
        y_train, y_test = ((y == pair[1]).astype(np.int32) for y in (y_train, y_test))
    name = "digits" + ("-binary" if binary else "") + (f":{pair[0]}v{pair[1]}" if pair else "")
    name += "-images" if images else ""
    two = binary or pair is not None
    return Dataset(
        name, x_train, y_train, x_test, y_test, FEATURE_NAMES, num_classes=2 if two else 10
    )


def digit_class_names(name: str) -> tuple[str, ...] | None:
    """What each class of the digits data set called ``name`` is, in words a figure can print:
    ``("0", ..., "9")``, ``("0-4", "5-9")`` for ``digits-binary``, ``("3", "8")`` for
    ``digits:3v8``; None for a name that is not one of :func:`digits`'s."""
    base = name.removesuffix("-images")
    if base == "digits":
        return tuple(str(digit) for digit in range(10))
    if base == "digits-binary":
        return ("0-4", "5-9")
    pair = re.fullmatch(r"digits:(\d)v(\d)", base)
    return (pair[1], pair[2]) if pair else None
