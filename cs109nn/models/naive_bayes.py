"""Naive Bayes, the lecture's generative baseline, fitted by counting.

Bernoulli NB for binary inputs ``x ∈ {0,1}^m``: P(y=k) by counting, and
P(x_j=1 | y=k) = (count(x_j=1, y=k) + α) / (count(y=k) + 2α) (MLE with Laplace smoothing α;
α = 1 is "add one"). Gaussian NB for continuous inputs: per class and feature an MLE mean and
variance, plus ``var_smoothing · max_j Var(x_j)`` added to every variance (scikit-learn's
rule, for features that are constant within a class).

Fitting is pure and jittable; ``weights [n]`` are resample counts (a bootstrap draw of the
rows is ``weights = counts``), so ``jax.vmap`` over a stack of weight vectors fits one model
per resample, and weights equal to the counts fit exactly what the repeated rows would.
Prediction has the trained models' interface: :func:`predict_logits` returns log-odds ``[n]``
(2 classes) or unnormalised log-probabilities ``[n, K]``, which the objectives in
:mod:`cs109nn.models.objectives` take as they are. A class absent from a resample has prior 0
and so logits of ±inf.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cs109nn.models.model import FittedModel, Output, check_output


class BernoulliNaiveBayes(NamedTuple):
    """Fitted Bernoulli NB. ``log_prior [K]``; ``log_p [K, m]`` = log P(x_j=1|y=k);
    ``log_not_p [K, m]`` = log P(x_j=0|y=k)."""

    log_prior: jax.Array
    log_p: jax.Array
    log_not_p: jax.Array


class GaussianNaiveBayes(NamedTuple):
    """Fitted Gaussian NB. ``log_prior [K]``; ``mean [K, m]``; ``var [K, m]`` (smoothed)."""

    log_prior: jax.Array
    mean: jax.Array
    var: jax.Array


def _class_weights(y: jax.Array, num_classes: int, weights: jax.Array | None, n: int):
    """``[n, K]``: weight of example i in class k (one-hot of y times the resample count)."""
    onehot = jax.nn.one_hot(jnp.asarray(y), num_classes, dtype=jnp.float32)
    if weights is None:
        return onehot
    return onehot * jnp.asarray(weights, jnp.float32).reshape(n, 1)


@functools.partial(jax.jit, static_argnames="num_classes")
def fit_bernoulli(
    x: jax.Array,
    y: jax.Array,
    num_classes: int = 2,
    alpha: float | jax.Array = 1.0,
    weights: jax.Array | None = None,
) -> BernoulliNaiveBayes:
    """Bernoulli NB by counting. ``x [n, m]`` in {0,1}, ``y [n]`` in {0..K−1},
    ``alpha`` the Laplace pseudo-count, ``weights [n]`` resample counts (default all 1)."""
    x = jnp.asarray(x, jnp.float32)
    w = _class_weights(y, num_classes, weights, x.shape[0])
    class_count = jnp.sum(w, axis=0)  # [K]
    ones_count = w.T @ x  # [K, m]: how often x_j = 1 within class k
    p = (ones_count + alpha) / (class_count[:, None] + 2 * alpha)
    log_prior = jnp.log(class_count) - jnp.log(jnp.sum(class_count))
    return BernoulliNaiveBayes(log_prior, jnp.log(p), jnp.log1p(-p))


@functools.partial(jax.jit, static_argnames="num_classes")
def fit_gaussian(
    x: jax.Array,
    y: jax.Array,
    num_classes: int = 2,
    var_smoothing: float | jax.Array = 1e-9,
    weights: jax.Array | None = None,
) -> GaussianNaiveBayes:
    """Gaussian NB by (weighted) moments. ``x [n, m]`` real, ``y [n]`` in {0..K−1};
    ``var_smoothing`` as scikit-learn's ``GaussianNB``; ``weights [n]`` resample counts."""
    x = jnp.asarray(x, jnp.float32)
    n = x.shape[0]
    w = _class_weights(y, num_classes, weights, n)
    class_count = jnp.sum(w, axis=0)  # [K]
    safe_count = jnp.maximum(class_count, jnp.finfo(jnp.float32).tiny)[:, None]
    mean = (w.T @ x) / safe_count
    # centred, not E[x²] − mean², which can dip below 0 by rounding in float32
    var = jnp.einsum("nk,knm->km", w, jnp.square(x[None] - mean[:, None])) / safe_count
    row_w = jnp.sum(w, axis=1)  # every example's resample count
    overall_mean = row_w @ x / jnp.sum(row_w)
    overall_var = row_w @ jnp.square(x - overall_mean[None]) / jnp.sum(row_w)
    var = var + var_smoothing * jnp.max(overall_var)
    log_prior = jnp.log(class_count) - jnp.log(jnp.sum(class_count))
    return GaussianNaiveBayes(log_prior, mean, var)


