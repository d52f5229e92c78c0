"""A multilayer perceptron: the lecture's "chain of logistic regressions", any depth.

``x -> h¹ = act(Dense(x)) -> h² = act(Dense(h¹)) -> ... -> logits = Dense(h^L)``. With one
hidden layer and ``act = sigmoid`` it is the slides' network: ``hidden_0`` holds θ⁽ʰ⁾
(``kernel = theta_h[1:]``, ``bias = theta_h[0]``) and ``output`` holds θ⁽ʸ⁾
(``kernel[:, 0] = theta_y[1:]``, ``bias[0] = theta_y[0]``). The activation is any registered
layer (``sigmoid``, ``tanh``, ``relu``, ``gelu``, a user's layer, ...), applied after every
hidden Dense.
"""

from __future__ import annotations

import jax
from flax import linen as nn

from cs109nn.models.head import flatten_features, logits_head
from cs109nn.models.initializers import Initializer
from cs109nn.models.layers import LayerToken, call_layer
from cs109nn.models.model import Output


class MLP(nn.Module):
    """``x: [n, *feature_shape]`` -> logits ``[n]`` (binary) or ``[n, K]`` (categorical).

    Params: ``hidden_0 .. hidden_{L-1}`` (``kernel [in, width]``, ``bias [width]``), an
    activation's own params if it has any (``{name}_{i}``), and ``output``.
    """

    hidden: tuple[int, ...]
    activation: LayerToken = LayerToken("sigmoid")
    output: Output = "binary"
    num_classes: int = 2
    kernel_init: Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = flatten_features(x)
        for i, width in enumerate(self.hidden):
            h = nn.Dense(width, kernel_init=self.kernel_init, name=f"hidden_{i}")(h)
            h = call_layer(self, self.activation, i, h, self.kernel_init)
        return logits_head(h, self.output, self.num_classes, self.kernel_init)
