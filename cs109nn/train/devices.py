"""Placing the member axis on every device JAX sees: mesh, padding, global arrays, gathering.

On one process ``jax.devices()`` are the local devices; under ``jax.distributed`` they are every
process's, and the same code shards members over all of them (multi-controller SPMD).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MEMBERS = "members"


def member_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh whose single axis, ``members``, spans ``devices`` (default: all devices)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (MEMBERS,))


def ceil_div(a: int, b: int) -> int:
    """The least integer >= a / b (for positive ints)."""
    return -(-a // b)


def padded_size(num_members: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that holds ``num_members`` members."""
    return ceil_div(num_members, multiple) * multiple


def pad_members(tree, size: int):
    """Pad every leaf's leading member axis to ``size`` by repeating member 0.

    Padding members train on copies of member 0's key and hyperparameters; they are dropped
    from every result, so they cannot change a real member's numbers.
    """

    def pad(leaf: np.ndarray) -> np.ndarray:
        extra = size - leaf.shape[0]
        return leaf if extra == 0 else np.concatenate([leaf, np.repeat(leaf[:1], extra, 0)])

    return jax.tree.map(pad, tree)


def global_array(value: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global jax.Array from a host array every process holds in full (same values)."""
    value = np.asarray(value)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def shardings(mesh: Mesh) -> tuple[NamedSharding, NamedSharding]:
    """(replicated, split along members) shardings on ``mesh``."""
    return NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec(MEMBERS))


def to_host(tree):
    """Gather a (possibly multi-process) pytree of global arrays to numpy on every process."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)
