"""Random search: a hyperparameter drawn from a distribution instead of listed on a grid.

A hyperparameter field of a :class:`~cs109nn.sweep.SweepSpec` holds either grid values (a
tuple) or one distribution, written as a call -- in an experiment file, a ``--set`` override and
the stored config alike:

- ``loguniform(low, high)``: log-uniform on [low, high], low > 0 (its log is uniform);
- ``uniform(low, high)``: uniform on [low, high];
- ``choice(a, b, ...)``: one of the values, each equally likely.

The spec's ``samples`` says how many joint draws of its distribution fields to make and
``search_seed`` seeds them; each draw is a hyperparameter point, combined as a product with the
grid fields, and every point trains once per seed (seeds vary fastest, then samples, then the
grid: ``cs109nn.sweep.plan``). For example, 2 optimizers' groups of 3 grid points x 16 draws x
4 seeds = 192 members each::

    SweepSpec(
        models=("mlp:16:relu",),
        optimizers=("sgd", "adam"),
        init_scale=(0.5, 1.0, 2.0),  # a grid
        learning_rate="loguniform(1e-3, 1)",  # drawn
        momentum="choice(0, 0.5, 0.9)",  # drawn
        samples=16,
        search_seed=0,
        seeds=(0, 1, 2, 3),
    )

or on the command line ``--set learning_rate='loguniform(1e-3,1)' --set samples=16``.

Draws are made once, on the host, in float64, by numpy's PCG64 -- so they are the same on any
number of devices or processes, and the stored config (the manifest's) reproduces them. Each
draw is the inverse CDF of one uniform number, and each field has its own stream, seeded by the
search seed and the field's name: adding a distribution on one field leaves the draws of the
others as they were, and more samples extend the draws instead of replacing them. A
distribution's bounds (a choice's values) must lie in the hyperparameter's range (``RANGES``),
both ends included, so that no draw can leave it.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import check_hyperparameter

Args = tuple[float, ...]


def _check_interval(kind: str, args: Args) -> None:
    if len(args) != 2:
        raise ConfigError(f"{kind} takes two numbers, low and high; got {len(args)}")
    low, high = args
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError(f"{kind} needs finite bounds, got low={low!r}, high={high!r}")
    if not low < high:
        raise ConfigError(f"{kind} needs low < high, got low={low!r}, high={high!r}")


def _check_loguniform(args: Args) -> None:
    _check_interval("loguniform", args)
    if args[0] <= 0:  # log(low) must exist
        raise ConfigError(f"loguniform needs low > 0 (its log is uniform), got low={args[0]!r}")


def _check_choice(args: Args) -> None:
    if not args:
        raise ConfigError("choice needs at least one value")
    if len(set(args)) != len(args):  # a value twice would be drawn twice as often
        raise ConfigError(f"choice repeats a value: {args}")


def _uniform(args: Args, u: np.ndarray) -> np.ndarray:
    low, high = args
    return np.clip(low + (high - low) * u, low, high)  # the clip: rounding, never more


def _loguniform(args: Args, u: np.ndarray) -> np.ndarray:
    low, high = args
    # exp(log(low)) may round below low: clipped, so that the bounds' range check holds
    return np.clip(np.exp(np.log(low) + (np.log(high) - np.log(low)) * u), low, high)


def _choice(args: Args, u: np.ndarray) -> np.ndarray:
    index = np.minimum((u * len(args)).astype(np.int64), len(args) - 1)
    return np.asarray(args, np.float64)[index]


class _Kind(NamedTuple):
    check: Callable[[Args], None]  # raises ConfigError for arguments the kind cannot take
    quantile: Callable[[Args, np.ndarray], np.ndarray]  # uniform [0, 1) -> the distribution


# The kinds of distribution, the one place of their names.
_KINDS: dict[str, _Kind] = {
    "loguniform": _Kind(_check_loguniform, _loguniform),
    "uniform": _Kind(lambda args: _check_interval("uniform", args), _uniform),
    "choice": _Kind(_check_choice, _choice),
}
KINDS: tuple[str, ...] = tuple(_KINDS)
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_CALL_START = re.compile(r"^\s*[A-Za-z_]\w*\s*\(")


@dataclass(frozen=True)
class Distribution:
    """One hyperparameter's distribution: ``kind`` (one of ``KINDS``) and its numbers.

    ``str()`` is its canonical form, ``kind(a,b)`` with each number as Python's ``repr`` of a
    float (``loguniform(0.001,1.0)``): the form the stored config holds, so that equal
    distributions hash alike. Raises ConfigError for an unknown kind or arguments it cannot
    take.
    """

    kind: str
    args: Args

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"unknown distribution {self.kind!r}; valid: {', '.join(KINDS)}")
        args = tuple(float(arg) for arg in self.args)
        if any(math.isnan(arg) for arg in args):
            raise ConfigError(f"{self.kind}: NaN is not a hyperparameter value")
        _KINDS[self.kind].check(args)
        object.__setattr__(self, "args", args)

    def __str__(self) -> str:
        return f"{self.kind}({','.join(repr(arg) for arg in self.args)})"

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """The values at quantiles ``u`` (uniform in [0, 1)) [S] -> [S], float64."""
        return _KINDS[self.kind].quantile(self.args, np.asarray(u, np.float64))


def looks_like_distribution(text: str) -> bool:
    """True for text written as a call (``name(...)``): a distribution, or a malformed one
    whose error should say so, rather than grid values."""
    return bool(_CALL_START.match(text))


def parse_distribution(value: str | Distribution) -> Distribution:
    """A distribution from its written form (``"loguniform(1e-3, 1)"``); raises ConfigError
    naming the text and the valid kinds."""
    if isinstance(value, Distribution):
        return value
    match = _CALL.match(value)
    if match is None:
        raise ConfigError(
            f"{value!r} is neither grid values nor a distribution: write a tuple of values, or "
            f"one of {', '.join(f'{kind}(...)' for kind in KINDS)}"
        )
    kind, inner = match.group(1), match.group(2).strip()
    try:
        args = tuple(float(arg) for arg in inner.split(",")) if inner else ()
    except ValueError:
        raise ConfigError(f"{value!r}: the arguments must be numbers") from None
    return Distribution(kind, args)


def check_distribution(name: str, distribution: Distribution) -> None:
    """Raise ConfigError naming ``name``, the distribution and the first of its bounds (a
    choice's values) outside the hyperparameter's range: the draws reach both bounds."""
    try:
        check_hyperparameter(name, distribution.args)
    except ConfigError as error:
        raise ConfigError(f"{name}={distribution}: {error}") from None


def draw_samples(
    distributions: Mapping[str, Distribution], samples: int, search_seed: int
) -> dict[str, np.ndarray]:
    """``samples`` draws of each distribution: name -> [samples] float64, reproducible from
    ``search_seed`` (a non-negative int) alone. Each name draws from its own stream, so a
    field's draws do not depend on the other fields; raises ConfigError naming a field whose
    draw is outside its range (``check_hyperparameter``)."""
    drawn = {}
    for name, distribution in distributions.items():
        values = distribution.quantile(_stream(search_seed, name).random(samples))
        try:
            check_hyperparameter(name, values)
        except ConfigError as error:
            raise ConfigError(f"{name}={distribution}: {error}") from None
        drawn[name] = values
    return drawn


def _stream(search_seed: int, name: str) -> np.random.Generator:
    # keyed by the name's crc32, not its position, so that a new hyperparameter leaves old
    # specs' draws as they were
    key = np.random.SeedSequence([search_seed, zlib.crc32(name.encode("utf-8"))])
    return np.random.Generator(np.random.PCG64(key))


def points_per_field(num_fields: int, samples: int) -> int | None:
    """k with ``k ** num_fields == samples`` (a grid of as many points as the draws), or
    None where there is none."""
    if num_fields == 0:
        return None
    k = round(samples ** (1.0 / num_fields))
    return next((c for c in (k - 1, k, k + 1) if c >= 1 and c**num_fields == samples), None)


def grid_samples(distributions: Mapping[str, Distribution], samples: int) -> dict[str, np.ndarray]:
    """Grid search over the same space as the draws: k points per field, each distribution's
    quantiles at the cell centres (i + 1/2) / k -- geometric steps for a log-uniform, even
    ones for a uniform, a choice's values in proportion -- and their product, ``samples``
    = k ** fields points (the first field varying slowest): name -> [samples] float64. Raises
    ConfigError when ``samples`` is no such power."""
    names = list(distributions)
    k = points_per_field(len(names), samples)
    if k is None:
        raise ConfigError(
            f"grid search over {len(names)} distribution field(s) needs samples = k ** "
            f"{len(names)} (a grid of as many points as the random draws); got samples={samples}"
        )
    centres = (np.arange(k) + 0.5) / k
    axes = [distributions[name].quantile(centres) for name in names]
    mesh = np.meshgrid(*axes, indexing="ij")
    return {name: grid.reshape(-1) for name, grid in zip(names, mesh, strict=True)}
