"""DP-SGD aggregation against numpy (clipping), jax.grad (no clipping, no noise) and the
statistics of the noise it adds."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn.grads import dp_aggregate, dp_gradient, vmap_per_example_gradients


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(1)(nn.sigmoid(nn.Dense(6)(x)))[..., 0]


def make_problem(n: int = 12, m: int = 4, seed: int = 0):
    """A 2-layer MLP, per-example −LL; data and params from numpy (no eager compiles)."""
    module = MLP()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m)).astype(np.float32)
    y = (rng.random(n) < 0.5).astype(np.float32)
    shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), x[:1]))["params"]
    params = jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32), shapes)

    def loss_fn(p, xb, yb):
        z = module.apply({"params": p}, xb)
        return -(yb * jax.nn.log_sigmoid(z) + (1 - yb) * jax.nn.log_sigmoid(-z))

    return loss_fn, params, x, y


def numpy_clipped_mean(per_example: dict, clip_norm: float) -> dict:
    """Σᵢ gᵢ·min(1, C/‖gᵢ‖) / n in float64 numpy, plus the clipped per-example norms."""
    leaves, treedef = jax.tree.flatten(per_example)
    leaves = [np.asarray(g, np.float64) for g in leaves]
    n = leaves[0].shape[0]
    norms = np.sqrt(sum(np.sum(g.reshape(n, -1) ** 2, 1) for g in leaves))
    factor = np.minimum(1.0, clip_norm / norms)
    clipped = [g * factor.reshape(-1, *[1] * (g.ndim - 1)) for g in leaves]
    clipped_norms = np.sqrt(sum(np.sum(g.reshape(n, -1) ** 2, 1) for g in clipped))
    return treedef.unflatten([g.mean(0) for g in clipped]), clipped_norms


KEY = jax.random.key(42)


@pytest.fixture(autouse=True)
def same_key_on_purpose():
    """These tests pass one key to several paths on purpose -- the same key must give the same
    noise bits along each of them -- so the suite's key-reuse check is off here alone."""
    with jax.debug_key_reuse(False):
        yield


@pytest.fixture(scope="module")
def problem():
    loss_fn, params, x, y = make_problem()

    @jax.jit
    def compute(p, clip_norm, noise_multiplier, key):
        per_example = vmap_per_example_gradients(loss_fn, p, x, y)
        run = lambda method, mb: dp_gradient(  # noqa: E731
            loss_fn, p, x, y, clip_norm, noise_multiplier, key, method=method, microbatch=mb
        )
        return {
            "per_example": per_example,
            "mean": jax.grad(lambda q: jnp.mean(loss_fn(q, x, y)))(p),
            "aggregate": dp_aggregate(per_example, clip_norm, noise_multiplier, key),
            "dense": run("dense", None),
            "dense_microbatched": run("dense", 5),
            "vmap_microbatched": run("vmap", 5),
        }

    return params, compute


def test_no_clipping_no_noise_equals_plain_mean_gradient(problem):
    params, compute = problem
    out = compute(params, jnp.inf, 0.0, KEY)
    for name in ("aggregate", "dense", "dense_microbatched", "vmap_microbatched"):
        chex.assert_trees_all_close(out[name], out["mean"], rtol=1e-5, atol=1e-6)
        chex.assert_tree_all_finite(out[name])


@pytest.mark.parametrize("clip_norm", [0.05, 0.5])
def test_clipping_only_matches_numpy_and_bounds_every_norm(problem, clip_norm):
    params, compute = problem
    out = compute(params, clip_norm, 0.0, KEY)
    expected, clipped_norms = numpy_clipped_mean(out["per_example"], clip_norm)
    assert np.all(clipped_norms <= clip_norm * (1 + 1e-6))
    for name in ("aggregate", "dense", "dense_microbatched", "vmap_microbatched"):
        chex.assert_trees_all_close(out[name], expected, rtol=1e-5, atol=1e-7)


def test_dp_gradient_adds_the_same_noise_as_dp_aggregate_for_the_same_key(problem):
    params, compute = problem
    out = compute(params, 0.3, 1.1, KEY)
    for name in ("dense", "dense_microbatched", "vmap_microbatched"):
        chex.assert_trees_all_close(out[name], out["aggregate"], rtol=1e-5, atol=1e-6)


