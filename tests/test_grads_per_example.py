"""Per-example gradients and norms: checked against jax.grad of the sum, the slides' closed form
(float64 numpy), and the vmap(grad) reference; the fast paths never against themselves."""

from __future__ import annotations

import functools

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn.grads import (
    dense_taps,
    per_example_gradients,
    per_example_norms,
    summed_gradient,
    vmap_per_example_gradients,
)
from cs109nn.grads.dense_taps import tap_weighted_sum


class LogisticRegression(nn.Module):
    """P(Y=1|x) = σ(θᵀx): one Dense unit; kernel = θ₁…θₘ, bias = θ₀."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(1)(x)[..., 0]


class MLP(nn.Module):
    """The slides' network x -> h -> ŷ, any widths; logits [n]."""

    hidden: tuple[int, ...] = (8,)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.sigmoid(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]


class SharedDense(nn.Module):
    """One Dense module applied twice (weight sharing) and on [n, s, d] inputs."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dense = nn.Dense(x.shape[-1])
        h = jnp.tanh(dense(jnp.tanh(dense(x))))  # [n, s, d], the same kernel twice
        return nn.Dense(1, use_bias=False)(h.reshape(h.shape[0], -1))[..., 0]


class ConvNet(nn.Module):
    """Not all Dense: the fast path must refuse and 'auto' must fall back."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.relu(nn.Conv(3, (3, 3))(x))
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[..., 0]


def bernoulli_nll(module: nn.Module):
    """Per-example −LL of a binary model from logits: loss_fn(params, x [n,...], y [n]) -> [n]."""

    def loss_fn(params, x, y):
        z = module.apply({"params": params}, x)
        return -(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))

    return loss_fn


def random_params(module: nn.Module, x1: np.ndarray, rng: np.random.Generator, members=()):
    """Params of flax's structure, values from numpy (no XLA compile for an init)."""
    shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), x1))["params"]
    return jax.tree.map(
        lambda s: rng.normal(scale=0.7, size=(*members, *s.shape)).astype(np.float32), shapes
    )


def make_problem(module: nn.Module, shape: tuple[int, ...], seed: int = 0):
    """Data and params from numpy: eager jax would compile op by op."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    y = (rng.random(shape[0]) < 0.4).astype(np.float32)
    return bernoulli_nll(module), random_params(module, x[:1], rng), x, y


def grad_of_sum(loss_fn, params, x, y, weights=None):
    """The reference: jax.grad of Σᵢ wᵢ lossᵢ (jitted; eager flax dispatches op by op)."""
    w = np.ones(x.shape[0], np.float32) if weights is None else weights
    return jax.jit(jax.grad(lambda p: jnp.sum(w * loss_fn(p, x, y))))(params)


CASES = {
    "logreg-1x3": (LogisticRegression(), (1, 3)),
    "logreg-17x5": (LogisticRegression(), (17, 5)),
    "mlp8-33x7": (MLP((8,)), (33, 7)),
    "mlp6-5-10x3": (MLP((6, 5)), (10, 3)),
    "shared-dense-9x3x4": (SharedDense(), (9, 3, 4)),
    "mlp8-variables-8x3": (MLP((8,)), (8, 3)),  # params = the whole {"params": ...} dict
}


def numpy_norms(per_example, n: int) -> np.ndarray:
    """Whole-pytree L2 norm of each example's gradient, in float64 numpy: [n]."""
    leaves = [np.asarray(g, np.float64).reshape(n, -1) for g in jax.tree.leaves(per_example)]
    return np.sqrt(sum(np.sum(g**2, axis=1) for g in leaves))


def tree_sum_axis0(tree):
    return jax.tree.map(lambda g: np.sum(np.asarray(g, np.float64), axis=0), tree)


@functools.cache
def computed(case: str):
    """Every path on one case, in ONE compiled function (compiles dominate the test time)."""
    module, shape = CASES[case]
    loss_fn, params, x, y = make_problem(module, shape, seed=1)
    if "variables" in case:
        inner_loss = loss_fn
        loss_fn = lambda variables, xb, yb: inner_loss(variables["params"], xb, yb)  # noqa: E731
        params = {"params": params}
    weights = np.linspace(0.0, 2.0, shape[0], dtype=np.float32)

    @jax.jit
    def everything(p, xb, yb):
        return {
            "summed": summed_gradient(loss_fn, p, xb, yb),
            "vmap": vmap_per_example_gradients(loss_fn, p, xb, yb),
            "dense": per_example_gradients(loss_fn, p, xb, yb, method="dense"),
            "dense_norms": per_example_norms(loss_fn, p, xb, yb, method="dense"),
            "vmap_norms": per_example_norms(loss_fn, p, xb, yb, method="vmap"),
            "weighted": tap_weighted_sum(dense_taps(loss_fn, p, xb, yb), weights),
            "weighted_reference": jax.grad(lambda q: jnp.sum(weights * loss_fn(q, xb, yb)))(p),
            "tap_losses": dense_taps(loss_fn, p, xb, yb).losses,
            "losses": loss_fn(p, xb, yb),
        }

    return params, shape[0], everything(params, x, y)


