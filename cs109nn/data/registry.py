"""Data sets by short name, so that a sweep spec or the command line can say ``data: moons``.

``load_dataset("moons", seed=3, n=1000)`` → ``planar.moons(n=1000, seed=3)``. Specs:

- ``digits`` (10 classes, x [n, 64]), ``digits-binary`` (digit >= 5), ``digits-images``
  (10 classes, x [n, 8, 8, 1]): scikit-learn's bundled digits; ``seed`` picks the split.
- ``digits:AvB`` (e.g. ``digits:3v8``): the images of digits A and B only, label 1 for B.
- ``xor``, ``circles``, ``moons``, ``spirals``: 2-D sets no line separates; ``n`` points.
- ``ratings``: generated Netflix-like five-star task; ``n`` users.
- ``cs109:NAME`` (netflix, heart, ancestry, simple): ``{data_dir}/NAME-{train,test}.csv``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cs109nn.data.cs109_csv import load_cs109_dataset
from cs109nn.data.dataset import Dataset, check_dataset
from cs109nn.data.digits import digits
from cs109nn.data.planar import circles, moons, spirals, xor
from cs109nn.data.ratings import ratings
from cs109nn.data.transforms import with_validation
from cs109nn.errors import ConfigError

CS109_PREFIX = "cs109:"
CS109_NAMES = ("netflix", "heart", "ancestry", "simple")
# digits:AvB, a binary pair of digits (the slides' "0 vs 1"); ':' keeps the name apart from the
# '-'-joined view names, and plan ids and figure names sanitise it to '_'.
DIGIT_PAIR = re.compile(r"^digits:(\d)v(\d)$")

Builder = Callable[[int, int | None], Dataset]


def _sized(make: Callable[..., Dataset]) -> Builder:
    """A builder (seed, n) for a generator ``make(n=..., seed=...)``; n=None keeps its default."""

    def build(seed: int, n: int | None) -> Dataset:
        return make(seed=seed) if n is None else make(n=n, seed=seed)

    return build


_BUILDERS: dict[str, Builder] = {
    "digits": lambda seed, n: digits(seed=seed, n=n),
    "digits-binary": lambda seed, n: digits(binary=True, seed=seed, n=n),
    "digits-images": lambda seed, n: digits(images=True, seed=seed, n=n),
    "xor": _sized(xor),
    "circles": _sized(circles),
    "moons": _sized(moons),
    "spirals": _sized(spirals),
    "ratings": _sized(ratings),
}

DATASETS: tuple[str, ...] = (*_BUILDERS, *(CS109_PREFIX + name for name in CS109_NAMES))


def load_dataset(
    spec: str,
    *,
    data_dir: str | None = None,
    seed: int = 0,
    n: int | None = None,
    val_fraction: float = 0.0,
) -> Dataset:
    """Load the data set named by ``spec`` (one of ``DATASETS``, ``cs109:NAME``, ``digits:AvB``).

    Args:
      spec: the data set's short name, e.g. ``"moons"``, ``"digits-binary"``, ``"cs109:heart"``.
      data_dir: folder of the CS109 CSV files; required for ``cs109:NAME``.
      seed: seed of generation and split (the CS109 files come split and ignore it).
      n: number of examples before the split (users for ``ratings``, a subset for digits);
        None for the default. The CS109 files are fixed, so ``n`` must be None for them.
      val_fraction: share of the training split carved off as a validation split (stratified,
        by ``seed``; ``with_validation``); 0 for none. CS109's files keep their test file.

    Returns:
      the ``Dataset``: x_train [n_train, ...] float32, y_train [n_train] int32, test the same.

    Raises:
      ValueError: unknown spec (the message lists the known ones), ``cs109:`` without a
        ``data_dir``, or ``n`` with a CS109 file.
      FileNotFoundError, DataFormatError: from reading the CS109 files.
    """
    if spec.startswith(CS109_PREFIX):
        name = spec[len(CS109_PREFIX) :]
        if not name:
            raise ConfigError(f"{spec!r}: name the data set, e.g. 'cs109:netflix'")
        if data_dir is None:
            raise ConfigError(
                f"{spec!r} is read from {name}-train.csv and {name}-test.csv: pass data_dir"
            )
        if n is not None:
            raise ConfigError(f"{spec!r} is a fixed file pair; n={n} cannot resize it")
        return check_dataset(
            with_validation(load_cs109_dataset(data_dir, name), val_fraction, seed)
        )
    if (pair := DIGIT_PAIR.match(spec)) is not None:
        a, b = int(pair[1]), int(pair[2])
        if a == b:
            raise ConfigError(f"data set {spec!r}: a pair needs two different digits")
        made = digits(pair=(a, b), seed=seed, n=n)
        return check_dataset(with_validation(made, val_fraction, seed))
    if spec not in _BUILDERS:
        raise ConfigError(
            f"unknown data set {spec!r}; known: {', '.join(DATASETS)} "
            f"(or cs109:NAME for any NAME-train.csv / NAME-test.csv in data_dir, or digits:AvB "
            "for two different digits A, B, e.g. digits:3v8)"
        )
    return check_dataset(with_validation(_BUILDERS[spec](seed, n), val_fraction, seed))
