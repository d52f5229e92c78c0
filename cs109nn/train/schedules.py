"""Learning-rate schedules whose kind is static and whose numbers are traced.

A schedule's kind (one of ``SCHEDULES``) is part of the compiled program (``TrainSetup``); its
numbers are a member's :class:`~cs109nn.hyperparameters.Hyperparameters`, so a grid over them
is one vectorised member axis, never a recompile. ``learning_rate`` is the schedule's peak (its
value at the end of warm-up, or at step 0 without one). With ``T = steps`` of the run and the
update of step ``t = 0, 1, ..., T-1`` taking η_t (the count ``optax.inject_hyperparams`` passes a
schedule: updates taken so far):

- ``constant``: η_t = η. The traced scalar itself, not a function of t: a constant run is the
  same program, bit for bit, as one without schedules.
- ``warmup_cosine``: linear warm-up from 0 to η over W = round(warmup_fraction · T) steps, then
  cosine decay over the remaining D = T - W steps towards final_fraction · η, which the count
  reaches at t = T (one step after the last update, as in optax):
  ``optax.warmup_cosine_decay_schedule(0, η, W, T, final_fraction · η)``.
- ``exponential``: η_t = η · decay_rate^(t / K), K = max(1, round(decay_interval · T)): the
  learning rate is multiplied by decay_rate every decay_interval of the run (with the default
  decay_interval 1, decay_rate is the factor at the end of the run):
  ``optax.exponential_decay(η, K, decay_rate)``.
- ``step``: η_t = η · decay_rate^floor(t / K): multiplied by decay_rate at steps K, 2K, ...
  (``optax.exponential_decay(η, K, decay_rate, staircase=True)``, the same as
  ``optax.piecewise_constant_schedule(η, {K: decay_rate, 2K: decay_rate, ...})``). With the
  default decay_interval 1 the only boundary is t = T, after the run: set it below 1 (0.25 is
  ×decay_rate at 25, 50 and 75 % of the run).

Each kind reads its own numbers (``SCHEDULE_NUMBERS``) and ignores the others; at their
defaults (warm-up 0, decay_rate 1) every kind but the cosine is the constant schedule.

Why not optax's constructors themselves: they check their step counts and values in Python
(``if transition_steps <= 0``, ``end_value / peak_value if peak_value != 0``), which a traced
number cannot answer. The formulas here are optax's, written for traced numbers; the tests
compare them with optax's own schedules built from the same concrete numbers, step by step and
through whole training runs.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import Hyperparameters

SCHEDULES: tuple[str, ...] = ("constant", "warmup_cosine", "exponential", "step")
# The numbers each kind reads besides learning_rate (the others it ignores).
SCHEDULE_NUMBERS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "warmup_cosine": ("warmup_fraction", "final_fraction"),
    "exponential": ("decay_rate", "decay_interval"),
    "step": ("decay_rate", "decay_interval"),
}


def check_schedule(kind: str) -> None:
    """Raise ConfigError naming the known kinds when ``kind`` is not one of them."""
    if kind not in SCHEDULES:
        raise ConfigError(f"unknown schedule {kind!r}; known: {list(SCHEDULES)}")


def learning_rate_schedule(
    kind: str, hparams: Hyperparameters, steps: int
) -> jax.Array | Callable[[jax.Array], jax.Array]:
    """The learning rate of a member of ``kind`` over a run of ``steps`` updates.

    ``hparams``: one member's scalars (traced or not). Returns ``hparams.learning_rate`` itself
    for ``constant`` (so the optimizer is exactly today's), else a schedule ``count -> η_count``
    (a scalar int step count in, a scalar of the hyperparameters' dtype out) for
    ``optax.inject_hyperparams``; see the module docstring for each kind's formula.
    """
    check_schedule(kind)
    if kind == "constant":
        return hparams.learning_rate
    peak = jnp.asarray(hparams.learning_rate)
    dtype = peak.dtype
    total = jnp.asarray(steps, dtype)
    if kind == "warmup_cosine":
        warmup = jnp.round(jnp.asarray(hparams.warmup_fraction, dtype) * total)
        # max(., 1): no division by zero in a piece that is never used (D = 0: a run all
        # warm-up never reaches the cosine; W = 0: no step is on the ramp)
        decay = jnp.maximum(total - warmup, 1)
        final = jnp.asarray(hparams.final_fraction, dtype)

        def ramp(count: jax.Array) -> jax.Array:  # optax.linear_schedule(0, peak, W)
            fraction = 1 - jnp.clip(count, 0, warmup) / jnp.maximum(warmup, 1)
            return -peak * fraction + peak

        def cosine(count: jax.Array) -> jax.Array:  # optax.cosine_decay_schedule, alpha=final
            cosine_decay = 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(count, decay) / decay))
            return peak * ((1 - final) * cosine_decay + final)

        # join_schedules compares with its boundary by jnp.where: a traced W is fine there
        return optax.join_schedules([ramp, cosine], [warmup])
    rate = jnp.asarray(hparams.decay_rate, dtype)
    interval = jnp.maximum(jnp.round(jnp.asarray(hparams.decay_interval, dtype) * total), 1)
    staircase = kind == "step"

    def decayed(count: jax.Array) -> jax.Array:  # optax.exponential_decay(peak, K, rate)
        power = count / interval
        if staircase:
            power = jnp.floor(power)
        return jnp.where(count <= 0, peak, peak * jnp.power(rate, power))

    return decayed