@pytest.mark.parametrize("case", CASES)
def test_per_example_gradients_sum_to_grad_of_summed_loss(case):
    params, n, out = computed(case)
    like_params = jax.tree.map(lambda p: np.zeros((n, *p.shape)), params)
    for method in ("vmap", "dense"):
        chex.assert_trees_all_equal_shapes(out[method], like_params)
        chex.assert_trees_all_close(
            tree_sum_axis0(out[method]), out["summed"], rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("case", CASES)
def test_dense_fast_path_equals_vmap_grad(case):
    _, n, out = computed(case)
    chex.assert_trees_all_close(out["dense"], out["vmap"], rtol=1e-5, atol=1e-6)
    ref_norms = numpy_norms(out["vmap"], n)
    chex.assert_shape(out["dense_norms"], (n,))
    np.testing.assert_allclose(out["dense_norms"], ref_norms, rtol=1e-5)
    np.testing.assert_allclose(out["vmap_norms"], ref_norms, rtol=1e-5)


@pytest.mark.parametrize("method", ["vmap", "dense"])
def test_per_example_gradients_sum_to_grad_of_summed_loss_without_jit(method):
    loss_fn, params, x, y = make_problem(LogisticRegression(), (6, 3))
    grads = per_example_gradients(loss_fn, params, x, y, method=method)
    expected = grad_of_sum(loss_fn, params, x, y)
    chex.assert_trees_all_close(tree_sum_axis0(grads), expected, rtol=1e-5, atol=1e-5)


def test_logistic_regression_per_example_gradients_match_slides_closed_form():
    loss_fn, params, x, y = make_problem(LogisticRegression(), (25, 4), seed=3)
    grads = jax.jit(lambda p: per_example_gradients(loss_fn, p, x, y, method="dense"))(params)
    # Slide: ∂LLᵢ/∂θⱼ = (yᵢ − σ(θᵀxᵢ)) xᵢⱼ, with x₀ = 1 for the intercept; loss = −LL.
    X = np.asarray(x, np.float64)
    w = np.asarray(params["Dense_0"]["kernel"], np.float64)[:, 0]
    b = float(params["Dense_0"]["bias"][0])
    residual = np.asarray(y, np.float64) - 1.0 / (1.0 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(
        grads["Dense_0"]["kernel"][:, :, 0], -residual[:, None] * X, atol=1e-6
    )
    np.testing.assert_allclose(grads["Dense_0"]["bias"][:, 0], -residual, atol=1e-6)
    ref = jax.jit(lambda p: vmap_per_example_gradients(loss_fn, p, x, y))(params)
    np.testing.assert_allclose(ref["Dense_0"]["kernel"][:, :, 0], -residual[:, None] * X, atol=1e-6)


@pytest.mark.parametrize("case", ["mlp6-5-10x3", "shared-dense-9x3x4"])
def test_dense_taps_weighted_sum_is_grad_of_weighted_loss(case):
    _, _, out = computed(case)
    chex.assert_trees_all_close(out["weighted"], out["weighted_reference"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["tap_losses"], out["losses"], rtol=1e-6)


def test_microbatched_equals_unbatched():
    loss_fn, params, x, y = make_problem(MLP((8,)), (16, 3))
    microbatches = (1, 5)  # 5 leaves a remainder chunk of 1

    @jax.jit
    def all_chunkings(p):
        return {
            (method, m): (
                per_example_gradients(loss_fn, p, x, y, method=method, microbatch=m or None),
                per_example_norms(loss_fn, p, x, y, method=method, microbatch=m or None),
            )
            for method in ("vmap", "dense")
            for m in (0, *microbatches)  # 0: the whole batch (None cannot be a sorted dict key)
        }

    out = all_chunkings(params)
    for method in ("vmap", "dense"):
        whole, whole_norms = out[method, 0]
        for m in microbatches:
            grads, norms = out[method, m]
            chex.assert_trees_all_close(grads, whole, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(norms, whole_norms, rtol=1e-6)


def test_conv_model_falls_back_to_vmap_and_dense_method_refuses():
    loss_fn, params, x, y = make_problem(ConvNet(), (5, 4, 4, 2))
    assert dense_taps(loss_fn, params, x, y) is None
    with pytest.raises(ValueError, match="nn.Dense"):
        per_example_gradients(loss_fn, params, x, y, method="dense")
    auto, expected = jax.jit(
        lambda p: (
            per_example_gradients(loss_fn, p, x, y, microbatch=2),
            summed_gradient(loss_fn, p, x, y),
        )
    )(params)
    chex.assert_trees_all_close(tree_sum_axis0(auto), expected, rtol=1e-5, atol=1e-5)


def test_loss_with_params_outside_dense_is_not_taken_by_fast_path():
    module = MLP((4,))
    loss_fn, params, x, y = make_problem(module, (5, 3))
    extra = {"net": params, "temperature": np.ones((), np.float32)}

    def loss_with_extra(p, xb, yb):
        return loss_fn(p["net"], xb * p["temperature"], yb)

    assert dense_taps(loss_with_extra, extra, x, y) is None
    grads, expected = jax.jit(
        lambda p: (
            per_example_gradients(loss_with_extra, p, x, y),
            summed_gradient(loss_with_extra, p, x, y),
        )
    )(extra)
    chex.assert_trees_all_close(tree_sum_axis0(grads), expected, rtol=1e-5, atol=1e-5)


def test_fast_norms_vmapped_over_members_match_each_member_alone():
    # The engine vmaps over members (stacked params); each member must get its own norms.
    module = MLP((8,))
    loss_fn, _, x, y = make_problem(module, (10, 3))
    members = random_params(module, x[:1], np.random.default_rng(7), members=(3,))
    batched = jax.jit(jax.vmap(lambda p: per_example_norms(loss_fn, p, x, y, method="dense")))(
        members
    )
    reference = jax.jit(lambda p: vmap_per_example_gradients(loss_fn, p, x, y))
    for m in range(3):
        ref = reference(jax.tree.map(lambda a, m=m: np.asarray(a)[m], members))
        ref_norms = numpy_norms(ref, 10)
        np.testing.assert_allclose(batched[m], ref_norms, rtol=1e-5)
