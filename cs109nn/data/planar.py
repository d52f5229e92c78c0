"""Two-dimensional data sets that no line separates (the lecture's ConvNetJS demo).

Logistic regression draws one line; these sets need a hidden layer. Each generator is a pure
function of ``(n, noise, seed)``: all randomness comes from ``np.random.default_rng(seed)``, so
the same arguments give the same bits. Points: x [n, 2] float32 (features ``x1``, ``x2``);
labels: y [n] int32 in {0, 1}; ``round(n * test_fraction)`` of them (stratified) form the test
split.
"""

from __future__ import annotations

import numpy as np

from cs109nn.data.dataset import Dataset
from cs109nn.data.transforms import train_test_split
from cs109nn.errors import ConfigError

FEATURE_NAMES = ("x1", "x2")


def _planar_dataset(
    name: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, test_fraction: float
) -> Dataset:
    """Split points x [n, 2], labels y [n] with a seed drawn from ``rng``."""
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype(np.float32),
        y.astype(np.int32),
        test_fraction,
        seed=int(rng.integers(2**32)),
        stratify=True,
    )
    return Dataset(name, x_train, y_train, x_test, y_test, FEATURE_NAMES, num_classes=2)


def _check(n: int, noise: float) -> None:
    if n < 4:
        raise ConfigError(f"n must be at least 4, got {n}")
    if noise < 0:
        raise ConfigError(f"noise must be non-negative, got {noise}")


def _class_sizes(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def xor(n: int = 400, noise: float = 0.1, seed: int = 0, *, test_fraction: float = 0.25) -> Dataset:
    """XOR: points uniform in [-1, 1]², label 1 where x1 and x2 have opposite signs.

    The label is set on the clean point, then Gaussian noise (std ``noise``) moves it.

    Returns:
      Dataset "xor": x [n_train, 2], [n_test, 2] float32; y int32 in {0, 1}; n_train + n_test = n.
    """
    _check(n, noise)
    rng = np.random.default_rng(seed)
    clean = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (clean[:, 0] * clean[:, 1] < 0).astype(np.int32)
    x = clean + noise * rng.standard_normal((n, 2))
    return _planar_dataset("xor", x, y, rng, test_fraction)


def circles(
    n: int = 400,
    noise: float = 0.1,
    seed: int = 0,
    *,
    factor: float = 0.5,
    test_fraction: float = 0.25,
) -> Dataset:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor`` inside it.

    Angles are uniform; Gaussian noise (std ``noise``) is added to both coordinates.

    Returns:
      Dataset "circles": x [n_train, 2], [n_test, 2] float32; y int32 in {0, 1}.
    """
    _check(n, noise)
    if not 0.0 < factor < 1.0:
        raise ConfigError(f"factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n)
    radius = np.repeat([1.0, factor], sizes)
    angle = rng.uniform(0.0, 2 * np.pi, size=n)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = x + noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], sizes)
    return _planar_dataset("circles", x, y, rng, test_fraction)


def moons(
    n: int = 400, noise: float = 0.1, seed: int = 0, *, test_fraction: float = 0.25
) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons`` shape).

    Class 0: (cos t, sin t); class 1: (1 - cos t, 1/2 - sin t), t uniform in [0, π]; then
    Gaussian noise (std ``noise``).

    Returns:
      Dataset "moons": x [n_train, 2], [n_test, 2] float32; y int32 in {0, 1}.
    """
    _check(n, noise)
    rng = np.random.default_rng(seed)
    n0, n1 = _class_sizes(n)
    t = rng.uniform(0.0, np.pi, size=n)
    t0, t1 = t[:n0], t[n0:]
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], [n0, n1])
    return _planar_dataset("moons", x, y, rng, test_fraction)


def spirals(
    n: int = 400,
    noise: float = 0.05,
    seed: int = 0,
    *,
    turns: float = 1.5,
    test_fraction: float = 0.25,
) -> Dataset:
    """Two interleaved spirals: arm c at angle 2π·turns·r + cπ, radius r in [0.05, 1].

    Radii are drawn so that points spread evenly along each arm's length; Gaussian noise
    (std ``noise``) is added. Successive windings of the two arms are 1/(2·turns) apart.

    Returns:
      Dataset "spirals": x [n_train, 2], [n_test, 2] float32; y int32 in {0, 1}.
    """
    _check(n, noise)
    if turns <= 0:
        raise ConfigError(f"turns must be positive, got {turns}")
    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n)
    y = np.repeat([0, 1], sizes)
    # Arc length of r·e^{iθ} with θ ∝ r grows about like r², so r = sqrt(u) spreads points evenly.
    r = np.sqrt(rng.uniform(0.05**2, 1.0, size=n))
    angle = 2 * np.pi * turns * r + np.pi * y
    x = r[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = x + noise * rng.standard_normal((n, 2))
    return _planar_dataset("spirals", x, y, rng, test_fraction)
