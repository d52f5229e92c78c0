"""From a flax module or a pure ``(init, apply)`` pair to a :class:`~cs109nn.models.Model`."""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import linen as nn

from cs109nn.models.model import Model, Output, Params
from cs109nn.models.shape_check import with_shape_check


def model_from_module(
    module: nn.Module, *, output: Output, num_classes: int = 2, name: str = "model"
) -> Model:
    """A shape-checked model whose params are ``module.init(key, x_example)``.

    ``module(x: [n, *feature_shape])`` must return logits ``[n]`` (``output="binary"``) or
    ``[n, num_classes]`` (``output="categorical"``).
    """

    # jit: eager flax init runs op by op (seconds on CPU); apply stays unjitted so that a
    # caller's nn.intercept_methods sees its Dense calls when it traces it.
    @jax.jit
    def init(key: jax.Array, x_example: jax.Array) -> Params:
        return module.init(key, x_example)

    def apply(params: Params, x: jax.Array) -> jax.Array:
        return module.apply(params, x)

    return with_shape_check(Model(init, apply, output, num_classes, name))


def model_from_pair(
    init: Callable[[jax.Array, jax.Array], Params],
    apply: Callable[[Params, jax.Array], jax.Array],
    *,
    output: Output,
    num_classes: int = 2,
    name: str = "model",
) -> Model:
    """A shape-checked model from a pure pair (logits as in :class:`Model`)."""
    return with_shape_check(Model(init, apply, output, num_classes, name))