def test_noise_has_std_noise_multiplier_times_clip_norm():
    # Zero gradients: the aggregate is pure noise / n, so n·output ~ N(0, (σC)²) per coordinate.
    n, clip_norm, sigma = 8, 2.0, 1.5
    grads = {"w": np.zeros((n, 100, 50), np.float32), "b": np.zeros((n, 50), np.float32)}
    out = jax.jit(dp_aggregate)(grads, clip_norm, sigma, KEY)
    noise = np.concatenate([np.ravel(out["w"]), np.ravel(out["b"])]) * n
    assert noise.size == 5050
    np.testing.assert_allclose(noise.std(), sigma * clip_norm, rtol=0.05)
    assert abs(noise.mean()) < 4 * sigma * clip_norm / np.sqrt(noise.size)


def test_same_key_same_noise_bits_other_key_other_noise():
    grads = {"w": np.ones((4, 30), np.float32)}
    aggregate = jax.jit(dp_aggregate)
    first = aggregate(grads, 1.0, 1.0, KEY)["w"]
    again = aggregate(grads, 1.0, 1.0, KEY)["w"]
    other = aggregate(grads, 1.0, 1.0, jax.random.key(43))["w"]
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.allclose(first, other)


def test_traced_hyperparameters_vmapped_over_members_match_each_member_alone():
    rng = np.random.default_rng(5)
    grads = {"w": rng.normal(size=(6, 5)).astype(np.float32)}
    clip_norms = np.array([0.1, 1.0, np.inf], np.float32)
    sigmas = np.array([0.0, 0.5, 0.0], np.float32)
    keys = jax.random.split(KEY, 3)
    aggregate = jax.jit(dp_aggregate)
    members = jax.jit(jax.vmap(dp_aggregate, in_axes=(None, 0, 0, 0)))(
        grads, clip_norms, sigmas, keys
    )
    for m in range(3):
        alone = aggregate(grads, clip_norms[m], sigmas[m], keys[m])
        np.testing.assert_allclose(members["w"][m], alone["w"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(members["w"][2], grads["w"].mean(0), rtol=1e-6)


def test_dp_gradient_vmapped_over_members_matches_each_member_alone(problem):
    # The engine's use: C, σ and the noise key are per-member values, traced under vmap.
    params, compute = problem
    loss_fn, _, x, y = make_problem()
    clip_norms = np.array([0.1, 1.0, np.inf, 1.0], np.float32)
    sigmas = np.array([0.5, 0.5, 0.0, 0.5], np.float32)
    keys = jax.random.split(KEY, 4)  # members 1 and 3 differ in their key only

    @jax.jit
    def members(p):
        def one(clip_norm, sigma, key):
            run = lambda method, mb: dp_gradient(  # noqa: E731
                loss_fn, p, x, y, clip_norm, sigma, key, method=method, microbatch=mb
            )
            return {"dense": run("dense", None), "vmap_microbatched": run("vmap", 5)}

        return jax.vmap(one)(clip_norms, sigmas, keys)

    batched = members(params)
    # Python floats, as the other tests pass them: the fixture's compiled program is reused.
    alone = [compute(params, float(clip_norms[m]), float(sigmas[m]), keys[m]) for m in range(4)]
    for name in ("dense", "vmap_microbatched"):
        member = lambda m, name=name: jax.tree.map(lambda a: a[m], batched[name])  # noqa: E731
        for m in range(4):
            chex.assert_trees_all_close(member(m), alone[m][name], rtol=1e-5, atol=1e-6)
            # ...and the same noise as dp_aggregate on the vmap per-example gradients.
            chex.assert_trees_all_close(member(m), alone[m]["aggregate"], rtol=1e-5, atol=1e-6)
        # C = inf, σ = 0: the plain mean gradient.
        chex.assert_trees_all_close(member(2), alone[2]["mean"], rtol=1e-5, atol=1e-6)
        # Another key, other noise in every leaf (the engine draws a key per member and step).
        first, other = jax.tree.leaves(member(1)), jax.tree.leaves(member(3))
        for leaf_1, leaf_3 in zip(first, other, strict=True):
            assert not np.allclose(leaf_1, leaf_3)
