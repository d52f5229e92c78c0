"""Models against the lecture: the same LL and gradients as the slides' closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn import lecture
from cs109nn.models import model_from_spec, objectives

RTOL, ATOL = 1e-5, 1e-5


def _data(n: int = 64, m: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    return jnp.asarray(X), jnp.asarray(y)


def _logreg_params(theta: jax.Array) -> dict:
    """The lecture's theta [m+1] (theta[0] the intercept) as the model's Dense params."""
    return {"params": {"output": {"kernel": theta[1:, None], "bias": theta[:1]}}}


def test_logreg_log_likelihood_and_gradient_equal_the_lecture_closed_form():
    X, y = _data()
    theta = jnp.asarray(np.random.default_rng(1).normal(size=X.shape[1] + 1), jnp.float32)
    model = model_from_spec("logreg")
    params = _logreg_params(theta)

    def ll(p):
        return objectives.log_likelihood(model.apply(p, X), y, model.output)

    value, grads = jax.jit(jax.value_and_grad(ll))(params)
    np.testing.assert_allclose(value, lecture.log_likelihood(theta, X, y), RTOL, ATOL)
    grads = grads["params"]["output"]
    grad_theta = jnp.concatenate([grads["bias"], grads["kernel"][:, 0]])
    np.testing.assert_allclose(grad_theta, lecture.gradient(theta, X, y), RTOL, 1e-4)


def test_logreg_params_have_the_shape_that_maps_to_theta():
    X, _ = _data(m=4)
    params = model_from_spec("logreg").init(jax.random.key(0), X[:1])
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes == {"params": {"output": {"kernel": (4, 1), "bias": (1,)}}}


def test_one_hidden_layer_sigmoid_mlp_equals_the_slides_two_layer_network():
    X, y = _data(m=4)
    rng = np.random.default_rng(2)
    theta_h = jnp.asarray(rng.normal(size=(5, 3)), jnp.float32)  # [m+1, H]
    theta_y = jnp.asarray(rng.normal(size=4), jnp.float32)  # [H+1]
    model = model_from_spec("mlp:3:sigmoid")
    params = {
        "params": {
            "hidden_0": {"kernel": theta_h[1:], "bias": theta_h[0]},
            "output": {"kernel": theta_y[1:, None], "bias": theta_y[:1]},
        }
    }
    # the mapped tree is exactly what init makes
    made = model.init(jax.random.key(0), X[:1])
    assert jax.tree.map(jnp.shape, made) == jax.tree.map(jnp.shape, params)

    def ll(p):
        return objectives.log_likelihood(model.apply(p, X), y, model.output)

    value, g = jax.jit(jax.value_and_grad(ll))(params)
    np.testing.assert_allclose(
        value, lecture.network_log_likelihood(theta_h, theta_y, X, y), RTOL, ATOL
    )
    d_theta_h, d_theta_y = jax.jit(lecture.network_gradients)(theta_h, theta_y, X, y)
    g = g["params"]
    np.testing.assert_allclose(g["hidden_0"]["bias"], d_theta_h[0], RTOL, 1e-4)
    np.testing.assert_allclose(g["hidden_0"]["kernel"], d_theta_h[1:], RTOL, 1e-4)
    np.testing.assert_allclose(g["output"]["bias"][0], d_theta_y[0], RTOL, 1e-4)
    np.testing.assert_allclose(g["output"]["kernel"][:, 0], d_theta_y[1:], RTOL, 1e-4)


def test_two_class_softmax_has_the_binary_likelihood_with_w_equal_w1_minus_w0():
    X, y = _data(m=3)
    rng = np.random.default_rng(3)
    W = jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)
    b = jnp.asarray(rng.normal(size=2), jnp.float32)
    model = model_from_spec("softmax", num_classes=2)
    assert model.output == "categorical"
    logits = model.apply({"params": {"output": {"kernel": W, "bias": b}}}, X)
    assert logits.shape == (X.shape[0], 2)
    ll_softmax = objectives.log_likelihood(logits, y.astype(jnp.int32), model.output)
    theta = jnp.concatenate([b[1:] - b[:1], W[:, 1] - W[:, 0]])  # the usual mapping
    np.testing.assert_allclose(ll_softmax, lecture.log_likelihood(theta, X, y), RTOL, ATOL)
