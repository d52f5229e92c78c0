"""DP-SGD aggregation (Abadi et al. 2016): clip each example's gradient, sum, add noise, average.

    ḡ = (Σᵢ gᵢ · min(1, C/‖gᵢ‖) + N(0, σ²C² I)) / n

on the contract of ``optax.contrib.differentially_private_aggregate`` (per-example gradients
with a leading batch axis in, a mean gradient out), but as pure functions: the clip norm C and
the noise multiplier σ may be traced values (a vmapped hyperparameter per member) and the noise
key is an argument (derived from the member's key), never hidden state.

Two edge cases optax leaves as NaN are defined here: C = inf with σ = 0 adds no noise (not
inf·0), and a zero gradient is never rescaled (no 0/0); C = inf, σ = 0 is the plain mean.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from cs109nn.grads.dense_taps import LossFn, Params, tap_squared_norms, tap_weighted_sum
from cs109nn.grads.per_example import (
    Method,
    one_example_loss,
    resolve_taps,
    sum_microbatches,
    tree_norms,
)


def clip_factors(norms: jax.Array, clip_norm: jax.typing.ArrayLike) -> jax.Array:
    """min(1, C / ‖gᵢ‖) for norms [n] -> [n]; 1 for a zero gradient, 1 for C = inf."""
    norms = jnp.asarray(norms)
    tiny = jnp.finfo(norms.dtype).tiny
    return jnp.minimum(1.0, jnp.asarray(clip_norm, norms.dtype) / jnp.maximum(norms, tiny))


def clipped_sum(
    per_example_grads: Params, clip_norm: jax.typing.ArrayLike
) -> tuple[Params, jax.Array]:
    """Σᵢ clip(gᵢ, C) and the unclipped norms: leaves [n, ...] -> (leaves [...], norms [n])."""
    norms = tree_norms(per_example_grads)
    factors = clip_factors(norms, clip_norm)
    total = jax.tree.map(
        lambda g: jnp.tensordot(factors.astype(g.dtype), g, axes=1), per_example_grads
    )
    return total, norms


def add_gaussian_noise(
    grad_sum: Params,
    clip_norm: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array,
) -> Params:
    """grad_sum + N(0, (σC)²) independently per coordinate; one sub-key per leaf of ``key``.

    σ = 0 adds exactly nothing, whatever C (C = inf included).
    """
    leaves, treedef = jax.tree.flatten(grad_sum)
    keys = jax.random.split(key, len(leaves))
    sigma = jnp.asarray(noise_multiplier)
    std = jnp.where(sigma == 0, 0.0, sigma * jnp.asarray(clip_norm))
    noised = [
        g + (std * jax.random.normal(k, g.shape, g.dtype)).astype(g.dtype)
        for g, k in zip(leaves, keys, strict=True)
    ]
    return treedef.unflatten(noised)


def dp_aggregate(
    per_example_grads: Params,
    clip_norm: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array,
) -> Params:
    """DP-SGD mean gradient from per-example gradients (leaves [n, ...]) -> leaves [...].

    Clip each example's whole-pytree gradient to L2 norm ``clip_norm`` (C), sum, add
    N(0, σ²C²) noise with σ = ``noise_multiplier`` drawn from ``key``, divide by n.
    C and σ may be traced scalars.
    """
    n = jax.tree.leaves(per_example_grads)[0].shape[0]
    total, _ = clipped_sum(per_example_grads, clip_norm)
    noised = add_gaussian_noise(total, clip_norm, noise_multiplier, key)
    return jax.tree.map(lambda g: g / n, noised)


class ClippedGradient(NamedTuple):
    """What one pass over a batch gives DP-SGD.

    grad_sum: Σᵢ clip(gᵢ, C), like params; norms: [n] unclipped per-example gradient norms;
    losses: [n] per-example losses (free by-products, for the training history).
    """

    grad_sum: Params
    norms: jax.Array
    losses: jax.Array


def clipped_gradient_sum(
    loss_fn: LossFn,
    params: Params,
    x: Any,
    y: Any,
    clip_norm: jax.typing.ArrayLike,
    *,
    method: Method = "auto",
    microbatch: int | None = None,
) -> ClippedGradient:
    """Σᵢ clip(∇lossᵢ, C) without keeping a per-example gradient of the whole batch.

    loss_fn(params, x [n, ...], y [n, ...]) -> [n]. Dense path: norms ‖x‖·‖δ‖ and the clipped
    sum Xᵀ(f ⊙ Δ) from the same single backward pass (no per-example gradient at all);
    vmap path: per-example gradients of one ``microbatch`` chunk at a time, clipped and summed
    into a ``lax.scan`` carry.
    """

    def chunk(xc: Any, yc: Any) -> tuple[Params, tuple[jax.Array, jax.Array]]:
        taps = resolve_taps(loss_fn, params, xc, yc, method)
        if taps is not None:
            norms = jnp.sqrt(tap_squared_norms(taps))
            total = tap_weighted_sum(taps, clip_factors(norms, clip_norm))
            return total, (norms, taps.losses)
        value_and_grad = jax.vmap(
            jax.value_and_grad(one_example_loss(loss_fn)), in_axes=(None, 0, 0)
        )
        losses, grads = value_and_grad(params, xc, yc)
        total, norms = clipped_sum(grads, clip_norm)
        return total, (norms, losses)

    total, (norms, losses) = sum_microbatches(chunk, x, y, microbatch)
    return ClippedGradient(grad_sum=total, norms=norms, losses=losses)


def dp_gradient(
    loss_fn: LossFn,
    params: Params,
    x: Any,
    y: Any,
    clip_norm: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array,
    *,
    microbatch: int | None = None,
    method: Method = "auto",
) -> Params:
    """DP-SGD mean gradient of ``loss_fn`` on a batch: ``dp_aggregate`` without the [n, |θ|] array.

    Equals ``dp_aggregate(per_example_gradients(loss_fn, params, x, y), C, σ, key)`` up to
    float rounding — same key, same noise.
    """
    n = jax.tree.leaves(x)[0].shape[0]
    clipped = clipped_gradient_sum(
        loss_fn, params, x, y, clip_norm, method=method, microbatch=microbatch
    )
    noised = add_gaussian_noise(clipped.grad_sum, clip_norm, noise_multiplier, key)
    return jax.tree.map(lambda g: g / n, noised)


class DPAggregateState(NamedTuple):
    """The key for the next step's noise."""

    key: jax.Array


def differentially_private_aggregate(
    clip_norm: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array,
) -> optax.GradientTransformationExtraArgs:
    """``dp_aggregate`` as an optax transformation; first in a chain (it takes [n, ...] updates).

    Numeric ``clip_norm`` / ``noise_multiplier`` work under ``optax.inject_hyperparams``. The
    noise key is the state's, split every step; pass ``noise_key=`` to ``update`` to use that
    key instead (e.g. ``fold_in(member_key, step)``) and leave the state's key unchanged.
    """

    def init_fn(params: Params) -> DPAggregateState:
        del params
        return DPAggregateState(key=key)

    def update_fn(
        updates: Params,
        state: DPAggregateState,
        params: Params | None = None,
        *,
        noise_key: jax.Array | None = None,
        **extra_args: Any,
    ) -> tuple[Params, DPAggregateState]:
        del params, extra_args
        if noise_key is None:
            next_key, noise_key = jax.random.split(state.key)
            state = DPAggregateState(key=next_key)
        return dp_aggregate(updates, clip_norm, noise_multiplier, noise_key), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
