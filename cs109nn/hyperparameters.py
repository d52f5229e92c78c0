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


class Hyperparameters(NamedTuple):
    """One member's numeric hyperparameters (scalars), or many members' (arrays ``[M]``).

    learning_rate: η. momentum: SGD momentum, or Adam's b1. weight_decay: decoupled decay (added
    to the update as in ``optax.add_decayed_weights``). init_scale: multiplies the model's
    initial parameters. clip_norm / noise_multiplier: DP-SGD's C and σ (used when ``dp=True``).
    """

    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    init_scale: float = 1.0
    clip_norm: float = math.inf
    noise_multiplier: float = 0.0


HPARAM_NAMES: tuple[str, ...] = Hyperparameters._fields


def member_hyperparameters(
    values: Mapping[str, object] | Hyperparameters, num_members: int, dtype=np.float64
) -> Hyperparameters:
    """Every hyperparameter as an array ``[num_members]`` of ``dtype``.

    ``values``: name -> a scalar (broadcast to all members) or ``[M]`` values; a name left out
    takes its default. Raises ValueError naming an unknown name or a wrong shape.
    """
    if isinstance(values, Hyperparameters):
        values = values._asdict()
    unknown = sorted(set(values) - set(HPARAM_NAMES))
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown}; known: {list(HPARAM_NAMES)}")
    out = {}
    for name, default in Hyperparameters()._asdict().items():
        value = np.asarray(values.get(name, default), dtype=dtype)
        if value.ndim == 0:
            value = np.full(num_members, value, dtype)
        if value.shape != (num_members,):
            raise ValueError(
                f"hyperparameter {name!r} has shape {value.shape}; expected a scalar or "
                f"[{num_members}] (one value per member)"
            )
        out[name] = value
    return Hyperparameters(**out)
