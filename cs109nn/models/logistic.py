"""Logistic regression (binary) and softmax regression (K classes): one Dense layer.

Binary: logit = θᵀx with the intercept θ₀ as the Dense bias, so for the lecture's
``theta [m+1]``: ``kernel[:, 0] = theta[1:]``, ``bias[0] = theta[0]``. Softmax ("more than two
output values"): logits = Wx + b, ``kernel [m, K]``, ``bias [K]``. With K = 2 it is the binary
model with ``w = w₁ − w₀``, ``b = b₁ − b₀``.
"""

from __future__ import annotations

import jax
from flax import linen as nn

from cs109nn.models.head import flatten_features, logits_head
from cs109nn.models.initializers import Initializer
from cs109nn.models.model import Output


class LogisticRegression(nn.Module):
    """``x: [n, *feature_shape]`` -> logits ``[n]`` (binary) or ``[n, K]`` (categorical).

    Params: ``{'params': {'output': {'kernel': [m, 1 or K], 'bias': [1 or K]}}}``.
    """

    output: Output = "binary"
    num_classes: int = 2
    kernel_init: Initializer = nn.initializers.zeros_init()  # the lecture's θ = 0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return logits_head(flatten_features(x), self.output, self.num_classes, self.kernel_init)
