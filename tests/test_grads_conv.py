"""Per-example gradients of conv nets (convolution as a Dense layer on input patches), checked
against a Python loop over examples of jax.grad of each example's own loss, in float64 norms;
also vmapped over members that share their data, where vmap(grad) has no conv batching rule."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn.data import load_dataset
from cs109nn.grads import (
    dp_aggregate,
    dp_gradient,
    layer_taps,
    per_example_gradients,
    per_example_norms,
)
from cs109nn.models import model_from_spec, objectives


class Geometries(nn.Module):
    """Conv layers of every geometry the patches handle: SAME, VALID and explicit padding,
    strides, kernel dilation, no bias, a non-square kernel, then a Dense head."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.relu(nn.Conv(3, (3, 3))(x))
        h = jnp.tanh(nn.Conv(4, (3, 2), strides=(2, 1), padding="VALID", kernel_dilation=(1, 2))(h))
        h = nn.Conv(2, (2, 2), padding=((1, 0), (2, 1)), use_bias=False)(h)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[..., 0]


class GroupedConv(nn.Module):
    """A Conv the patches do not cover (feature groups): 'auto' must take another path."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.relu(nn.Conv(4, (3, 3), feature_group_count=2)(x))
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[..., 0]


def bernoulli_loss(module: nn.Module):
    def loss_fn(params, x, y):
        z = module.apply({"params": params}, x)
        return -(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))

    return loss_fn


def loop_reference(loss_fn, members, x, y):
    """jax.grad of each example's own loss, one member and one example at a time (one compile):
    params leaves [M, ...] -> per-example gradients, leaves [M, n, ...] (numpy)."""
    grad_one = jax.jit(jax.grad(lambda p, xi, yi: loss_fn(p, xi[None], yi[None])[0]))
    num_members = jax.tree.leaves(members)[0].shape[0]
    per_member = []
    for m in range(num_members):
        params = jax.tree.map(lambda a, m=m: a[m], members)
        grads = [jax.device_get(grad_one(params, x[i], y[i])) for i in range(x.shape[0])]
        per_member.append(jax.tree.map(lambda *g: np.stack(g), *grads))
    return jax.tree.map(lambda *g: np.stack(g), *per_member)


def float64_norms(per_example, n: int) -> np.ndarray:
    leaves = [np.asarray(g, np.float64).reshape(n, -1) for g in jax.tree.leaves(per_example)]
    return np.sqrt(sum(np.sum(g**2, axis=1) for g in leaves))


def member_of(params):
    """One member's params as a stack of one: leaves [1, ...]."""
    return jax.tree.map(lambda a: np.asarray(a)[None], params)


def member_params(module: nn.Module, x: np.ndarray, members: int):
    """Stacked params of ``members`` independent inits: leaves [members, ...]."""
    keys = jax.random.split(jax.random.key(3), members)
    return jax.jit(jax.vmap(lambda k: module.init(k, x[:1])["params"]))(keys)


def test_conv_patches_give_per_example_gradients_of_every_geometry():
    module = Geometries()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 9, 8, 2)).astype(np.float32)
    y = (rng.random(5) < 0.5).astype(np.float32)
    params = jax.jit(module.init)(jax.random.key(0), x[:1])["params"]
    loss_fn = bernoulli_loss(module)
    assert layer_taps(loss_fn, params, x, y) is not None  # every layer on the fast path
    grads, norms = jax.jit(
        lambda p: (
            per_example_gradients(loss_fn, p, x, y, method="taps"),
            per_example_norms(loss_fn, p, x, y, method="taps"),
        )
    )(params)
    reference = jax.tree.map(lambda g: g[0], loop_reference(loss_fn, member_of(params), x, y))
    chex.assert_trees_all_close(grads, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, float64_norms(reference, 5), rtol=1e-5)


def digits_problem(n: int = 6):
    data = load_dataset("digits", n=60)
    model = model_from_spec("convnet:4x8", num_classes=data.num_classes)
    x = np.asarray(data.x_train[:n], np.float32)
    y = np.asarray(data.y_train[:n])

    def loss_fn(params, xb, yb):
        return -objectives.log_likelihoods(model.apply(params, xb), yb, model.output)

    return model, loss_fn, x, y


def test_convnet_members_sharing_data_get_each_their_own_norms_and_dp_gradient():
    # The engine's case: members vmapped, the examples (here a shared batch) not.
    model, loss_fn, x, y = digits_problem()
    keys = jax.random.split(jax.random.key(1), 3)
    members = jax.jit(jax.vmap(lambda k: model.init(k, x[:1])))(keys)
    clip, sigma, noise_key = 0.3, 0.7, jax.random.key(5)
    reference = loop_reference(loss_fn, members, x, y)
    # One noise key for every path on purpose: the same key must give the same noise bits.
    with jax.debug_key_reuse(False):
        norms, dp = jax.jit(
            jax.vmap(
                lambda p: (
                    per_example_norms(loss_fn, p, x, y),
                    dp_gradient(loss_fn, p, x, y, clip, sigma, noise_key),
                )
            )
        )(members)
        aggregate = jax.jit(jax.vmap(lambda g: dp_aggregate(g, clip, sigma, noise_key)))
        chex.assert_trees_all_close(dp, aggregate(reference), rtol=1e-5, atol=1e-6)
    for m in range(3):
        member = jax.tree.map(lambda g, m=m: g[m], reference)
        np.testing.assert_allclose(norms[m], float64_norms(member, len(x)), rtol=1e-5)


def test_conv_outside_the_patches_falls_back_to_a_map_over_examples_under_member_vmap():
    module = GroupedConv()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5, 5, 2)).astype(np.float32)
    y = (rng.random(4) < 0.5).astype(np.float32)
    loss_fn = bernoulli_loss(module)
    members = member_params(module, x, 2)
    first = jax.tree.map(lambda a: a[0], members)
    assert layer_taps(loss_fn, first, x, y) is None
    with pytest.raises(ValueError, match="nn.Conv"):
        per_example_norms(loss_fn, first, x, y, method="taps")
    grads = jax.jit(jax.vmap(lambda p: per_example_gradients(loss_fn, p, x, y)))(members)
    reference = loop_reference(loss_fn, members, x, y)
    chex.assert_trees_all_close(grads, reference, rtol=1e-5, atol=1e-6)
