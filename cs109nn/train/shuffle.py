"""The minibatch order of an epoch without sorting: a keyed permutation evaluated at the slots.

Shuffling a training set of n examples by ``jax.random.permutation`` sorts n random keys at
every step (it cost 0.22 ms of a 0.28 ms member-step for an MLP on digits, batch 64, and it does
not vectorise over members). A step needs only its batch's B positions of the epoch's
permutation, so they are computed pointwise instead: a balanced Feistel network on 2h-bit
integers (2^(2h) >= n; 8 rounds of the lowbias32 integer hash, keyed by 8 random words of the
member's shuffle stream for the epoch), walked back into [0, n) (cycle walking: applying the
network again until the value lands in range keeps it a bijection of [0, n)). O(B) work per
step, about 0.005 ms; a permutation of [0, n) for every key (tested for every n up to
thousands), each slot's position uniform over [0, n) (tested by a chi-square over keys).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

# Feistel rounds: 4 leave small domains measurably non-uniform (a chi-square over 20,000 keys
# rejects n = 10), 8 pass.
ROUNDS = 8


def _mix(x: jax.Array) -> jax.Array:
    """lowbias32 (C. Wellons' integer hash): a bijection of uint32 with a strong avalanche."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def permuted_positions(key: jax.Array, slots: jax.Array, size: jax.Array | int) -> jax.Array:
    """Where a random permutation of [0, size) chosen by ``key`` sends ``slots`` [B] (each in
    [0, size); ``size`` may be traced): int32 [B], distinct for distinct slots."""
    size = jnp.asarray(size, jnp.uint32)
    bits = jnp.ceil(jnp.log2(jnp.maximum(size, 2).astype(jnp.float32))).astype(jnp.uint32)
    half = jnp.maximum((bits + 1) // 2, 1)
    mask = (jnp.uint32(1) << half) - jnp.uint32(1)
    round_keys = jax.random.bits(key, (ROUNDS,), jnp.uint32)

    def encrypt(p: jax.Array) -> jax.Array:
        left, right = p >> half, p & mask
        for r in range(ROUNDS):
            left, right = right, left ^ (_mix(right ^ round_keys[r]) & mask)
        return (left << half) | right

    def walk(p: jax.Array) -> jax.Array:
        return jnp.where(p < size, p, encrypt(p))

    p = encrypt(slots.astype(jnp.uint32))
    p = lax.while_loop(lambda p: jnp.any(p >= size), walk, p)
    return p.astype(jnp.int32)
