"""Logistic regression exactly as the slides write it.

Notation: X is [n, m] (no intercept column); theta is [m+1] with theta[0] the intercept, which
the slides get by prepending x0 = 1 to every example. y is [n] in {0, 1}.
These functions are the package's reference: models, gradients and optimizers are tested
against them, never the other way round.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cs109nn.lecture.inputs import check_examples


def sigmoid(z: jax.Array) -> jax.Array:
    """Slide: sigma(z) = 1 / (1 + e^-z), elementwise. Stable for any finite z (no overflow)."""
    return jax.nn.sigmoid(z)


def add_intercept(X: jax.Array) -> jax.Array:
    """X: [n, m] -> [n, m+1] with x0 = 1 prepended (the slides' intercept trick)."""
    X = jnp.asarray(X)
    return jnp.concatenate([jnp.ones((*X.shape[:-1], 1), X.dtype), X], axis=-1)


def weighted_sum(theta: jax.Array, X: jax.Array) -> jax.Array:
    """Slide: theta^T x = sum_{i=0}^m theta_i x_i with x0 = 1.

    theta: [m+1]; X: [n, m] (or a single example [m]) -> [n] (or a scalar).
    """
    theta = jnp.asarray(theta)
    X = jnp.asarray(X)
    if X.shape[-1] + 1 != theta.shape[-1]:
        raise ValueError(
            f"theta has {theta.shape[-1]} entries but X has {X.shape[-1]} features; "
            f"expected theta of shape [{X.shape[-1] + 1}] (intercept theta[0] first)"
        )
    return theta[0] + X @ theta[1:]


def bernoulli_log_likelihoods(z: jax.Array, y: jax.Array) -> jax.Array:
    """y log sigma(z) + (1 - y) log[1 - sigma(z)] elementwise, from the logit z.

    The one place the slides' LL term is written (logistic regression and the network both
    end in it). log sigma(z) = log_sigmoid(z) and log[1 - sigma(z)] = log_sigmoid(-z), never
    log(sigmoid(z)), so it stays finite for any finite z (float32 |z| up to 1e4 and beyond).
    z: [...]; y: [...] in {0, 1}, cast to z's dtype -> [...].
    """
    z = jnp.asarray(z)
    y = jnp.asarray(y, z.dtype)
    return y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z)


def log_likelihoods(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Per-example LL: y log sigma(theta^T x) + (1 - y) log[1 - sigma(theta^T x)].

    ``bernoulli_log_likelihoods`` of the logit z = theta^T x: finite for any finite z.
    theta: [m+1]; X: [n, m]; y: [n] -> [n]. Raises DataError for data the slides do not
    mean (``cs109nn.lecture.inputs``: y [n, 1], labels outside {0, 1}, NaN, ...).
    """
    check_examples(X, y, warn_one_class=False)
    return bernoulli_log_likelihoods(weighted_sum(theta, X), y)


def log_likelihood(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Slide: LL(theta) = sum_i y^(i) log sigma(theta^T x^(i)) + (1 - y^(i)) log[1 - sigma(...)].

    theta: [m+1]; X: [n, m]; y: [n] -> scalar (a sum over examples, as on the slide).
    """
    return jnp.sum(log_likelihoods(theta, X, y))


def gradient(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Slide: dLL/dtheta_j = sum_i [y^(i) - sigma(theta^T x^(i))] x_j^(i), written out by hand.

    The hand-derived reference that ``jax.grad(log_likelihood)`` must reproduce.
    theta: [m+1]; X: [n, m]; y: [n] -> [m+1].
    """
    check_examples(X, y, warn_one_class=False)
    residual = jnp.asarray(y, jnp.result_type(theta)) - sigmoid(weighted_sum(theta, X))
    return add_intercept(X).T @ residual


def per_example_gradients(theta: jax.Array, X: jax.Array, y: jax.Array) -> jax.Array:
    """Slide: "think about one training instance ... then sum up the gradients".

    ``jax.vmap(jax.grad(LL of one example))`` over the examples: [n, m+1]. Row i is
    (y^(i) - sigma(theta^T x^(i))) x^(i); the rows sum to ``gradient``.
    """

    check_examples(X, y, warn_one_class=False)  # here: under vmap the values are traced

    def ll_one(theta: jax.Array, x: jax.Array, y_one: jax.Array) -> jax.Array:
        return log_likelihoods(theta, x[None, :], y_one[None])[0]

    return jax.vmap(jax.grad(ll_one), in_axes=(None, 0, 0))(theta, jnp.asarray(X), jnp.asarray(y))


class AscentResult(NamedTuple):
    """theta: [m+1] after the last step; ll: [steps], LL(theta) after each step."""

    theta: jax.Array
    ll: jax.Array


def gradient_ascent(X: jax.Array, y: jax.Array, lr: float, steps: int) -> AscentResult:
    """Slide: initialise theta_j = 0; repeat many times: theta_j += eta * gradient[j].

    X: [n, m]; y: [n] in {0, 1}; ``lr`` is eta > 0 (traced: a new value does not recompile);
    ``steps`` >= 1 fixes the scan length (static). The slide's loop as one jitted
    ``lax.scan``. Returns theta [m+1] and LL after each step [steps]. The data are checked
    first (``check_examples``; a single-class y warns), then ``lr`` and ``steps``.
    """
    check_examples(X, y)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer; got {steps!r}")
    if not isinstance(lr, jax.core.Tracer) and not float(lr) > 0:
        raise ValueError(f"the step size lr (eta) must be > 0; got {lr!r}")
    return _gradient_ascent(X, y, lr, steps)


@partial(jax.jit, static_argnames="steps")
def _gradient_ascent(X: jax.Array, y: jax.Array, lr: float, steps: int) -> AscentResult:
    X = jnp.asarray(X)
    X = X if jnp.issubdtype(X.dtype, jnp.floating) else X.astype(jnp.float32)
    y = jnp.asarray(y, X.dtype)

    def step(theta: jax.Array, _: None) -> tuple[jax.Array, jax.Array]:
        theta = theta + lr * gradient(theta, X, y)
        return theta, log_likelihood(theta, X, y)

    theta, ll = lax.scan(step, jnp.zeros(X.shape[-1] + 1, X.dtype), None, length=steps)
    return AscentResult(theta, ll)
