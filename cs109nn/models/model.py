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
    """A model: two pure functions plus what the objective needs to know.

    ``masked``: for a model whose architecture can be a member axis (an MLP spec), ``masked(
    width, depth) -> Model``, the model of one member's (traced) width and depth inside this
    one's parameters (see :mod:`cs109nn.models.masked`); ``hidden`` its widest hidden widths.
    None for every other model.
    """

    init: Callable[[jax.Array, jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]
    output: Output = "binary"
    num_classes: int = 2
    name: str = "model"
    masked: Callable[[Any, Any], Model] | None = None
    hidden: tuple[int, ...] | None = None


class FittedModel(NamedTuple):
    """A model fitted in closed form rather than trained by gradients (Naive Bayes: counting).

    ``fit(x [n, ...], y [n], weights [n]) -> params``: ``weights`` are the member's training
    subset (0/1) or resample counts; ``apply(params, x) -> logits`` as :class:`Model`'s. A sweep
    gives a fitted model's group one pass of ``fit`` per member instead of a training loop.
    ``binary_features``: ``fit`` counts ones, so every feature must be 0 or 1 (checked at the
    data boundary).
    """

    fit: Callable[[jax.Array, jax.Array, jax.Array], Params]
    apply: Callable[[Params, jax.Array], jax.Array]
    output: Output = "binary"
    num_classes: int = 2
    name: str = "model"
    binary_features: bool = False
