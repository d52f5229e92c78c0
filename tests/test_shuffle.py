"""The minibatch order (``cs109nn.train.shuffle``): a permutation of [0, n) for every key and
n, each slot's position uniform over [0, n) (a chi-square over keys, scipy), and one member's
order the same whether it runs alone or among many (vmapped)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cs109nn.train.shuffle import permuted_positions

positions = jax.jit(permuted_positions)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 3000), seed=st.integers(0, 2**31 - 1))
def test_every_key_gives_a_permutation_of_every_size(size, seed):
    p = np.asarray(positions(jax.random.key(seed), jnp.arange(size), size))
    np.testing.assert_array_equal(np.sort(p), np.arange(size))


def test_each_slot_lands_anywhere_with_equal_probability():
    size, keys = 12, 12_000
    draw = jax.jit(jax.vmap(lambda key: permuted_positions(key, jnp.arange(size), size)))
    p = np.asarray(draw(jax.random.split(jax.random.key(1), keys)))
    for slot in (0, 5, 11):
        counts = np.bincount(p[:, slot], minlength=size)
        assert stats.chisquare(counts).pvalue > 1e-3, (slot, counts)
    # and two slots are not tied together: the pair (slot 0, slot 1) over all ordered pairs
    pairs = np.bincount(p[:, 0] * size + p[:, 1], minlength=size * size)
    pairs = pairs[np.arange(size * size) % (size + 1) != 0]  # the diagonal cannot occur
    assert stats.chisquare(pairs).pvalue > 1e-3


def test_a_members_order_is_its_own_alone_or_vmapped():
    keys = lambda: jax.random.split(jax.random.key(2), 5)  # noqa: E731  (fresh: no key reuse)
    slots = jnp.arange(64, 128)
    together = jax.jit(jax.vmap(lambda k: permuted_positions(k, slots, 1151)))(keys())
    for i in range(5):
        np.testing.assert_array_equal(together[i], positions(keys()[i], slots, 1151))
