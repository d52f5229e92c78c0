"""Convolution as input patches times the kernel: the conv layers' arithmetic on XLA:CPU.

``conv(x, W) = patches(x) @ W.reshape(-1, C_out)``, the patches strided slices of the
zero-padded input (:func:`conv_patches`). The package's ``conv`` layers are flax ``nn.Conv``
with :func:`patch_conv_general_dilated` as their ``conv_general_dilated`` -- the same module,
parameters, initialisers and numbers (within float32 rounding) -- because on a CPU XLA's own
convolution is the slow path for the small images and many members the engine trains:
measured on a conv net for 8x8 digits, its full-batch gradient took 3.4 s inside a ``lax.map``
against 0.08 s outside one (the loop's sliced kernel takes a naive convolution), and ``vmap``
over members turns a convolution into a grouped one (experiments/benchmarks/conv.py). A matmul
is fast in both. The per-example gradient taps (``cs109nn.grads``) read the same patches.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax


def conv_patches(
    x: jax.Array,
    kernel_size: Sequence[int],
    strides: Sequence[int],
    padding: Sequence[tuple[int, int]],
    kernel_dilation: Sequence[int],
) -> jax.Array:
    """The input patch under the kernel at every output position: x [n, *spatial, C] ->
    [n, S, prod(kernel_size)·C], entries ordered as ``kernel.reshape(-1, C_out)`` reads them
    (kernel offsets row-major, then channels), so conv(x, W) = patches @ W.reshape(-1, C_out).

    Strided slices of the zero-padded input, one per kernel offset: no multiplication (unlike
    ``lax.conv_general_dilated_patches``, an identity-kernel convolution).
    """
    n, channels = x.shape[0], x.shape[-1]
    padded = jnp.pad(x, [(0, 0), *padding, (0, 0)])
    spatial = padded.shape[1:-1]
    out = output_shape(spatial, kernel_size, strides, kernel_dilation)
    slices = []
    for offset in itertools.product(*(range(k) for k in kernel_size)):
        start = [o * d for o, d in zip(offset, kernel_dilation, strict=True)]
        limit = [b + (m - 1) * s + 1 for b, m, s in zip(start, out, strides, strict=True)]
        slices.append(lax.slice(padded, (0, *start, 0), (n, *limit, channels), (1, *strides, 1)))
    return jnp.stack(slices, axis=-2).reshape(n, math.prod(out), len(slices) * channels)


def output_shape(spatial, kernel_size, strides, kernel_dilation) -> list[int]:
    """The output's spatial shape of a convolution of the (padded) ``spatial`` input."""
    return [
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(spatial, kernel_size, strides, kernel_dilation, strict=True)
    ]


def patch_conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers=None,
    feature_group_count: int = 1,
    precision=None,
    **kwargs,
) -> jax.Array:
    """``lax.conv_general_dilated`` for a channels-last input [n, *spatial, C_in] and kernel
    [*k, C_in, C_out] (flax's layout), one group, no input dilation, as patches @ kernel.
    Anything else goes to ``lax.conv_general_dilated`` itself."""
    rank = lhs.ndim - 2
    kernel_size = tuple(rhs.shape[:rank])
    dilation = tuple(rhs_dilation or (1,) * rank)
    channels_last = dimension_numbers is None or tuple(
        getattr(dimension_numbers, "lhs_spec", ())
    ) == (0, rank + 1, *range(1, rank + 1))
    if (
        feature_group_count != 1
        or any(d != 1 for d in (lhs_dilation or ()))
        or not channels_last
        or kwargs
    ):
        return lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
            feature_group_count, precision=precision, **kwargs,
        )  # fmt: skip
    if isinstance(padding, str):
        dilated = [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation, strict=True)]
        padding = lax.padtype_to_pads(lhs.shape[1:-1], dilated, window_strides, padding)
    pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    patches = conv_patches(lhs, kernel_size, tuple(window_strides), pads, dilation)
    padded = [s + lo + hi for s, (lo, hi) in zip(lhs.shape[1:-1], pads, strict=True)]
    out = output_shape(padded, kernel_size, tuple(window_strides), dilation)
    y = jnp.matmul(patches, rhs.reshape(-1, rhs.shape[-1]), precision=precision)
    return y.reshape(lhs.shape[0], *out, rhs.shape[-1])
