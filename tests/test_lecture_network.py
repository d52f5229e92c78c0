"""The slides' two-layer network: hand-derived backprop vs jax.grad; parameter counting."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from cs109nn import lecture


def random_network(n: int, m: int, H: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(n, m)).astype(np.float32)
    y = rng.integers(0, 2, size=n).astype(np.float32)
    theta_h = rng.normal(scale=0.5, size=(m + 1, H)).astype(np.float32)
    theta_y = rng.normal(scale=0.5, size=H + 1).astype(np.float32)
    return theta_h, theta_y, X, y


@pytest.mark.parametrize("n,m,H", [(1, 2, 1), (30, 5, 4), (100, 40, 20)])
def test_hand_derived_backprop_equals_jax_grad(n, m, H):
    theta_h, theta_y, X, y = random_network(n, m, H, seed=n + m + H)
    hand_h, hand_y = lecture.network_gradients(theta_h, theta_y, X, y)
    auto_h, auto_y = jax.grad(lecture.network_log_likelihood, argnums=(0, 1))(
        theta_h, theta_y, X, y
    )
    np.testing.assert_allclose(hand_h, auto_h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hand_y, auto_y, rtol=1e-4, atol=1e-5)


def test_forward_pass_equals_float64_numpy():
    theta_h, theta_y, X, y = random_network(10, 3, 4, seed=0)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = sig(theta_h[0] + X.astype(np.float64) @ theta_h[1:])
    y_hat = sig(theta_y[0] + h @ theta_y[1:])
    got_h, got_y = lecture.network_forward(theta_h, theta_y, X)
    np.testing.assert_allclose(got_h, h, rtol=1e-5)
    np.testing.assert_allclose(got_y, y_hat, rtol=1e-5)
    ll = np.sum(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))
    np.testing.assert_allclose(
        lecture.network_log_likelihood(theta_h, theta_y, X, y), ll, rtol=1e-5
    )


def test_slide_parameter_count_40_inputs_20_hidden():
    # The slide: |x| = 40, |h| = 20 -> 800 parameters in theta_h. Our theta_h also holds the
    # 20 hidden biases in row 0 (x0 = 1), so its weights are rows 1..40: 40 * 20 = 800.
    theta_h, theta_y, X, y = random_network(5, 40, 20, seed=1)
    grads_h, grads_y = lecture.network_gradients(theta_h, theta_y, X, y)
    assert grads_h[1:].size == 800
    assert grads_h.size == 800 + 20 and grads_y.size == 20 + 1


def test_network_rejects_mismatched_parameter_shapes():
    theta_h, theta_y, X, _ = random_network(5, 3, 2, seed=0)
    with pytest.raises(ValueError, match=r"expected theta_h \[4, H\]"):
        lecture.network_forward(theta_h[1:], theta_y, X)
