"""Taps on every flax ``nn.Dense`` and ``nn.Conv``: its input and output gradient, in one pass.

For a Dense layer ``out = x @ W + b`` and one example, the chain rule gives
dL/dW = x ⊗ δ and dL/db = δ, where δ = dL/d(out) (the slides' backprop, layer by layer:
∂LL/∂θ⁽ʰ⁾ₖⱼ = [error at hⱼ] · xₖ). So a Dense model's per-example gradients — and their norms,
‖x ⊗ δ‖ = ‖x‖·‖δ‖ — follow from each layer's input x and its output gradient δ, without one
backward pass per example.

δ for every example comes out of ONE backward pass: add a zero "perturbation" to each Dense
output (the idea of flax's ``Module.perturb``) and differentiate the summed loss with respect
to the perturbations. Because example i's loss depends only on row i, row i of that gradient
is example i's δ. ``flax.linen.intercept_methods`` around the loss does this for any model
built from ``nn.Dense`` without touching the model's code.

A convolution is a Dense layer applied at every output position to the input patch under the
kernel: out[s] = patch[s] @ kernel.reshape(-1, C_out) + bias. So an ``nn.Conv`` tap stores the
patches [n, S, k·k·C_in] (S output positions, gathered by slicing: no FLOPs) and its output
gradient [n, S, C_out], and everything below treats it as a Dense tap with S positions. This
keeps conv nets off ``vmap(grad)``, whose per-example kernel gradient is a grouped convolution
(slow on XLA:CPU, and without a batching rule when members are vmapped over shared data).
``layer_taps`` taps both kinds; ``dense_taps`` only Dense (the ``"dense"`` method's promise).

Requirements for the taps to be exact (``dense_taps`` returns ``None`` where it can tell they
fail): every parameter leaf is the ``kernel`` or ``bias`` of an ``nn.Dense`` (or tapped
``nn.Conv``) called inside ``loss_fn``; each input and output keeps the example axis first (a
Conv's input exactly one batch axis; zero or explicit padding, strides and kernel dilation, no
input dilation, feature groups, mask or custom convolution); examples do not interact
(no batch norm); and the loss touches the parameters only through those Dense calls (no
penalty on ``params`` inside ``loss_fn``, no weight tying outside Dense, no ``nn.scan`` /
lifted transforms around Dense).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from cs109nn.models.patch_conv import conv_patches, patch_conv_general_dilated

Params = Any
LossFn = Callable[[Params, Any, Any], jax.Array]


class DenseTap(NamedTuple):
    """One Dense kernel over a batch: all its calls and positions stacked on axis 1.

    inputs: [n, S, d_in]; deltas: [n, S, d_out] (S = 1 for a plain MLP on [n, d] inputs; more
    for Dense applied to [n, ..., d] inputs, a Dense module called several times, or a Conv:
    its S output positions, d_in = k·k·C_in patch entries).
    kernel_index / bias_index: positions of the kernel [d_in, d_out] (a Conv's [k, k, C_in,
    C_out], reshaped) and bias [d_out] in ``jax.tree.leaves(params)``; bias_index is None for
    ``use_bias=False``.
    """

    kernel_index: int
    bias_index: int | None
    inputs: jax.Array
    deltas: jax.Array


class DenseTaps(NamedTuple):
    """Everything one backward pass gives: per-example losses [n] and one tap per kernel.

    Its methods are the per-example quantities the taps give without building more than they
    need; ``per_example.StackedGradients`` has the same ones for the vmap path.
    """

    losses: jax.Array
    taps: tuple[DenseTap, ...]
    treedef: Any
    leaves: tuple[Any, ...]

    def gradients(self) -> Params:
        """Per-example gradients, leaves [n, *leaf.shape] (``tap_per_example_gradients``)."""
        return tap_per_example_gradients(self)

    def norms(self) -> jax.Array:
        """‖gᵢ‖₂ over the whole parameter pytree: [n], no per-example gradient built."""
        return jnp.sqrt(tap_squared_norms(self))

    def weighted_sum(self, weights: jax.Array) -> Params:
        """Σᵢ wᵢ gᵢ for weights [n], like params (``tap_weighted_sum``)."""
        return tap_weighted_sum(self, weights)


class _CallInfo(NamedTuple):
    kernel_index: int | None
    bias_index: int | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    out_dtype: Any
    # The kernel's shape as the call reads it, and its input -> rows [n, S, d_in] map (None:
    # a convolution the patches cannot reproduce).
    kernel_shape: tuple[int, ...]
    rows: Callable[[jax.Array], jax.Array] | None


DENSE: tuple[type[nn.Module], ...] = (nn.Dense,)
DENSE_AND_CONV: tuple[type[nn.Module], ...] = (nn.Dense, nn.Conv)


def _is_tapped_call(context: Any, kinds: tuple[type[nn.Module], ...]) -> bool:
    # Exactly these types: a subclass may change __call__, and the x ⊗ δ rule with it.
    return type(context.module) in kinds and context.method_name == "__call__"


def _dense_rows(x: jax.Array) -> jax.Array:
    """A Dense input [n, ..., d] as rows [n, S, d]."""
    return x.reshape(x.shape[0], -1, x.shape[-1])


def _kernel_size(module: nn.Conv) -> tuple[int, ...]:
    size = module.kernel_size
    return (size,) if isinstance(size, int) else tuple(size)


def _per_axis(value: int | Sequence[int] | None, rank: int) -> tuple[int, ...]:
    """flax's broadcast of a Conv's strides / dilations: None is 1, an int holds for every axis."""
    if value is None:
        return (1,) * rank
    return (value,) * rank if isinstance(value, int) else tuple(value)


def _conv_rows(module: nn.Conv, in_shape: tuple[int, ...]) -> Callable | None:
    """``conv_patches`` with ``module``'s geometry, or None where flax's Conv does more than
    a zero-padded, strided, kernel-dilated convolution of one batch axis."""
    kernel_size = _kernel_size(module)
    rank = len(kernel_size)
    if (
        len(in_shape) != rank + 2
        or module.feature_group_count != 1
        or module.mask is not None
        or module.conv_general_dilated not in (None, patch_conv_general_dilated)
        or module.conv_general_dilated_cls is not None
        or any(d != 1 for d in _per_axis(module.input_dilation, rank))
    ):
        return None
    strides = _per_axis(module.strides, rank)
    dilation = _per_axis(module.kernel_dilation, rank)
    padding = nn.linear.canonicalize_padding(module.padding, rank)
    if isinstance(padding, str):
        if padding not in ("SAME", "SAME_LOWER", "VALID"):
            return None  # CIRCULAR, REFLECT, CAUSAL pad otherwise
        dilated = [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation, strict=True)]
        padding = lax.padtype_to_pads(in_shape[1:-1], dilated, strides, padding)
    pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    return lambda x: conv_patches(x, kernel_size, strides, pads, dilation)


def _dense_input(args: tuple, kwargs: dict) -> jax.Array:
    return args[0] if args else kwargs["inputs"]


def batch_size(x: Any) -> int:
    """n, the leading axis that every leaf of the batch ``x`` (an array or pytree) shares."""
    return jax.tree.leaves(x)[0].shape[0]


def _discover(
    loss_fn: LossFn, params: Params, x: Any, y: Any, kinds: tuple[type[nn.Module], ...]
) -> list[_CallInfo]:
    """Shapes only (``jax.eval_shape``, no FLOPs): which leaves each tapped call reads, in
    order."""
    leaves, treedef = jax.tree.flatten(params)
    calls: list[_CallInfo] = []

    def probe(leaves: list[Any]) -> jax.Array:
        index_of = {id(leaf): i for i, leaf in enumerate(leaves)}
        calls.clear()

        def interceptor(next_fun, args, kwargs, context):
            out = next_fun(*args, **kwargs)
            if _is_tapped_call(context, kinds):
                own = context.module.variables.get("params", {})
                kernel, bias = own.get("kernel"), own.get("bias")
                in_shape = tuple(_dense_input(args, kwargs).shape)
                if type(context.module) is nn.Dense:
                    kernel_shape, rows = (in_shape[-1], out.shape[-1]), _dense_rows
                else:
                    kernel_size = _kernel_size(context.module)
                    kernel_shape = (*kernel_size, in_shape[-1], out.shape[-1])
                    rows = _conv_rows(context.module, in_shape)
                calls.append(
                    _CallInfo(
                        kernel_index=index_of.get(id(kernel)),
                        bias_index=None if bias is None else index_of.get(id(bias)),
                        in_shape=in_shape,
                        out_shape=tuple(out.shape),
                        out_dtype=out.dtype,
                        kernel_shape=kernel_shape,
                        rows=rows,
                    )
                )
            return out

        with nn.intercept_methods(interceptor):
            return loss_fn(treedef.unflatten(leaves), x, y)

    jax.eval_shape(probe, leaves)
    return calls


def _eligible(calls: list[_CallInfo], leaves: list[Any], n: int) -> bool:
    """True when the tapped calls cover every leaf and keep the example axis first."""
    if not calls:
        return False
    covered: set[int] = set()
    for call in calls:
        if call.kernel_index is None or call.rows is None:
            return False
        if tuple(leaves[call.kernel_index].shape) != call.kernel_shape:
            return False
        # Rank ≥ 2 and n rows: the example axis reaches the layer (not a model vmapped inside).
        if len(call.in_shape) < 2 or call.in_shape[0] != n or call.out_shape[0] != n:
            return False
        covered.add(call.kernel_index)
        if call.bias_index is not None:
            covered.add(call.bias_index)
    return covered == set(range(len(leaves)))


def dense_taps(loss_fn: LossFn, params: Params, x: Any, y: Any) -> DenseTaps | None:
    """Inputs and output-gradients of every Dense in ``loss_fn``, from one backward pass.

    loss_fn(params, x [n, ...], y [n, ...]) -> per-example losses [n]; δ is the gradient of
    ``sum(losses)`` at each Dense output, so row i of a tap's deltas is dLᵢ/d(outᵢ).
    Returns None when the model is not eligible (see the module docstring); callers then fall
    back to ``vmap(grad)``.
    """
    return layer_taps(loss_fn, params, x, y, kinds=DENSE)


def layer_taps(
    loss_fn: LossFn,
    params: Params,
    x: Any,
    y: Any,
    *,
    kinds: tuple[type[nn.Module], ...] = DENSE_AND_CONV,
) -> DenseTaps | None:
    """``dense_taps`` over the layer types ``kinds``: Dense and Conv by default, a Conv's
    inputs as patches [n, S, k·k·C_in] (``conv_patches``). None where not eligible."""
    leaves, treedef = jax.tree.flatten(params)
    n = batch_size(x)
    calls = _discover(loss_fn, params, x, y, kinds)
    if not _eligible(calls, leaves, n):
        return None

    perturbations = [jnp.zeros(c.out_shape, c.out_dtype) for c in calls]

    def summed_loss(perturbations: list[jax.Array]) -> tuple[jax.Array, tuple]:
        inputs: list[jax.Array] = []

        def interceptor(next_fun, args, kwargs, context):
            if not _is_tapped_call(context, kinds):
                return next_fun(*args, **kwargs)
            if len(inputs) == len(perturbations):
                raise RuntimeError("more layer calls than when traced for shapes; is loss_fn pure?")
            inputs.append(_dense_input(args, kwargs))
            return next_fun(*args, **kwargs) + perturbations[len(inputs) - 1]

        with nn.intercept_methods(interceptor):
            losses = loss_fn(params, x, y)
        if len(inputs) != len(calls):
            raise RuntimeError("fewer layer calls than when traced for shapes; is loss_fn pure?")
        return jnp.sum(losses), (losses, inputs)

    deltas, (losses, inputs) = jax.grad(summed_loss, has_aux=True)(perturbations)

    # Group the calls by kernel: a module called twice is one kernel with more positions.
    grouped: dict[int, list[int]] = {}
    for k, call in enumerate(calls):
        grouped.setdefault(call.kernel_index, []).append(k)
    taps = []
    for kernel_index, ks in grouped.items():
        taps.append(
            DenseTap(
                kernel_index=kernel_index,
                bias_index=calls[ks[0]].bias_index,
                inputs=jnp.concatenate([calls[k].rows(inputs[k]) for k in ks], axis=1),
                deltas=jnp.concatenate([_dense_rows(deltas[k]) for k in ks], axis=1),
            )
        )
    return DenseTaps(losses=losses, taps=tuple(taps), treedef=treedef, leaves=tuple(leaves))


def _assemble(taps: DenseTaps, pieces: dict[int, jax.Array], leading: tuple[int, ...]) -> Params:
    """Per-leaf arrays (keyed by leaf index) back into the params' tree structure, each
    [*leading, *leaf.shape] (a Conv kernel's [d_in, d_out] back to [k, k, C_in, C_out])."""
    out = [
        pieces[i].reshape(*leading, *leaf.shape).astype(leaf.dtype)
        for i, leaf in enumerate(taps.leaves)
    ]
    return taps.treedef.unflatten(out)


def tap_per_example_gradients(taps: DenseTaps) -> Params:
    """Per-example gradients: each leaf gets a leading [n] axis.

    kernel: [n, d_in, d_out] = xᵢ ⊗ δᵢ (summed over positions); bias: [n, d_out] = Σ_s δᵢₛ.
    With S = 1 the outer product is a broadcast multiply, written to memory once, instead of
    n one-row matmuls.
    """
    pieces: dict[int, jax.Array] = {}
    for tap in taps.taps:
        xs, ds = tap.inputs, tap.deltas.astype(jnp.result_type(tap.inputs, tap.deltas))
        if xs.shape[1] == 1:
            pieces[tap.kernel_index] = xs[:, 0, :, None] * ds[:, 0, None, :]
        else:
            pieces[tap.kernel_index] = jnp.einsum("bsi,bsj->bij", xs, ds)
        if tap.bias_index is not None:
            pieces[tap.bias_index] = jnp.sum(tap.deltas, axis=1)
    return _assemble(taps, pieces, taps.losses.shape[:1])


def tap_squared_norms(taps: DenseTaps) -> jax.Array:
    """Per-example squared L2 norms of the whole gradient: [n], no [n, |θ|] array made.

    S = 1: ‖x ⊗ δ‖² = ‖x‖²‖δ‖². S > 1: ‖Σₛ xₛ ⊗ δₛ‖² = Σₛₜ (xₛ·xₜ)(δₛ·δₜ) from the two Gram
    matrices when that is cheaper than building the [d_in, d_out] gradient.
    """
    dtype = jnp.result_type(jnp.float32, *[t.deltas for t in taps.taps])
    total = jnp.zeros(taps.losses.shape[:1], dtype)
    for tap in taps.taps:
        # Squares of small floats underflow in bfloat16/float16: sum them in float32 or wider.
        xs = tap.inputs.astype(dtype)
        ds = tap.deltas.astype(dtype)
        s, d_in, d_out = xs.shape[1], xs.shape[2], ds.shape[2]
        if s == 1:
            kernel_sq = jnp.sum(xs[:, 0] ** 2, -1) * jnp.sum(ds[:, 0] ** 2, -1)
        elif s * s * (d_in + d_out) <= s * d_in * d_out:
            gram_x = jnp.einsum("bsi,bti->bst", xs, xs)
            gram_d = jnp.einsum("bsj,btj->bst", ds, ds)
            kernel_sq = jnp.sum(gram_x * gram_d, axis=(1, 2))
        else:
            kernel_sq = jnp.sum(jnp.einsum("bsi,bsj->bij", xs, ds) ** 2, axis=(1, 2))
        total = total + kernel_sq
        if tap.bias_index is not None:
            total = total + jnp.sum(jnp.sum(ds, axis=1) ** 2, -1)
    return total


def tap_weighted_sum(taps: DenseTaps, weights: jax.Array) -> Params:
    """Σᵢ wᵢ gᵢ over the batch, one matmul per layer: kernel = Xᵀ (w ⊙ Δ), bias = Σ w ⊙ δ.

    weights: [n]. With wᵢ = 1 this is the summed gradient; with DP clip factors it is the
    clipped sum ("ghost clipping", Li et al. 2021) without per-example gradients.
    """
    pieces: dict[int, jax.Array] = {}
    for tap in taps.taps:
        xs, ds = tap.inputs, tap.deltas
        w = weights.astype(ds.dtype)[:, None, None]
        n_rows = math.prod(xs.shape[:2])
        weighted = (ds * w).reshape(n_rows, ds.shape[-1])
        pieces[tap.kernel_index] = xs.reshape(n_rows, xs.shape[-1]).T @ weighted
        if tap.bias_index is not None:
            pieces[tap.bias_index] = jnp.sum(weighted, axis=0)
    return _assemble(taps, pieces, ())
