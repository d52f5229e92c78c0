"""A multilayer perceptron: the lecture's "chain of logistic regressions", any depth.

``x -> h¹ = act(Dense(x)) -> h² = act(Dense(h¹)) -> ... -> logits = Dense(h^L)``. With one
hidden layer and ``act = sigmoid`` it is the slides' network: ``hidden_0`` holds θ⁽ʰ⁾
(``kernel = theta_h[1:]``, ``bias = theta_h[0]``) and ``output`` holds θ⁽ʸ⁾
(``kernel[:, 0] = theta_y[1:]``, ``bias[0] = theta_y[0]``). The activation is any registered
layer (``sigmoid``, ``tanh``, ``relu``, ``gelu``, a user's layer, ...), applied after every
hidden Dense. It is a :class:`~cs109nn.models.stack.Stack` with this layer list.
"""

from __future__ import annotations

from collections.abc import Sequence

from cs109nn.models.head import flatten_features
from cs109nn.models.initializers import Initializer
from cs109nn.models.layers import LayerToken, NamedLayer
from cs109nn.models.model import Output
from cs109nn.models.stack import LECUN_NORMAL, Stack, hidden_layers

_SIGMOID = LayerToken("sigmoid")  # the default activation (a module-level value: ruff B008)


def MLP(
    hidden: Sequence[int],
    activation: LayerToken = _SIGMOID,
    output: Output = "binary",
    num_classes: int = 2,
    kernel_init: Initializer = LECUN_NORMAL,
) -> Stack:
    """``x: [n, *feature_shape]`` -> logits ``[n]`` (binary) or ``[n, K]`` (categorical).

    The stack ``flatten, Dense(hidden[0]), act, Dense(hidden[1]), act, ...``. Params:
    ``hidden_0 .. hidden_{L-1}`` (``kernel [in, width]``, ``bias [width]``), an activation's
    own params if it has any (``{name}_{i}``), and ``output``. ValueError for an unknown
    activation.
    """
    dense = [LayerToken("dense", (width,)) for width in hidden]
    layers = (
        NamedLayer("flatten", flatten_features),
        *hidden_layers("hidden", dense, activation, kernel_init),
    )
    return Stack(layers, output, num_classes, kernel_init)
