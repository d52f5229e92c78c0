"""The numeric hyperparameters a member carries: one typed pytree, the one place of their names
and defaults.

Every other place derives from :class:`Hyperparameters`: the engine traces its fields (a grid
over any of them is one vectorised member axis, never a recompile), the sweep spec has one grid
field per name, results.csv one column per name, and the report reads those columns. The module
is free of JAX (a NamedTuple is a pytree to JAX as it is), so the report can import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from cs109nn.errors import ConfigError


class Hyperparameters(NamedTuple):
    """One member's numeric hyperparameters (scalars), or many members' (arrays ``[M]``).

    learning_rate: η. momentum: SGD momentum, or Adam's b1. weight_decay: decoupled decay (added
    to the update as in ``optax.add_decayed_weights``). init_scale: multiplies the model's
    initial parameters. clip_norm / noise_multiplier: DP-SGD's C and σ (used when ``dp=True``).
    train_size: how many training examples the member sees -- a stratified random subset of the
    training split drawn from its seed (``cs109nn.train.subset``), for learning curves over n;
    inf (the default) is the whole split. warmup_fraction, final_fraction, decay_rate,
    decay_interval: the numbers of the learning-rate schedule, whose kind is static
    (``TrainSetup.schedule``; each kind reads its own, see ``cs109nn.train.schedules``): the
    share of the run spent warming up linearly from 0 to learning_rate, the cosine's end value
    as a share of learning_rate, the factor exponential and step decay multiply by, and the
    share of the run between two such multiplications. learning_rate is the schedule's peak.
    width / depth: the member's own architecture inside a width-maskable model (an MLP spec, the
    widest of the grid): live units per hidden layer (capped at each layer's width) and hidden
    layers (``cs109nn.models.masked``; needs ``TrainSetup.architectures``); inf (the default):
    the model's own.
    """

    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    init_scale: float = 1.0
    clip_norm: float = math.inf
    noise_multiplier: float = 0.0
    train_size: float = math.inf
    warmup_fraction: float = 0.0
    final_fraction: float = 0.0
    decay_rate: float = 1.0
    decay_interval: float = 1.0
    width: float = math.inf
    depth: float = math.inf


HPARAM_NAMES: tuple[str, ...] = Hyperparameters._fields


class Range(NamedTuple):
    """The values a hyperparameter may take: between ``low`` and ``high``, each end included
    or not; NaN never."""

    low: float
    high: float
    low_included: bool
    high_included: bool

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.low_included else value > self.low
        below = value <= self.high if self.high_included else value < self.high
        return bool(above and below)

    def __str__(self) -> str:
        return (
            f"{'[' if self.low_included else '('}{self.low:g}, {self.high:g}"
            f"{']' if self.high_included else ')'}"
        )


# Why each range: η > 0 and finite (η = 0 trains nothing, η < 0 descends LL); momentum and
# Adam's b1 in [0, 1) (1 never forgets, beyond diverges by construction); decay, scale and
# noise >= 0; the clip norm C > 0, inf meaning no clipping; a training subset of at least one
# example, inf meaning all of them; a warm-up shorter than the run (a run all warm-up never
# reaches its peak); a cosine ending between 0 and the peak; a decay factor in (0, 1] (0 would
# stop training after the first boundary, above 1 is growth, not decay) every share of the run
# in (0, 1].
RANGES: dict[str, Range] = {
    "learning_rate": Range(0.0, math.inf, False, False),
    "momentum": Range(0.0, 1.0, True, False),
    "weight_decay": Range(0.0, math.inf, True, False),
    "init_scale": Range(0.0, math.inf, True, False),
    "clip_norm": Range(0.0, math.inf, False, True),
    "noise_multiplier": Range(0.0, math.inf, True, False),
    "train_size": Range(1.0, math.inf, True, True),
    "warmup_fraction": Range(0.0, 1.0, True, False),
    "final_fraction": Range(0.0, 1.0, True, True),
    "decay_rate": Range(0.0, 1.0, False, True),
    "decay_interval": Range(0.0, 1.0, False, True),
    "width": Range(1.0, math.inf, True, True),
    "depth": Range(1.0, math.inf, True, True),
}


def check_hyperparameter(name: str, values) -> None:
    """Raise ConfigError naming ``name``, its range and the first value outside it."""
    if name not in RANGES:
        raise ConfigError(f"unknown hyperparameter {name!r}; known: {list(HPARAM_NAMES)}")
    allowed = RANGES[name]
    for value in np.ravel(np.asarray(values, np.float64)):
        if value not in allowed:  # NaN is in no range
            raise ConfigError(f"{name} must lie in {allowed}; got {float(value)!r}")


def member_hyperparameters(
    values: Mapping[str, object] | Hyperparameters, num_members: int, dtype=np.float64
) -> Hyperparameters:
    """Every hyperparameter as an array ``[num_members]`` of ``dtype``.

    ``values``: name -> a scalar (broadcast to all members) or ``[M]`` values; a name left out
    takes its default. Raises ConfigError naming an unknown name, a wrong shape or a value
    outside its range (``RANGES``).
    """
    if isinstance(values, Hyperparameters):
        values = values._asdict()
    unknown = sorted(set(values) - set(HPARAM_NAMES))
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s) {unknown}; known: {list(HPARAM_NAMES)}")
    out = {}
    for name, default in Hyperparameters()._asdict().items():
        value = np.asarray(values.get(name, default), dtype=dtype)
        if value.ndim == 0:
            value = np.full(num_members, value, dtype)
        if value.shape != (num_members,):
            raise ConfigError(
                f"hyperparameter {name!r} has shape {value.shape}; expected a scalar or "
                f"[{num_members}] (one value per member)"
            )
        check_hyperparameter(name, value)
        out[name] = value
    return Hyperparameters(**out)
