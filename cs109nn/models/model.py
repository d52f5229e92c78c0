"""The model contract: a pure ``(init, apply)`` pair that returns logits.

``init(key, x_example) -> params``: ``x_example`` is a batch ``[b, *feature_shape]`` (one row
is enough); the result is a pytree of arrays.
``apply(params, x) -> logits``: ``x: [n, *feature_shape]``; logits ``[n]`` for a binary model
(``output == "binary"``, P(Y=1|x) = sigma(logit)) or ``[n, K]`` for a categorical one
(``output == "categorical"``, P(Y=k|x) = softmax(logits)_k).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, get_args

import jax

from cs109nn.errors import ConfigError

Params = Any
Output = Literal["binary", "categorical"]


def check_output(output: object) -> Output:
    """``output`` itself when it is an :data:`Output` kind; ValueError otherwise.

    The one place the two kinds are checked: objectives, the output head, Naive Bayes and the
    model registry all call it.
    """
    if output not in get_args(Output):
        raise ConfigError(f"output must be 'binary' or 'categorical', got {output!r}")
    return output  # type: ignore[return-value]


class Model(NamedTuple):
    """A model: two pure functions plus what the objective needs to know."""

    init: Callable[[jax.Array, jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]
    output: Output = "binary"
    num_classes: int = 2
    name: str = "model"
