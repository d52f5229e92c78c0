"""DP-SGD aggregation (Abadi et al. 2016): clip each example's gradient, sum, add noise, average.

    ḡ = (Σᵢ gᵢ · min(1, C/‖gᵢ‖) + N(0, σ²C² I)) / n

On the contract of ``optax.contrib.differentially_private_aggregate`` (per-example gradients
with a leading batch axis in, a mean gradient out), but as pure functions: the clip norm C and
the noise multiplier σ may be traced values (a vmapped hyperparameter per member) and the noise
key is an argument (derived from the member's key), never hidden state.

``dp_gradient`` (what the engine calls) computes ḡ from ``loss_fn`` without an [n, |θ|] array
on the Dense path; ``dp_aggregate`` is the formula itself on given per-example gradients, the
reference ``dp_gradient`` is tested against (same key, same noise).

Two edge cases optax leaves as NaN are defined here: C = inf with σ = 0 adds no noise (not
inf·0), and a zero gradient is never rescaled (no 0/0); C = inf, σ = 0 is the plain mean.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn.grads.dense_taps import LossFn, Params, batch_size
from cs109nn.grads.per_example import (
    Method,
    backward_pass,
    sum_microbatches,
    tree_norms,
    tree_weighted_sum,
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
    return tree_weighted_sum(per_example_grads, clip_factors(norms, clip_norm)), norms


def add_gaussian_noise(
    grad_sum: Params,
    clip_norm: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array,
) -> Params:
    """grad_sum + N(0, (σC)²) independently per coordinate, from one draw of ``key``.

    One normal vector of |θ| entries (in the leaves' common dtype), cut into the leaves in
    ``jax.tree.leaves`` order: one threefry computation to compile, not one per leaf (each
    costs XLA:CPU about half a second of compile time). σ = 0 adds exactly nothing, whatever
    C (C = inf included).
    """
    leaves, treedef = jax.tree.flatten(grad_sum)
    dtype = jnp.result_type(*leaves)
    noise = jax.random.normal(key, (sum(g.size for g in leaves),), dtype)
    sigma = jnp.asarray(noise_multiplier)
    std = jnp.where(sigma == 0, 0.0, sigma * jnp.asarray(clip_norm))
    offsets = np.cumsum([0] + [g.size for g in leaves])
    noised = [
        g + (std * noise[start:stop].reshape(g.shape)).astype(g.dtype)
        for g, start, stop in zip(leaves, offsets[:-1], offsets[1:], strict=True)
    ]
    return treedef.unflatten(noised)


def _noisy_mean(
    grad_sum: Params,
    n: int,
    clip_norm: jax.typing.ArrayLike,
    noise_multiplier: jax.typing.ArrayLike,
    key: jax.Array,
) -> Params:
    """(grad_sum + N(0, (σC)²)) / n: the last two steps of DP-SGD, shared by both entry points
    so that the same key gives the same noise."""
    noised = add_gaussian_noise(grad_sum, clip_norm, noise_multiplier, key)
    return jax.tree.map(lambda g: g / n, noised)


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
    total, _ = clipped_sum(per_example_grads, clip_norm)
    return _noisy_mean(total, batch_size(per_example_grads), clip_norm, noise_multiplier, key)


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
        # One rule for both paths: on Dense taps the norms and the weighted sum come from the
        # layer inputs and output gradients, on the vmap path from the stacked gradients.
        grads = backward_pass(loss_fn, params, xc, yc, method)
        norms = grads.norms()
        return grads.weighted_sum(clip_factors(norms, clip_norm)), (norms, grads.losses)

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
    clipped = clipped_gradient_sum(
        loss_fn, params, x, y, clip_norm, method=method, microbatch=microbatch
    )
    return _noisy_mean(clipped.grad_sum, batch_size(x), clip_norm, noise_multiplier, key)
