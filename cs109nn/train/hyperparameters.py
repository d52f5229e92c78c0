"""The numeric hyperparameters a member carries as traced values (one entry per member).

A grid over any of these is one vectorised member axis, never a recompile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

# learning_rate: eta; momentum: SGD momentum, or Adam's b1; weight_decay: decoupled decay
# (added to the update as in optax.add_decayed_weights); init_scale: multiplies the model's
# initial parameters; clip_norm / noise_multiplier: DP-SGD's C and sigma (used when dp=True).
DEFAULT_HPARAMS: Mapping[str, float] = {
    "learning_rate": 0.1,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "init_scale": 1.0,
    "clip_norm": math.inf,
    "noise_multiplier": 0.0,
}
HPARAM_NAMES: tuple[str, ...] = tuple(DEFAULT_HPARAMS)


def member_hparams(hparams: Mapping[str, object], num_members: int, dtype) -> dict[str, np.ndarray]:
    """Complete and check per-member hyperparameters: every name -> array [M] of ``dtype``.

    A scalar is broadcast to all members; a missing name takes ``DEFAULT_HPARAMS``.
    """
    unknown = sorted(set(hparams) - set(HPARAM_NAMES))
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown}; known: {list(HPARAM_NAMES)}")
    out = {}
    for name, default in DEFAULT_HPARAMS.items():
        value = np.asarray(hparams.get(name, default), dtype=dtype)
        if value.ndim == 0:
            value = np.full(num_members, value, dtype)
        if value.shape != (num_members,):
            raise ValueError(
                f"hyperparameter {name!r} has shape {value.shape}; expected a scalar or "
                f"[{num_members}] (one value per member)"
            )
        out[name] = value
    return out
