"""The rule that ranks members by validation: what successive halving keeps and PBT copies.

Members are ordered by validation accuracy, ties to the higher validation log-likelihood, then
to the lower member index (the report ranks configs by the same two numbers,
``cs109nn.report.ranking``); a member that is not ``eligible`` (diverged, or padding) or whose
accuracy is NaN comes after every other. Never a test metric: selection is honest only on
the validation split.

Array-generic (``xp`` is numpy or ``jax.numpy``) and free of JAX at import, so that the same
function decides on the host (successive halving's rungs) and inside a compiled program
(population-based training's exploit step), and a test can check either against a numpy sort.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# The metric members are ranked by and its tie-break, as the engine's history names them.
RANK_METRIC = "val_acc"
TIE_BREAK_METRIC = "val_ll"


def member_order(acc: Any, ll: Any, eligible: Any = None, *, xp: Any = np) -> Any:
    """Member indices [M], best first: by ``acc`` [M] descending, then ``ll`` [M]
    descending, then index; members not ``eligible`` [M] (bool) or with NaN ``acc`` last
    (NaN ``ll`` ranks below any finite LL of the same accuracy)."""
    acc, ll = xp.asarray(acc), xp.asarray(ll)
    usable = ~xp.isnan(acc)
    if eligible is not None:
        usable = usable & xp.asarray(eligible)
    worst = -xp.inf
    acc_key = xp.where(usable, acc, worst)
    ll_key = xp.where(usable & ~xp.isnan(ll), ll, worst)
    index = xp.arange(acc.shape[0])
    # lexsort: the last key is the primary one; negated for "descending", index ascending
    return xp.lexsort((index, -ll_key, -acc_key, ~usable))
