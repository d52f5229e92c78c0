"""Per-example gradients: the slides' "think about one training instance … sum up the gradients".

Convention: ``loss_fn(params, x, y) -> [n]`` takes a BATCH (``x: [n, *features]``,
``y: [n, ...]``; either may be a pytree whose leaves share the leading [n] axis) and returns
one loss per example, where loss i depends on example i only — the shape of
``cs109nn.models.objectives.log_likelihoods`` (negated). The same function serves the batched
fast path and, called on one-row batches, the ``vmap(grad)`` reference.

Key invariant: ``sum_i per_example_gradients(...)[i] == summed_gradient(...)``.

``method``:
  ``"vmap"``  — ``vmap(grad(loss of one example))``; any model. A conv net's per-example kernel
                gradient is then a grouped convolution: slow on XLA:CPU, and with no batching
                rule (NotImplementedError) when members are vmapped over data they share.
  ``"map"``   — ``lax.map`` over examples of ``grad(loss of one example)``: one example at a
                time, so no convolution is batched twice; valid inside any vmap, but serial.
  ``"dense"`` — every layer a flax ``nn.Dense``: one backward pass gives each layer's input x
                and output gradient δ (``dense_taps``), then gradient = x ⊗ δ and
                norm = ‖x‖·‖δ‖ (no per-example gradient built for norms). Raises if the model
                is not eligible.
  ``"taps"``  — the same with ``nn.Conv`` layers too, a convolution being a Dense layer on
                input patches (``layer_taps``); raises if the model is not eligible.
  ``"auto"``  — ``"taps"`` where eligible, else ``"map"`` for a loss that convolves, else
                ``"vmap"`` (decided at trace time).
  Eligibility is checked (every leaf a Dense / Conv kernel or bias, example axis first) except
  for one thing it cannot see: ``loss_fn`` must reach ``params`` only through those calls — a
  penalty such as λ‖θ‖² inside ``loss_fn`` would be missed; add its gradient separately.
``microbatch``: process the batch in chunks of that many examples (``lax.map``), so the
intermediate memory scales with the chunk, not the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from cs109nn.grads.dense_taps import (
    DenseTaps,
    LossFn,
    Params,
    batch_size,
    dense_taps,
    layer_taps,
)

Method = Literal["auto", "dense", "taps", "vmap", "map"]


def summed_gradient(loss_fn: LossFn, params: Params, x: Any, y: Any) -> Params:
    """``jax.grad`` of Σᵢ lossᵢ: the reference the per-example gradients must sum to."""
    return jax.grad(lambda p: jnp.sum(loss_fn(p, x, y)))(params)


def one_example_loss(loss_fn: LossFn) -> Callable[[Params, Any, Any], jax.Array]:
    """Loss of a single example (no batch axis) from the batched ``loss_fn``."""

    def loss_one(params: Params, xi: Any, yi: Any) -> jax.Array:
        add_batch = lambda a: jnp.expand_dims(a, 0)  # noqa: E731
        return loss_fn(params, jax.tree.map(add_batch, xi), jax.tree.map(add_batch, yi))[0]

    return loss_one


def vmap_per_example_gradients(loss_fn: LossFn, params: Params, x: Any, y: Any) -> Params:
    """``vmap(grad(loss of one example))``: leaves [n, *leaf.shape]. Works for any model."""
    return jax.vmap(jax.grad(one_example_loss(loss_fn)), in_axes=(None, 0, 0))(params, x, y)


def map_per_example_gradients(loss_fn: LossFn, params: Params, x: Any, y: Any) -> Params:
    """``lax.map`` over examples of ``grad(loss of one example)``: leaves [n, *leaf.shape]."""
    return _map_value_and_grad(loss_fn, params, x, y)[1]


def _map_value_and_grad(loss_fn: LossFn, params: Params, x: Any, y: Any) -> tuple[Any, Params]:
    """(losses [n], per-example gradients) one example at a time: each a plain ``grad``, so
    an outer vmap (over members) batches each convolution once, never a grouped one again."""
    value_and_grad = jax.value_and_grad(one_example_loss(loss_fn))
    return lax.map(lambda xy: value_and_grad(params, *xy), (x, y))


def convolves(loss_fn: LossFn, params: Params, x: Any, y: Any) -> bool:
    """Whether ``loss_fn`` contains a convolution (traced to a jaxpr, no FLOPs)."""
    return "conv_general_dilated" in str(jax.make_jaxpr(loss_fn)(params, x, y))


def tree_norms(per_example: Params) -> jax.Array:
    """L2 norm over the whole pytree for each example: leaves [n, ...] -> [n]."""

    def squares(g: jax.Array) -> jax.Array:
        g = g.reshape(g.shape[0], -1).astype(jnp.promote_types(g.dtype, jnp.float32))
        return jnp.sum(g**2, axis=1)

    return jnp.sqrt(sum(squares(g) for g in jax.tree.leaves(per_example)))


def tree_weighted_sum(per_example: Params, weights: jax.Array) -> Params:
    """Σᵢ wᵢ gᵢ over the example axis: leaves [n, ...] and weights [n] -> leaves [...]."""
    return jax.tree.map(lambda g: jnp.tensordot(weights.astype(g.dtype), g, axes=1), per_example)


def map_microbatches(fn: Callable[[Any, Any], Any], x: Any, y: Any, microbatch: int | None) -> Any:
    """``fn(x_chunk, y_chunk)`` over chunks of ``microbatch`` examples, outputs re-joined on axis 0.

    ``fn`` maps a batch [m, ...] to outputs with leading [m]. The chunks run one after another
    (``lax.map``), bounding intermediate memory by the chunk; a last, shorter chunk takes the
    remainder when ``microbatch`` does not divide n. ``microbatch=None`` runs the whole batch.
    """
    chunked = _split_microbatches(x, y, microbatch)
    if chunked is None:
        return fn(x, y)
    (xs, ys), head, tail = chunked
    out = lax.map(lambda xy: fn(*xy), (xs, ys))
    out = jax.tree.map(lambda o: o.reshape(head, *o.shape[2:]), out)
    if tail is not None:
        out = jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=0), out, fn(*tail))
    return out


def _split_microbatches(x: Any, y: Any, microbatch: int | None):
    """None when one chunk holds the batch; else ((xs, ys) [chunks, microbatch, ...], the
    number of examples they hold, and the (x, y) remainder or None)."""
    n = batch_size(x)
    if microbatch is None or microbatch >= n:
        return None
    if microbatch < 1:
        raise ValueError(f"microbatch must be a positive integer or None, got {microbatch}")
    chunks, rest = divmod(n, microbatch)
    head = chunks * microbatch
    split = lambda a: a[:head].reshape(chunks, microbatch, *a.shape[1:])  # noqa: E731
    remainder = lambda a: a[head:]  # noqa: E731
    tail = (jax.tree.map(remainder, x), jax.tree.map(remainder, y)) if rest else None
    return (jax.tree.map(split, x), jax.tree.map(split, y)), head, tail


def sum_microbatches(
    fn: Callable[[Any, Any], tuple[Any, Any]], x: Any, y: Any, microbatch: int | None
) -> tuple[Any, Any]:
    """Like ``map_microbatches`` for ``fn(x_chunk, y_chunk) -> (total, per_example)``.

    ``total`` (e.g. a gradient sum) is added up over the chunks in a ``lax.scan`` carry, so
    memory holds one chunk's work plus one total; ``per_example`` outputs ([m, ...]) are
    re-joined on axis 0.
    """
    chunked = _split_microbatches(x, y, microbatch)
    if chunked is None:
        return fn(x, y)
    (xs, ys), head, tail_xy = chunked
    first_x, first_y = jax.tree.map(lambda a: a[0], xs), jax.tree.map(lambda a: a[0], ys)
    total_shape = jax.eval_shape(fn, first_x, first_y)[0]
    zero_total = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), total_shape)

    def step(total: Any, xy: tuple[Any, Any]) -> tuple[Any, Any]:
        chunk_total, per_example = fn(*xy)
        return jax.tree.map(jnp.add, total, chunk_total), per_example

    total, per_example = lax.scan(step, zero_total, (xs, ys))
    per_example = jax.tree.map(lambda o: o.reshape(head, *o.shape[2:]), per_example)
    if tail_xy is not None:
        tail_total, tail = fn(*tail_xy)
        total = jax.tree.map(jnp.add, total, tail_total)
        per_example = jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=0), per_example, tail)
    return total, per_example


class StackedGradients(NamedTuple):
    """The vmap path's backward pass: losses [n] and per-example gradients, leaves [n, ...].

    The same methods as ``DenseTaps``, so that what is computed from a backward pass is written
    once for both paths.
    """

    losses: jax.Array
    per_example: Params

    def gradients(self) -> Params:
        """Per-example gradients, leaves [n, *leaf.shape]."""
        return self.per_example

    def norms(self) -> jax.Array:
        """‖gᵢ‖₂ over the whole parameter pytree: [n]."""
        return tree_norms(self.per_example)

    def weighted_sum(self, weights: jax.Array) -> Params:
        """Σᵢ wᵢ gᵢ for weights [n], like params."""
        return tree_weighted_sum(self.per_example, weights)


BackwardPass = DenseTaps | StackedGradients


def backward_pass(loss_fn: LossFn, params: Params, x: Any, y: Any, method: Method) -> BackwardPass:
    """Per-example losses and gradients of one batch, in the form ``method`` picks.

    x: [n, ...], y: [n, ...]. "dense"/"taps"/"auto" on an eligible model: ``DenseTaps`` (layer
    inputs and output gradients, no per-example gradient built until asked for); "vmap" /
    "map", or "auto" on any other model: ``StackedGradients``. The one place the taps or a
    fallback is chosen; callers use ``.losses``, ``.gradients()``, ``.norms()`` and
    ``.weighted_sum(w)``, which both forms have.
    """
    if method not in ("auto", "dense", "taps", "vmap", "map"):
        raise ValueError(f"method must be 'auto', 'dense', 'taps', 'vmap' or 'map', got {method!r}")
    taps = None
    if method == "dense":
        taps = dense_taps(loss_fn, params, x, y)
    elif method in ("taps", "auto"):
        taps = layer_taps(loss_fn, params, x, y)
    if taps is not None:
        return taps
    if method in ("dense", "taps"):
        layers = "a flax nn.Dense" if method == "dense" else "a flax nn.Dense or nn.Conv"
        raise ValueError(
            f"method={method!r} needs every parameter to be the kernel or bias of {layers} "
            "called inside loss_fn with the example axis first; use method='vmap' or 'auto'"
        )
    if method == "map" or (method == "auto" and convolves(loss_fn, params, x, y)):
        return StackedGradients(*_map_value_and_grad(loss_fn, params, x, y))
    # value_and_grad: the losses come with the gradients (DP-SGD's history wants them); where
    # they go unused, XLA drops them.
    value_and_grad = jax.vmap(jax.value_and_grad(one_example_loss(loss_fn)), in_axes=(None, 0, 0))
    return StackedGradients(*value_and_grad(params, x, y))


def per_example_gradients(
    loss_fn: LossFn,
    params: Params,
    x: Any,
    y: Any,
    *,
    method: Method = "auto",
    microbatch: int | None = None,
) -> Params:
    """Gradient of each example's loss: a pytree like ``params`` with a leading [n] axis.

    loss_fn(params, x [n, ...], y [n, ...]) -> [n]. Summing over axis 0 gives
    ``summed_gradient``. The output itself is n·|θ| numbers; ``microbatch`` bounds only the
    memory of the computation around it.
    """

    def chunk(xc: Any, yc: Any) -> Params:
        return backward_pass(loss_fn, params, xc, yc, method).gradients()

    return map_microbatches(chunk, x, y, microbatch)


def per_example_norms(
    loss_fn: LossFn,
    params: Params,
    x: Any,
    y: Any,
    *,
    method: Method = "auto",
    microbatch: int | None = None,
) -> jax.Array:
    """‖∇θ lossᵢ‖₂ over the whole parameter pytree, for each example: [n].

    Dense path: ‖x‖·‖δ‖ per layer from one backward pass, no per-example gradient stored;
    vmap path: per-example gradients of one chunk at a time, reduced to norms.
    """

    def chunk(xc: Any, yc: Any) -> jax.Array:
        return backward_pass(loss_fn, params, xc, yc, method).norms()

    return map_microbatches(chunk, x, y, microbatch)