def joint_log_likelihood(
    params: BernoulliNaiveBayes | GaussianNaiveBayes, x: jax.Array
) -> jax.Array:
    """``log P(y=k) + Σ_j log P(x_j | y=k)``, ``[n, K]`` for ``x [n, m]``."""
    x = jnp.asarray(x, jnp.float32)
    if isinstance(params, BernoulliNaiveBayes):
        # [None]: explicit broadcasting over examples (tests raise on implicit rank promotion)
        return params.log_prior[None] + x @ params.log_p.T + (1 - x) @ params.log_not_p.T
    if isinstance(params, GaussianNaiveBayes):
        log_norm = -0.5 * jnp.sum(jnp.log(2 * jnp.pi * params.var), axis=-1)  # [K]
        sq = jnp.square(x[:, None, :] - params.mean[None]) / params.var[None]  # [n, K, m]
        return (params.log_prior + log_norm)[None] - 0.5 * jnp.sum(sq, axis=-1)
    raise TypeError(f"expected fitted Naive Bayes params, got {type(params).__name__}")


@jax.jit
def predict_log_proba(params: BernoulliNaiveBayes | GaussianNaiveBayes, x: jax.Array) -> jax.Array:
    """log P(y=k | x) ``[n, K]`` (Bayes' rule: the joint, normalised over k)."""
    return jax.nn.log_softmax(joint_log_likelihood(params, x), axis=-1)


@functools.partial(jax.jit, static_argnames="output")
def predict_logits(
    params: BernoulliNaiveBayes | GaussianNaiveBayes,
    x: jax.Array,
    output: Output | None = None,
) -> jax.Array:
    """Logits as a trained model's ``apply`` gives them.

    ``output="binary"`` (the default for K = 2): log-odds ``log P(y=1|x) − log P(y=0|x)``
    ``[n]``; ``"categorical"`` (the default for K > 2): the joint log-likelihood ``[n, K]``
    (softmax of it is P(y|x)).
    """
    jll = joint_log_likelihood(params, x)
    num_classes = jll.shape[-1]
    output = check_output(output or ("binary" if num_classes == 2 else "categorical"))
    if output == "binary":
        if num_classes != 2:
            raise ValueError(f"binary logits need 2 classes, these params have {num_classes}")
        return jll[:, 1] - jll[:, 0]
    return jll


NAIVE_BAYES_KINDS = ("bernoulli", "gaussian")


def naive_bayes_model(
    kind: str = "bernoulli",
    smoothing: float | None = None,
    num_classes: int = 2,
    name: str = "naive-bayes",
) -> FittedModel:
    """Naive Bayes as a :class:`FittedModel` over flattened features ``[n, m]``.

    ``kind``: ``bernoulli`` (inputs in {0,1}; ``smoothing`` is Laplace's α, default 1) or
    ``gaussian`` (``smoothing`` is ``var_smoothing``, default 1e-9). Logits are
    :func:`predict_logits`' for K classes: log-odds [n] for K = 2, else [n, K].
    """
    if kind not in NAIVE_BAYES_KINDS:
        raise ValueError(f"Naive Bayes kind must be one of {NAIVE_BAYES_KINDS}, got {kind!r}")
    output: Output = "binary" if num_classes == 2 else "categorical"
    flat = lambda x: jnp.reshape(x, (x.shape[0], -1))  # noqa: E731
    if kind == "bernoulli":
        alpha = 1.0 if smoothing is None else smoothing

        def fit(x, y, weights):
            return fit_bernoulli(flat(x), y, num_classes, alpha, weights)
    else:
        var_smoothing = 1e-9 if smoothing is None else smoothing

        def fit(x, y, weights):
            return fit_gaussian(flat(x), y, num_classes, var_smoothing, weights)

    def apply(params, x):
        return predict_logits(params, flat(x), output)

    return FittedModel(
        fit,
        apply,
        output=output,
        num_classes=num_classes,
        name=name,
        binary_features=kind == "bernoulli",
    )
