"""Statistics of a batch's per-example gradients: the norm distribution and the noise scale.

Gradient noise scale (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training"):
with per-example gradients gᵢ of mean G and covariance Σ, B_simple = tr(Σ) / |G|² is the batch
size at which the noise of a mini-batch gradient is as large as the gradient itself.
From one batch of n per-example gradients (their "B_small = 1, B_big = n" estimators), with
ḡ = mean gᵢ and S = Σᵢ‖gᵢ‖²:
    tr(Σ) ≈ (S − n‖ḡ‖²) / (n − 1)          (unbiased sample variance, summed over coordinates)
    |G|²  ≈ ‖ḡ‖² − tr(Σ)/n                  (E‖ḡ‖² = |G|² + tr(Σ)/n)
Both are unbiased, but their ratio is noisy on one batch; the paper averages numerator and
denominator separately over steps (EMA) before dividing — hence both are returned.
Only per-example squared norms and the mean gradient are needed, so the Dense fast path
(``per_example_norms``) gives B_simple without per-example gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cs109nn.grads.dense_taps import Params


class NormSummary(NamedTuple):
    """Distribution of per-example gradient norms over a batch (all scalars except quantiles).

    quantiles: [q], at the levels ``levels`` [q].
    """

    mean: jax.Array
    std: jax.Array
    min: jax.Array
    max: jax.Array
    levels: jax.Array
    quantiles: jax.Array


def norm_summary(norms: jax.Array, levels: Sequence[float] = (0.1, 0.5, 0.9)) -> NormSummary:
    """Mean, std, extremes and quantiles of per-example norms [n]."""
    norms = jnp.asarray(norms)
    levels_array = jnp.asarray(levels, norms.dtype)
    return NormSummary(
        mean=jnp.mean(norms),
        std=jnp.std(norms),
        min=jnp.min(norms),
        max=jnp.max(norms),
        levels=levels_array,
        quantiles=jnp.quantile(norms, levels_array),
    )


class NoiseScale(NamedTuple):
    """Gradient noise scale pieces (scalars): B_simple = trace_sigma / grad_sq_norm."""

    trace_sigma: jax.Array
    grad_sq_norm: jax.Array
    b_simple: jax.Array


def noise_scale_from_moments(
    sum_sq_norms: jax.typing.ArrayLike, mean_grad_sq_norm: jax.typing.ArrayLike, n: int
) -> NoiseScale:
    """B_simple from S = Σᵢ‖gᵢ‖² and ‖ḡ‖² (ḡ = mean per-example gradient) over n ≥ 2 examples."""
    if n < 2:
        raise ValueError(f"the noise scale needs at least 2 examples, got n = {n}")
    s = jnp.asarray(sum_sq_norms)
    m = jnp.asarray(mean_grad_sq_norm)
    trace_sigma = (s - n * m) / (n - 1)
    grad_sq_norm = m - trace_sigma / n
    return NoiseScale(trace_sigma, grad_sq_norm, trace_sigma / grad_sq_norm)


def _sq_norm(tree: Params) -> jax.Array:
    return sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(tree))


def gradient_noise_scale(per_example_grads: Params) -> NoiseScale:
    """B_simple = tr(Σ)/|G|² from per-example gradients (leaves [n, ...]), unbiased pieces."""
    n = jax.tree.leaves(per_example_grads)[0].shape[0]
    sum_sq = _sq_norm(per_example_grads)
    mean_grad = jax.tree.map(lambda g: jnp.mean(g, axis=0), per_example_grads)
    return noise_scale_from_moments(sum_sq, _sq_norm(mean_grad), n)


def gradient_noise_scale_from_norms(norms: jax.Array, mean_grad: Params) -> NoiseScale:
    """The same from per-example norms [n] and the mean gradient (no [n, |θ|] array needed)."""
    norms = jnp.asarray(norms)
    return noise_scale_from_moments(jnp.sum(norms**2), _sq_norm(mean_grad), norms.shape[0])
