"""Kernel initialisers by name: ``lecun_normal``, ``glorot_uniform``, ``he_normal``, ``normal``, ...

An initialiser fixes only the *shape* of the initial distribution: the engine multiplies the
initial parameters by a traced ``init_scale`` hyperparameter, so ``normal`` is N(0, 1) and
``init_scale`` is its standard deviation. Biases always start at zero (flax's default), which is
why scaling them changes nothing. ``zeros`` is the lecture's start for logistic regression
("θ = 0, repeat ..."); it leaves a network with hidden layers symmetric, so avoid it there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flax import linen as nn

from cs109nn.models.names import Registry

Initializer = Callable[..., Any]

# name -> initialiser; aliases map to the same function.
INITIALIZERS: Registry[Initializer] = Registry(
    "initialiser",
    {
        "lecun_normal": nn.initializers.lecun_normal(),
        "lecun_uniform": nn.initializers.lecun_uniform(),
        "glorot_normal": nn.initializers.glorot_normal(),
        "glorot_uniform": nn.initializers.glorot_uniform(),
        "glorot": nn.initializers.glorot_uniform(),
        "xavier_normal": nn.initializers.glorot_normal(),
        "xavier_uniform": nn.initializers.glorot_uniform(),
        "xavier": nn.initializers.glorot_uniform(),
        "he_normal": nn.initializers.he_normal(),
        "he_uniform": nn.initializers.he_uniform(),
        "he": nn.initializers.he_normal(),
        "kaiming": nn.initializers.he_normal(),
        "normal": nn.initializers.normal(stddev=1.0),
        "uniform": nn.initializers.uniform(scale=1.0),
        "orthogonal": nn.initializers.orthogonal(),
        "zeros": nn.initializers.zeros_init(),
    },
)


# Which fans each built-in initialiser's variance depends on (flax's variance_scaling modes):
# a width-masked member rescales its live weights by these (cs109nn.models.masked), so that
# they have the distribution of its own narrower layer. None: no fan (fixed scale, or zeros).
# Not listed (orthogonal, a user's): not usable with width masking.
FAN_MODES: dict[str, str | None] = {
    "lecun_normal": "fan_in",
    "lecun_uniform": "fan_in",
    "he_normal": "fan_in",
    "he_uniform": "fan_in",
    "he": "fan_in",
    "kaiming": "fan_in",
    "glorot_normal": "fan_avg",
    "glorot_uniform": "fan_avg",
    "glorot": "fan_avg",
    "xavier_normal": "fan_avg",
    "xavier_uniform": "fan_avg",
    "xavier": "fan_avg",
    "normal": None,
    "uniform": None,
    "zeros": None,
}


def known_initializers() -> tuple[str, ...]:
    """Names accepted by :func:`initializer`, sorted."""
    return INITIALIZERS.names()


def initializer(name: str) -> Initializer:
    """The flax initialiser ``init(key, shape, dtype) -> array`` called ``name``.

    Raises ValueError listing the known names when ``name`` is unknown.
    """
    return INITIALIZERS.get(name)


def register_initializer(name: str, init: Initializer) -> None:
    """Make ``init(key, shape, dtype)`` available by ``name`` in model specs.

    Built-in names cannot be replaced; a user name registered again is replaced (re-running a
    script or notebook cell is normal).
    """
    INITIALIZERS.register(name, init)
