"""Optimizer kinds as optax transformations whose numeric hyperparameters are traced.

The lecture's gradient ascent on LL is plain SGD on the loss -mean LL (we maximise LL; optax
minimises). ``optax.inject_hyperparams`` keeps learning rate, momentum and weight decay in the
optimizer state as arrays, so a grid over them is vmapped, not recompiled. A learning rate may
also be a schedule (``cs109nn.train.schedules``): inject_hyperparams evaluates it at every
update's count, and decay is scaled by the scheduled rate as by a constant one (as optax's own
``sgd(schedule)`` and ``adamw(schedule)`` scale it).
"""

from __future__ import annotations

import jax
import optax

from cs109nn.errors import ConfigError

OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")


def _sgd(learning_rate, momentum, weight_decay):
    del momentum  # plain gradient ascent, as on the slides
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate))


def _momentum(learning_rate, momentum, weight_decay):
    return optax.chain(
        optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate, momentum=momentum)
    )


def _adam(learning_rate, momentum, weight_decay):
    # Adam's first-moment decay b1 plays the role of momentum; decay is decoupled (AdamW).
    return optax.adamw(learning_rate, b1=momentum, weight_decay=weight_decay)


_FACTORIES = {"sgd": _sgd, "momentum": _momentum, "adam": _adam}


def check_optimizer(kind: str) -> None:
    """Raise a ValueError naming the known kinds when ``kind`` is not one of them."""
    if kind not in _FACTORIES:
        raise ConfigError(f"unknown optimizer {kind!r}; known: {list(OPTIMIZERS)}")


def make_optimizer(
    kind: str,
    learning_rate: jax.Array | optax.Schedule,
    momentum: jax.Array,
    weight_decay: jax.Array,
) -> optax.GradientTransformation:
    """An optax transformation of ``kind`` with traced scalar hyperparameters; the learning
    rate a scalar or a schedule ``count -> scalar``."""
    check_optimizer(kind)
    return optax.inject_hyperparams(_FACTORIES[kind])(
        learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay
    )
