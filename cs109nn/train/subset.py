"""A member's training subset: learning curves over the training-set size in one program.

A learning curve over n (Ng & Jordan's Naive Bayes against logistic regression) needs, for each
size, models fitted on many random subsets of that size. Subsets of different sizes have
different shapes; as weights over the whole training split they all have one: example i weighs
1 when it is in the member's subset and 0 when not, and every mean over the training set (the
objective, the train metrics, Naive Bayes' counts) becomes the weighted mean. So the size is a
traced hyperparameter (``Hyperparameters.train_size``) and a grid over it is a member axis.

The subset is stratified -- each class keeps its share of the split, by the largest-remainder
rule, so the sizes add up to exactly ``round(train_size)`` -- and random within each class, from
the member's own ``subset`` key stream: a member's subset depends on its seed and size alone,
and a trained model and a fitted one with the same seed and size see the same examples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn.errors import ConfigError

# Quotas are computed in exact integers, size x count < 2^32: subsets of at most this many
# examples (the whole split, whatever its size, is never computed: it is everything).
MAX_SUBSET_SPLIT = 65_535


def class_quotas(counts: jax.Array, size: jax.Array) -> jax.Array:
    """``[K]`` examples to keep per class: ``size`` shared in proportion to ``counts [K]`` by the
    largest-remainder rule (floors first, then one more for the largest remainders; equal
    remainders by class order), each at most its count. The remainders are exact integers, so
    equal shares tie exactly. ``size`` at or above ``Σ counts`` (inf included) keeps
    everything."""
    counts = jnp.asarray(counts).astype(jnp.uint32)
    total = jnp.sum(counts)
    size = jnp.clip(jnp.round(jnp.asarray(size, jnp.float32)), 0.0, total.astype(jnp.float32))
    size = size.astype(jnp.uint32)
    product = size * counts  # exact for splits of at most MAX_SUBSET_SPLIT examples
    floors = product // total
    remainders = product - floors * total  # numerators of the shares' fractional parts
    left = size - jnp.sum(floors)  # < K examples still to hand out
    # float32 holds every remainder (< total < 2^24) exactly: the sort sees exact ties
    order = jnp.argsort(-remainders.astype(jnp.float32), stable=True)
    rank = jnp.argsort(order)
    quotas = jnp.minimum(floors + (rank < left), counts)
    return jnp.where(size >= total, counts, quotas).astype(jnp.int32)


def subset_weights(key: jax.Array, y: jax.Array, size: jax.Array, num_classes: int) -> jax.Array:
    """``[n]`` float32 weights, 1 on a stratified random subset of ``round(size)`` of the ``n``
    examples with labels ``y [n]`` in {0..K−1}, 0 elsewhere; all ones when ``size >= n``."""
    y = jnp.asarray(y).astype(jnp.int32)
    counts = jnp.bincount(y, length=num_classes)
    quotas = class_quotas(counts, size)
    # a random order within each class: sort by (class, uniform); an example's rank within its
    # class is its sorted position less the number of examples of earlier classes
    u = jax.random.uniform(key, y.shape)
    position = jnp.argsort(jnp.lexsort((u, y)))  # (y + u would round into the next class)
    start = jnp.cumsum(counts) - counts
    rank_in_class = position - start[y]
    return (rank_in_class < quotas[y]).astype(jnp.float32)


def check_subset_sizes(train_sizes: np.ndarray, num_train: int) -> None:
    """A ConfigError when members ask for a subset (``train_size`` below the split's size) of a
    split larger than ``MAX_SUBSET_SPLIT`` examples, whose quotas would not be exact."""
    if num_train > MAX_SUBSET_SPLIT and np.any(np.asarray(train_sizes) < num_train):
        raise ConfigError(
            f"train_size below the split's size needs a training split of at most "
            f"{MAX_SUBSET_SPLIT} examples (the quotas are exact integers); this one has "
            f"{num_train}"
        )
