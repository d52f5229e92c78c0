"""Gradient statistics against numpy and against constructed cases with a known answer."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn.grads import (
    gradient_noise_scale,
    gradient_noise_scale_from_norms,
    norm_summary,
)


def test_norm_summary_matches_numpy():
    norms = np.random.default_rng(0).gamma(2.0, size=101).astype(np.float32)
    levels = (0.05, 0.5, 0.95)
    summary = jax.jit(lambda v: norm_summary(v, levels))(norms)
    np.testing.assert_allclose(summary.mean, norms.mean(), rtol=1e-6)
    np.testing.assert_allclose(summary.std, norms.std(), rtol=1e-5)
    np.testing.assert_allclose(summary.min, norms.min())
    np.testing.assert_allclose(summary.max, norms.max())
    np.testing.assert_allclose(summary.quantiles, np.quantile(norms, levels), rtol=1e-6)


def per_example_grads_around(G: np.ndarray, noise: np.ndarray) -> dict:
    """Per-example gradients gᵢ = G + εᵢ as a two-leaf pytree: [n, 3] and [n, d - 3]."""
    g = G[None, :] + noise
    return {"a": g[:, :3], "b": g[:, 3:]}


def test_noise_scale_pieces_match_numpy_sample_moments():
    rng = np.random.default_rng(1)
    G = rng.normal(size=8)
    g = G + rng.normal(scale=0.5, size=(50, 8))
    scale = jax.jit(gradient_noise_scale)(per_example_grads_around(G, g - G))
    trace_sigma = np.var(g, axis=0, ddof=1).sum()  # unbiased tr(Σ)
    grad_sq_norm = np.sum(g.mean(0) ** 2) - trace_sigma / 50  # E‖ḡ‖² = |G|² + tr(Σ)/n
    np.testing.assert_allclose(scale.trace_sigma, trace_sigma, rtol=1e-5)
    np.testing.assert_allclose(scale.grad_sq_norm, grad_sq_norm, rtol=1e-5)
    np.testing.assert_allclose(scale.b_simple, trace_sigma / grad_sq_norm, rtol=1e-5)


def test_noise_scale_recovers_known_b_simple_for_gradient_plus_gaussian_noise():
    # gᵢ = G + εᵢ, εᵢ ~ N(0, s² I_d): tr(Σ) = d s², B_simple = d s² / |G|² = 10·4/5 = 8.
    d, s, n = 10, 2.0, 40_000
    G = np.zeros(d)
    G[:5] = 1.0
    noise = np.random.default_rng(2).normal(scale=s, size=(n, d))
    scale = jax.jit(gradient_noise_scale)(per_example_grads_around(G, noise))
    np.testing.assert_allclose(scale.trace_sigma, d * s**2, rtol=0.03)
    np.testing.assert_allclose(scale.grad_sq_norm, 5.0, rtol=0.1)
    np.testing.assert_allclose(scale.b_simple, 8.0, rtol=0.1)


def test_grad_sq_norm_is_unbiased_on_small_batches_where_the_naive_one_is_not():
    # Over many batches of n = 4: E[estimate] = |G|² = 5, while E‖ḡ‖² = 5 + d s²/n = 15.
    d, s, n, batches = 10, 2.0, 4, 4000
    G = np.zeros(d, np.float32)
    G[:5] = 1.0
    noise = np.random.default_rng(3).normal(scale=s, size=(batches, n, d)).astype(np.float32)
    scales = jax.jit(jax.vmap(lambda e: gradient_noise_scale({"g": G[None, :] + e})))(noise)
    naive = np.mean(np.sum((G + noise.mean(1)) ** 2, -1))
    np.testing.assert_allclose(np.mean(scales.grad_sq_norm), 5.0, atol=0.3)
    np.testing.assert_allclose(np.mean(scales.trace_sigma), d * s**2, rtol=0.03)
    assert naive > 13.0


def test_noise_scale_from_norms_equals_noise_scale_from_gradients():
    rng = np.random.default_rng(4)
    g = rng.normal(size=(30, 6)).astype(np.float32) + 1.0
    norms = np.linalg.norm(g, axis=1)
    from_norms = jax.jit(gradient_noise_scale_from_norms)(norms, {"g": jnp.asarray(g.mean(0))})
    from_grads = jax.jit(gradient_noise_scale)({"g": g})
    np.testing.assert_allclose(from_norms.b_simple, from_grads.b_simple, rtol=1e-4)
    np.testing.assert_allclose(from_norms.trace_sigma, from_grads.trace_sigma, rtol=1e-4)
