"""A small conv net for 8×8×1 digit images (the lecture's conv-net demo).

``Conv 3×3×C₁ -> act -> Conv 3×3×C₂ -> act -> avg-pool 2×2 -> flatten -> Dense(K)``, SAME
padding; ``(C₁, C₂) = (16, 32)`` by default. Inputs ``[n, H, W, C]``; ``[n, H, W]`` gets a
channel axis and ``[n, s·s]`` (flattened square images, as scikit-learn's digits ``[n, 64]``)
is reshaped to ``[n, s, s, 1]``. It is a :class:`~cs109nn.models.stack.Stack` with this
layer list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax

from cs109nn.lecture.inputs import DataError
from cs109nn.models.initializers import Initializer
from cs109nn.models.layers import LayerToken, NamedLayer, named_layer
from cs109nn.models.model import Output
from cs109nn.models.stack import LECUN_NORMAL, Stack, hidden_layers


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
    raise DataError(
        f"a conv net needs images [n, H, W(, C)] or flattened square images [n, s*s]; "
        f"got x of shape {tuple(x.shape)}"
    )


_RELU = LayerToken("relu")  # the default activation (a module-level value: ruff B008)


def ConvNet(
    channels: Sequence[int] = (16, 32),
    activation: LayerToken = _RELU,
    output: Output = "categorical",
    num_classes: int = 10,
    kernel_init: Initializer = LECUN_NORMAL,
) -> Stack:
    """``x`` (see :func:`as_images`) -> logits ``[n, K]`` (or ``[n]`` if binary).

    The stack ``as_images, Conv 3×3 (channels[0]), act, Conv 3×3 (channels[1]), act,
    avgpool 2×2``. Params: ``conv_0``, ``conv_1`` (``kernel [3, 3, C_in, C_out]``, ``bias
    [C_out]``), an activation's own params if it has any (``{name}_{i}``), ``output``
    (``kernel [(H/2)(W/2)C₂, K]``). ValueError for an unknown activation.
    """
    convs = [LayerToken("conv", (c, 3)) for c in channels]
    layers = (
        NamedLayer("as_images", as_images),
        *hidden_layers("conv", convs, activation, kernel_init),
        named_layer(LayerToken("avgpool", (2,)), "avgpool"),
    )
    return Stack(layers, output, num_classes, kernel_init)
