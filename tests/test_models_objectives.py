"""Objectives on logits against float64 numpy written here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn.models import objectives


def _numpy_binary_ll(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """float64: y log σ(z) + (1 − y) log(1 − σ(z)), with log σ(z) = −log(1 + e^−z)."""
    z = z.astype(np.float64)
    return y * -np.logaddexp(0.0, -z) + (1 - y) * -np.logaddexp(0.0, z)


def _numpy_log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_binary_log_likelihood_is_finite_and_exact_at_logits_of_plus_minus_1e4_in_float32():
    z = jnp.asarray([1e4, -1e4, 1e4, -1e4], jnp.float32)
    y = jnp.asarray([1, 1, 0, 0], jnp.float32)
    ll = np.asarray(objectives.log_likelihoods(z, y, "binary"))
    assert ll.dtype == np.float32 and np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, [0.0, -1e4, -1e4, 0.0], rtol=1e-6)


def test_binary_log_likelihood_equals_float64_numpy():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=5.0, size=200).astype(np.float32)
    y = (rng.random(200) < 0.5).astype(np.float32)
    ll = objectives.log_likelihoods(jnp.asarray(z), jnp.asarray(y), "binary")
    np.testing.assert_allclose(ll, _numpy_binary_ll(z, y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        objectives.log_likelihood(jnp.asarray(z), jnp.asarray(y), "binary"),
        _numpy_binary_ll(z, y).sum(),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        objectives.loss(jnp.asarray(z), jnp.asarray(y), "binary"),
        -_numpy_binary_ll(z, y).mean(),
        rtol=1e-5,
    )


def test_categorical_log_likelihood_equals_float64_numpy_log_softmax():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=10.0, size=(50, 7)).astype(np.float32)
    y = rng.integers(0, 7, size=50)
    want = _numpy_log_softmax(z)[np.arange(50), y]
    got = objectives.log_likelihoods(jnp.asarray(z), jnp.asarray(y), "categorical")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    one_hot = np.eye(7, dtype=np.float32)[y]
    got_soft = objectives.log_likelihoods(jnp.asarray(z), jnp.asarray(one_hot), "categorical")
    np.testing.assert_allclose(got_soft, want, rtol=1e-5, atol=1e-5)


def test_categorical_log_likelihood_is_finite_at_huge_logits():
    z = jnp.asarray([[1e4, -1e4, 0.0]], jnp.float32)
    ll = objectives.log_likelihoods(z, jnp.asarray([1]), "categorical")
    assert np.isfinite(ll).all() and np.isclose(ll[0], -2e4)


def test_weighted_mean_log_likelihood_equals_numpy_weighted_average():
    rng = np.random.default_rng(2)
    z = rng.normal(size=30).astype(np.float32)
    y = (rng.random(30) < 0.5).astype(np.float32)
    w = rng.integers(0, 4, size=30).astype(np.float32)
    want = np.average(_numpy_binary_ll(z, y), weights=w)
    got = objectives.mean_log_likelihood(jnp.asarray(z), jnp.asarray(y), "binary", jnp.asarray(w))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_accuracy_and_predictions_equal_hand_counts():
    z = jnp.asarray([2.0, -1.0, 0.5, -3.0])
    y = jnp.asarray([1, 1, 0, 0])
    assert objectives.predict(z, "binary").tolist() == [1, 0, 1, 0]
    assert float(objectives.accuracy(z, y, "binary")) == 0.5
    zc = jnp.asarray([[0.0, 1.0, 0.0], [3.0, 1.0, 2.0], [0.0, 0.0, 5.0]])
    assert np.isclose(objectives.accuracy(zc, jnp.asarray([1, 2, 2]), "categorical"), 2 / 3)


def test_probabilities_equal_numpy_sigmoid_and_softmax():
    z = np.asarray([-3.0, 0.0, 2.5], np.float32)
    np.testing.assert_allclose(
        objectives.probabilities(jnp.asarray(z), "binary"), 1 / (1 + np.exp(-z)), rtol=1e-6
    )
    zc = np.asarray([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(
        objectives.probabilities(jnp.asarray(zc), "categorical"),
        np.exp(_numpy_log_softmax(zc)),
        rtol=1e-6,
    )


def test_l2_penalty_is_half_the_sum_of_squares_with_or_without_biases():
    params = {"params": {"a": {"kernel": jnp.full((2, 3), 2.0), "bias": jnp.ones(3)}}}
    assert float(objectives.l2_penalty(params)) == 0.5 * (6 * 4.0 + 3 * 1.0)
    assert float(objectives.l2_penalty(params, exclude_bias=True)) == 0.5 * 24.0


def test_binary_log_likelihood_derivative_is_the_slides_residual():
    # dLL/dz = y - sigma(z), computed here in float64 numpy; and the second derivative
    # -sigma(z)(1 - sigma(z)) through the custom rule.
    z = np.linspace(-30, 30, 13)
    y = (np.arange(13) % 2).astype(np.float64)
    with jax.enable_x64(True):
        first = jax.grad(lambda t: objectives.log_likelihood(t, y, "binary"))(z)
        second = jax.vmap(
            jax.grad(
                jax.grad(lambda t, yi: objectives.log_likelihoods(t[None], yi[None], "binary")[0])
            )
        )(z, y)
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(first, y - sig, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(second, -sig * (1 - sig), rtol=1e-10, atol=1e-15)
