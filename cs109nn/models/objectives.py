"""Objectives on logits: log-likelihood, accuracy, probabilities, an L2 penalty.

Sign convention (the only place it is stated): **we maximise the log-likelihood** LL, as the
lecture does; optax minimises, so the training loss is ``loss = -mean LL``
(:func:`loss`). Everything else here is a log-likelihood (higher is better) or a rate.

Logits, not probabilities, come in: binary ``[n]`` with P(Y=1|x) = σ(z), categorical
``[n, K]`` with P(Y=k|x) = softmax(z)_k. Logs are taken with ``jax.nn.log_sigmoid`` /
``jax.nn.log_softmax`` (never ``log(sigmoid(z))``), so every value is finite for finite logits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cs109nn import lecture
from cs109nn.models.model import Output, Params, check_output

# The lecture's ``y log σ(z) + (1 − y) log σ(−z)`` (written once, in cs109nn.lecture), with the
# slides' derivative dLL/dz = y − σ(z) (the lecture's gradient before the chain rule reaches
# θ): one sigmoid, where autodiff of the two log-sigmoids would evaluate both derivatives.
bernoulli_log_likelihoods = jax.custom_jvp(lecture.bernoulli_log_likelihoods)


@bernoulli_log_likelihoods.defjvp
def _bernoulli_log_likelihoods_jvp(primals, tangents):
    z, y = primals
    dz, dy = tangents
    # d/dy = log σ(z) − log σ(−z) = z.
    return bernoulli_log_likelihoods(z, y), (y - jax.nn.sigmoid(z)) * dz + z * dy


def log_likelihoods(logits: jax.Array, y: jax.Array, output: Output) -> jax.Array:
    """Per-example log-likelihood ``[n]``.

    binary: ``y log σ(z) + (1 − y) log σ(−z)`` (the lecture's LL term; note 1 − σ(z) = σ(−z)),
    ``logits [n]``, ``y [n]`` in {0, 1} (or a probability in [0, 1]).
    categorical: ``log softmax(z)_y``, ``logits [n, K]``, ``y [n]`` integer classes in
    {0..K−1}, or ``y [n, K]`` one-hot / soft labels (then ``Σ_k y_k log softmax(z)_k``).
    """
    check_output(output)
    logits = jnp.asarray(logits)
    if output == "binary":
        return bernoulli_log_likelihoods(logits, jnp.asarray(y, logits.dtype))
    log_p = jax.nn.log_softmax(logits, axis=-1)
    y = jnp.asarray(y)
    if y.ndim == log_p.ndim:
        return jnp.sum(y.astype(log_p.dtype) * log_p, axis=-1)
    return jnp.take_along_axis(log_p, y.astype(jnp.int32)[:, None], axis=-1)[:, 0]


def log_likelihood(logits: jax.Array, y: jax.Array, output: Output) -> jax.Array:
    """LL: the SUM of :func:`log_likelihoods` over examples (the lecture's LL(θ))."""
    return jnp.sum(log_likelihoods(logits, y, output))


def mean_log_likelihood(
    logits: jax.Array, y: jax.Array, output: Output, weights: jax.Array | None = None
) -> jax.Array:
    """Mean per-example LL; with ``weights [n]`` the weighted mean Σ wᵢ LLᵢ / Σ wᵢ."""
    ll = log_likelihoods(logits, y, output)
    if weights is None:
        return jnp.mean(ll)
    weights = jnp.asarray(weights, ll.dtype)
    return jnp.sum(weights * ll) / jnp.sum(weights)


def loss(
    logits: jax.Array, y: jax.Array, output: Output, weights: jax.Array | None = None
) -> jax.Array:
    """What optax minimises: ``-mean_log_likelihood`` (the cross-entropy)."""
    return -mean_log_likelihood(logits, y, output, weights)


def probabilities(logits: jax.Array, output: Output) -> jax.Array:
    """P(Y=1|x) ``[n]`` (binary, σ(z)) or P(Y=k|x) ``[n, K]`` (categorical, softmax)."""
    check_output(output)
    if output == "binary":
        return jax.nn.sigmoid(logits)
    return jax.nn.softmax(logits, axis=-1)


def predict(logits: jax.Array, output: Output) -> jax.Array:
    """Predicted class ``[n]`` int32: ``z > 0`` (binary, i.e. σ(z) > 1/2) or ``argmax_k z_k``."""
    check_output(output)
    if output == "binary":
        return (logits > 0).astype(jnp.int32)
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


def accuracy(logits: jax.Array, y: jax.Array, output: Output) -> jax.Array:
    """Fraction of examples whose predicted class equals ``y [n]`` (integer classes)."""
    return jnp.mean(predict(logits, output) == jnp.asarray(y).astype(jnp.int32))


def l2_penalty(params: Params, *, exclude_bias: bool = False) -> jax.Array:
    """``½ Σ θ²`` over every parameter leaf (its gradient is θ), a scalar.

    ``exclude_bias=True`` leaves out leaves whose name is ``bias`` (intercepts are usually not
    decayed). A Gaussian prior θ ~ N(0, 1/λ) adds ``-λ · l2_penalty`` to the LL.
    """
    total = jnp.zeros((), jnp.float32)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        last = path[-1] if path else None
        if exclude_bias and getattr(last, "key", None) == "bias":
            continue
        total = total + 0.5 * jnp.sum(jnp.square(leaf))
    return total
