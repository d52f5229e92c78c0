"""One stack of layers, then the output head: every layered model here is one (stax's ``serial``).

``stack:dense=64-relu-mylayer=8-dense=32-tanh`` runs the listed layers (built-in or
registered with :func:`cs109nn.models.register_layer`) in order, then the output head
(flatten, Dense) gives logits; this is how a user's new layer goes into a model spec without
touching the package. The MLP and the conv net are the same module with a layer list of their
own (:mod:`~cs109nn.models.mlp`, :mod:`~cs109nn.models.convnet`).

Layers are made when the model is built (:class:`~cs109nn.models.layers.NamedLayer`), not
when it is traced: a layer name registered again later does not change a model already built.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import linen as nn

from cs109nn.models.head import logits_head
from cs109nn.models.initializers import Initializer
from cs109nn.models.layers import LayerToken, NamedLayer, named_layer
from cs109nn.models.model import Output

#: The default kernel initialiser of every layered model (flax's default for Dense and Conv).
LECUN_NORMAL: Initializer = nn.initializers.lecun_normal()


class Stack(nn.Module):
    """``x: [n, *feature_shape]`` -> ``layers`` in order -> logits ``[n]`` or ``[n, K]``.

    Params: one entry per layer that has parameters, under its :class:`NamedLayer` name, and
    ``output`` (the head, initialised with ``kernel_init``).
    """

    layers: tuple[NamedLayer, ...]
    output: Output = "binary"
    num_classes: int = 2
    kernel_init: Initializer = LECUN_NORMAL

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = x
        for layer in self.layers:
            h = layer(self, h)
        return logits_head(h, self.output, self.num_classes, self.kernel_init)

    @classmethod
    def from_tokens(
        cls,
        tokens: Sequence[LayerToken],
        output: Output = "binary",
        num_classes: int = 2,
        kernel_init: Initializer = LECUN_NORMAL,
    ) -> Stack:
        """The stack of a spec's layer list: params ``{name}_{position}`` (``dense_0``,
        ``mylayer_2``, ...). ValueError for an unknown layer or bad arguments."""
        layers = tuple(
            named_layer(token, f"{token.name}_{i}", kernel_init) for i, token in enumerate(tokens)
        )
        return cls(layers, output, num_classes, kernel_init)


def hidden_layers(
    prefix: str, tokens: Sequence[LayerToken], activation: LayerToken, kernel_init: Initializer
) -> tuple[NamedLayer, ...]:
    """``tokens[i]`` named ``{prefix}_{i}``, each followed by ``activation`` named
    ``{activation.name}_{i}`` (i: the hidden layer's index, not its position in the stack)."""
    layers: list[NamedLayer] = []
    for i, token in enumerate(tokens):
        layers.append(named_layer(token, f"{prefix}_{i}", kernel_init))
        layers.append(named_layer(activation, f"{activation.name}_{i}", kernel_init))
    return tuple(layers)
