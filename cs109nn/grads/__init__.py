"""Per-example gradients and what they enable: gradient statistics and DP-SGD.

``loss_fn(params, x [n, ...], y [n, ...]) -> [n]`` per-example losses throughout; see
``per_example`` for the convention, the Dense / Conv fast path, the fallbacks and ``microbatch``.
"""

from cs109nn.grads.dense_taps import DenseTap, DenseTaps, conv_patches, dense_taps, layer_taps
from cs109nn.grads.dp import (
    ClippedGradient,
    add_gaussian_noise,
    clip_factors,
    clipped_gradient_sum,
    clipped_sum,
    dp_aggregate,
    dp_gradient,
)
from cs109nn.grads.per_example import (
    convolves,
    map_microbatches,
    map_per_example_gradients,
    per_example_gradients,
    per_example_norms,
    summed_gradient,
    tree_norms,
    vmap_per_example_gradients,
)
from cs109nn.grads.statistics import (
    NoiseScale,
    NormSummary,
    gradient_noise_scale,
    gradient_noise_scale_from_norms,
    noise_scale_from_moments,
    norm_summary,
)

__all__ = [
    "ClippedGradient",
    "DenseTap",
    "DenseTaps",
    "NoiseScale",
    "NormSummary",
    "add_gaussian_noise",
    "clip_factors",
    "clipped_gradient_sum",
    "clipped_sum",
    "conv_patches",
    "convolves",
    "dense_taps",
    "dp_aggregate",
    "dp_gradient",
    "gradient_noise_scale",
    "gradient_noise_scale_from_norms",
    "layer_taps",
    "map_microbatches",
    "map_per_example_gradients",
    "noise_scale_from_moments",
    "norm_summary",
    "per_example_gradients",
    "per_example_norms",
    "summed_gradient",
    "tree_norms",
    "vmap_per_example_gradients",
]
