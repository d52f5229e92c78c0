"""A small conv net for 8×8×1 digit images (the lecture's conv-net demo).

``Conv 3×3×C₁ -> act -> Conv 3×3×C₂ -> act -> avg-pool 2×2 -> flatten -> Dense(K)``, SAME
padding; ``(C₁, C₂) = (16, 32)`` by default. Inputs ``[n, H, W, C]``; ``[n, H, W]`` gets a
channel axis and ``[n, s·s]`` (flattened square images, as scikit-learn's digits ``[n, 64]``)
is reshaped to ``[n, s, s, 1]``.
"""

from __future__ import annotations

import math

import jax
from flax import linen as nn

from cs109nn.models.head import logits_head
from cs109nn.models.initializers import Initializer
from cs109nn.models.layers import LayerToken, call_layer
from cs109nn.models.model import Output


def as_images(x: jax.Array) -> jax.Array:
    """``[n, H, W, C]`` unchanged; ``[n, H, W] -> [n, H, W, 1]``; ``[n, s·s] -> [n, s, s, 1]``."""
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        return x[..., None]
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side == x.shape[1]:
            return x.reshape(x.shape[0], side, side, 1)
    raise ValueError(
        f"a conv net needs images [n, H, W(, C)] or flattened square images [n, s*s]; "
        f"got x of shape {tuple(x.shape)}"
    )


class ConvNet(nn.Module):
    """``x`` (see :func:`as_images`) -> logits ``[n, K]`` (or ``[n]`` if binary).

    Params: ``conv_0``, ``conv_1`` (``kernel [3, 3, C_in, C_out]``, ``bias [C_out]``),
    ``output`` (``kernel [(H/2)(W/2)C₂, K]``).
    """

    channels: tuple[int, ...] = (16, 32)
    activation: LayerToken = LayerToken("relu")
    output: Output = "categorical"
    num_classes: int = 10
    kernel_init: Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = as_images(x)
        for i, c in enumerate(self.channels):
            init = self.kernel_init
            h = nn.Conv(c, (3, 3), padding="SAME", kernel_init=init, name=f"conv_{i}")(h)
            h = call_layer(self, self.activation, i, h, self.kernel_init)
        h = nn.avg_pool(h, (2, 2), strides=(2, 2))
        return logits_head(h, self.output, self.num_classes, self.kernel_init)
