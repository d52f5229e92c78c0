"""The slides' two-layer network x -> h -> y_hat: "a chain of logistic regressions".

Notation: X is [n, m]; theta_h is [m+1, H] with row 0 the hidden biases (through x0 = 1);
theta_y is [H+1] with theta_y[0] the output bias (through h0 = 1).

    h_j   = sigma(sum_k x_k theta_h[k, j])          (k = 0..m, x0 = 1)
    y_hat = sigma(sum_j h_j theta_y[j])             (j = 0..H, h0 = 1)

Parameter count: |x| = 40, |h| = 20 gives 40 * 20 = 800 weights in theta_h, the slides'
figure; the biases add 20 more (row 0 of theta_h), and theta_y has 20 weights + 1 bias.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from cs109nn.lecture.inputs import check_examples
from cs109nn.lecture.logistic_regression import add_intercept, bernoulli_log_likelihoods, sigmoid


def _check_shapes(theta_h: jax.Array, theta_y: jax.Array, X: jax.Array) -> None:
    m, H = X.shape[-1], theta_h.shape[-1]
    if theta_h.shape != (m + 1, H) or theta_y.shape != (H + 1,):
        raise ValueError(
            f"for X with {m} features expected theta_h [{m + 1}, H] and theta_y [H+1]; "
            f"got theta_h {tuple(theta_h.shape)} and theta_y {tuple(theta_y.shape)}"
        )


def network_logits(
    theta_h: jax.Array, theta_y: jax.Array, X: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Forward pass up to the output logit: returns (h [n, H], z [n]) with y_hat = sigma(z)."""
    theta_h, theta_y, X = jnp.asarray(theta_h), jnp.asarray(theta_y), jnp.asarray(X)
    _check_shapes(theta_h, theta_y, X)
    h = sigmoid(add_intercept(X) @ theta_h)
    return h, add_intercept(h) @ theta_y


def network_forward(
    theta_h: jax.Array, theta_y: jax.Array, X: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Slide: the forward pass. Returns (h [n, H], y_hat [n]) = P(Y=1 | x) for each example."""
    h, z = network_logits(theta_h, theta_y, X)
    return h, sigmoid(z)


def network_log_likelihoods(
    theta_h: jax.Array, theta_y: jax.Array, X: jax.Array, y: jax.Array
) -> jax.Array:
    """Per-example LL y log y_hat + (1-y) log(1-y_hat), on the output logit: [n].

    The output unit is a logistic regression on h, so its LL term is logistic regression's
    (``bernoulli_log_likelihoods``, finite for any finite logit).
    """
    check_examples(X, y, warn_one_class=False)
    _, z = network_logits(theta_h, theta_y, X)
    return bernoulli_log_likelihoods(z, y)


def network_log_likelihood(
    theta_h: jax.Array, theta_y: jax.Array, X: jax.Array, y: jax.Array
) -> jax.Array:
    """Slide: LL = sum_i y^(i) log y_hat^(i) + (1 - y^(i)) log(1 - y_hat^(i)); a scalar."""
    return jnp.sum(network_log_likelihoods(theta_h, theta_y, X, y))


def network_gradients(
    theta_h: jax.Array, theta_y: jax.Array, X: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The slides' hand-derived backprop, summed over examples (not autodiff):

        dLL/dtheta_y[j]    = sum_i (y - y_hat) h_j                              (h0 = 1)
        dLL/dtheta_h[k, j] = sum_i (y - y_hat) theta_y[j] h_j (1 - h_j) x_k      (x0 = 1)

    Returns (d_theta_h [m+1, H], d_theta_y [H+1]).
    """
    check_examples(X, y, warn_one_class=False)
    h, y_hat = network_forward(theta_h, theta_y, X)
    residual = jnp.asarray(y, y_hat.dtype) - y_hat  # [n]
    d_theta_y = add_intercept(h).T @ residual  # [H+1]
    delta_h = residual[:, None] * theta_y[None, 1:] * h * (1 - h)  # [n, H]
    d_theta_h = add_intercept(jnp.asarray(X)).T @ delta_h  # [m+1, H]
    return d_theta_h, d_theta_y
