"""A model written as a list of layers: ``stack:dense=64-relu-mylayer=8-dense=32-tanh``.

The layers (built-in or registered with :func:`cs109nn.models.register_layer`) run in order,
then the output head (flatten, Dense) gives logits. This is how a user's new layer goes into
a model spec without touching the package.
"""

from __future__ import annotations

import jax
from flax import linen as nn

from cs109nn.models.head import logits_head
from cs109nn.models.initializers import Initializer
from cs109nn.models.layers import LayerToken, call_layer
from cs109nn.models.model import Output


class Stack(nn.Module):
    """``x: [n, *feature_shape]`` -> layers -> logits ``[n]`` or ``[n, K]``.

    Params: one entry per layer that has parameters, ``{name}_{position}`` (``dense_0``,
    ``mylayer_2``, ...), and ``output``.
    """

    layers: tuple[LayerToken, ...]
    output: Output = "binary"
    num_classes: int = 2
    kernel_init: Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = x
        for i, token in enumerate(self.layers):
            h = call_layer(self, token, i, h, self.kernel_init)
        return logits_head(h, self.output, self.num_classes, self.kernel_init)
