"""How many parameters a model has: per layer and in total, from its params pytree.

The lecture's count: with |x| = 40 inputs and |h| = 20 hidden units, θ⁽ʰ⁾ has 40 × 20 = 800
weights. A Dense layer here stores them as ``kernel [40, 20]`` (800) plus ``bias [20]`` (20):
the slides fold the bias into θ⁽ʰ⁾ through x₀ = 1 and do not count it in their 800, so the
lecture's number is the kernel alone and the layer's count is 820
(:func:`dense_parameter_count` with and without ``bias``).
"""

from __future__ import annotations

import math

import jax

from cs109nn.models.model import Params


def _name(key) -> str:
    return str(getattr(key, "key", getattr(key, "idx", getattr(key, "name", key))))


def parameter_counts(params: Params) -> dict[str, int]:
    """``{layer path: number of parameters}``; a layer is the parent of its leaves.

    For flax params ``{'params': {'hidden_0': {'kernel', 'bias'}, ...}}`` the keys are
    ``'params/hidden_0'``, ...; a leaf directly at the top is its own entry.
    """
    counts: dict[str, int] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        names = [_name(k) for k in path]
        layer = "/".join(names[:-1]) if len(names) > 1 else "/".join(names)
        counts[layer] = counts.get(layer, 0) + math.prod(jax.numpy.shape(leaf))
    return counts


def parameter_count(params: Params) -> int:
    """Total number of scalar parameters in ``params``."""
    return sum(math.prod(jax.numpy.shape(leaf)) for leaf in jax.tree.leaves(params))


def dense_parameter_count(num_inputs: int, num_outputs: int, *, bias: bool = True) -> int:
    """Parameters of one fully connected layer: ``num_inputs · num_outputs`` weights, plus
    ``num_outputs`` biases if ``bias``. The lecture's |x| = 40, |h| = 20: 800 weights, 820."""
    return num_inputs * num_outputs + (num_outputs if bias else 0)
