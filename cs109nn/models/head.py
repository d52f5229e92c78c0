"""The output layer every classifier ends with: one Dense giving logits; and the Dense of
every layer: :func:`members_major_dense`.

Binary: ``Dense(1)`` squeezed to ``[n]`` (the lecture's θᵀh; P(Y=1|x) = σ(logit)).
Categorical: ``Dense(K)`` giving ``[n, K]`` (P(Y=k|x) = softmax(logits)_k).
"""

from __future__ import annotations

import jax
from flax import linen as nn
from jax import lax

from cs109nn.models.initializers import Initializer
from cs109nn.models.model import Output, check_output


def flatten_features(x: jax.Array) -> jax.Array:
    """``x: [n, *feature_shape] -> [n, prod(feature_shape)]``."""
    return x.reshape(x.shape[0], -1)


_MATMUL = (((1,), (0,)), ((), ()))  # lhs [n, in] · rhs [in, out]: what nn.Dense asks for


def members_major_dot(
    lhs: jax.Array, rhs: jax.Array, dimension_numbers, precision=None, **kwargs
) -> jax.Array:
    """``lhs @ rhs`` as ``(rhsᵀ lhsᵀ)ᵀ``: ``lhs [n, in]``, ``rhs [in, out]`` -> ``[n, out]``.

    Same value (the same products, summed over ``in``). Under ``vmap`` over members the plain
    ``x @ W`` comes out ``[n, members·out]`` and XLA relayouts it to ``[members, …]`` before every
    elementwise pass that follows; this order puts members first, examples last, and those
    copies go (experiments/benchmarks/README.md, P2). Any other ``lhs``/``rhs`` rank or
    ``dimension_numbers`` (a Dense on ``[n, …, in]`` inputs) is the plain ``lax.dot_general``.
    """
    asked = tuple(tuple(tuple(axes) for axes in pair) for pair in dimension_numbers)
    if lhs.ndim != 2 or rhs.ndim != 2 or asked != _MATMUL:
        return lax.dot_general(lhs, rhs, dimension_numbers, precision, **kwargs)
    return lax.dot_general(rhs, lhs, (((0,), (1,)), ((), ())), precision, **kwargs).T


def members_major_dense(
    features: int, *, kernel_init: Initializer | None = None, name: str | None = None
) -> nn.Dense:
    """``nn.Dense(features)`` computing ``x @ W`` by :func:`members_major_dot`.

    Params as flax's default Dense: ``kernel [in, features]``, ``bias [features]``. Still
    exactly ``nn.Dense`` (not a subclass), so per-example gradient taps
    (``cs109nn.grads.dense_taps``) and the first-layer read-out of ``cs109nn.sweep`` see it.
    """
    init = {} if kernel_init is None else {"kernel_init": kernel_init}
    return nn.Dense(features, dot_general=members_major_dot, name=name, **init)


def logits_head(h: jax.Array, output: Output, num_classes: int, kernel_init: Initializer):
    """Logits from features ``h: [n, ...]``: ``[n]`` (binary) or ``[n, K]`` (categorical).

    Call inside a module's compact ``__call__``: the Dense becomes its child ``output``.
    """
    h = flatten_features(h)
    if check_output(output) == "binary":
        # members before examples: the layout the elementwise y − σ(z) pass wants (+23 % on
        # 1,024 logistic regressions, experiments/benchmarks P1)
        return members_major_dense(1, kernel_init=kernel_init, name="output")(h)[:, 0]
    return nn.Dense(num_classes, kernel_init=kernel_init, name="output")(h)
