"""Members-major Dense layers: ``x @ W`` of vectorised members computed as ``(Wᵀ xᵀ)ᵀ``.

Under ``vmap`` over members with shared data, flax's ``x @ W`` comes out ``[n, members·out]``
and XLA relayouts it to ``[members, …]`` before every elementwise pass that follows; this
order puts members first, examples last, and the forward copies go (experiments/benchmarks/
README.md, P2). Same values (the same products, summed over ``in``) and the same module: still
exactly ``nn.Dense``, so its params, the Dense taps of ``cs109nn.grads`` and the first-layer
read-out of ``cs109nn.sweep`` see no difference.

Not done here, measured: applying each activation as ``f(hᵀ)ᵀ`` as well removes the backward
copy of P2's one hidden layer (+11 %), but XLA's simplifier moves the transposes back for a
second hidden layer (−8 %, ``mlp:64x64:tanh``) and for minibatches, where members do not share
the input (−10 %): experiments/benchmarks/README.md, "Members-major activations".
"""

from __future__ import annotations

import jax
from flax import linen as nn
from jax import lax

from cs109nn.models.initializers import Initializer

_MATMUL = (((1,), (0,)), ((), ()))  # lhs [n, in] · rhs [in, out]: what nn.Dense asks for


def members_major_dot(
    lhs: jax.Array, rhs: jax.Array, dimension_numbers, precision=None, **kwargs
) -> jax.Array:
    """``lhs @ rhs`` as ``(rhsᵀ lhsᵀ)ᵀ``: ``lhs [n, in]``, ``rhs [in, out]`` -> ``[n, out]``.

    Same value (the same products, summed over ``in``). Any other ``lhs``/``rhs`` rank or
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
