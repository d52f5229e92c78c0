"""Paired comparisons of two configs over the seeds they share: a paired t-test and an exact
(or seeded Monte Carlo) sign-flip permutation test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from cs109nn.report.intervals import finite_array, standard_error, t_quantile
from cs109nn.report.ranking import ConfigSummary

# Up to this many pairs the sign-flip test counts all 2^n patterns; named for the report.
SIGN_FLIP_EXACT_UP_TO = 16


class PairedTest(NamedTuple):
    """Paired t-test of a - b: mean difference, its confidence interval, t and p (two-sided)."""

    mean_difference: float
    low: float
    high: float
    t_statistic: float
    p_value: float
    n: int


def paired_t_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedTest:
    """Paired t-test of H0: E[a - b] = 0 over matched replicates (``scipy.stats.ttest_rel``).

    With fewer than two pairs nothing is testable: bounds, t and p are NaN. When every
    difference is the same (zero spread), the answer is exact rather than NaN: p = 1 if the
    differences are all zero, p = 0 otherwise.
    """
    a_array, b_array = finite_array(a), finite_array(b)
    if a_array.shape != b_array.shape:
        raise ValueError(f"paired samples differ in length: {a_array.size} vs {b_array.size}")
    differences = a_array - b_array
    n = differences.size
    if n < 2:
        mean = float(differences.mean()) if n else math.nan
        return PairedTest(mean, math.nan, math.nan, math.nan, math.nan, n)
    mean = float(differences.mean())
    sem = standard_error(differences)
    if sem == 0.0:
        if mean == 0.0:
            return PairedTest(0.0, 0.0, 0.0, 0.0, 1.0, n)
        return PairedTest(mean, mean, mean, math.copysign(math.inf, mean), 0.0, n)
    t = mean / sem
    half_width = float(t_quantile(confidence, n - 1)) * sem
    p_value = float(2.0 * stats.t.sf(abs(t), n - 1))
    return PairedTest(mean, mean - half_width, mean + half_width, t, p_value, n)


def sign_flip_test(
    a: Sequence[float],
    b: Sequence[float],
    num_permutations: int = 20_000,
    seed: int = 0,
    exact_up_to: int = SIGN_FLIP_EXACT_UP_TO,
) -> float:
    """Two-sided sign-flip permutation p-value of H0: a - b is symmetric about zero.

    Under H0 each difference's sign is a fair coin. Exact (all 2^n sign patterns) for
    ``n <= exact_up_to``; beyond, ``num_permutations`` seeded random patterns, with the
    observed one counted so the p-value is never zero.
    """
    differences = finite_array(a) - finite_array(b)
    n = differences.size
    if n == 0:
        return math.nan
    observed = abs(differences.mean())
    tolerance = 1e-12 * max(1.0, observed)  # so that ties with the observed mean count
    if n <= exact_up_to:
        patterns = np.arange(2**n)[:, None] >> np.arange(n)[None, :] & 1
        means = (1 - 2 * patterns) @ differences / n
        return float(np.mean(np.abs(means) >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(num_permutations, n))
    extreme = np.sum(np.abs(signs @ differences / n) >= observed - tolerance)
    return float((extreme + 1) / (num_permutations + 1))


class PairedComparison(NamedTuple):
    """``a`` vs ``b`` over the seeds where both members finished with a value.

    ``test`` is the paired t-test of a - b; ``sign_flip_p_value`` the permutation p-value.
    """

    seeds: list[Any]
    test: PairedTest
    sign_flip_p_value: float


def compare_configs(
    a: ConfigSummary, b: ConfigSummary, confidence: float = 0.95
) -> PairedComparison:
    """Paired comparison of two configs' summaries, matched by seed.

    Seeds present in only one config, or where either member diverged, are left out.
    """
    b_by_seed = dict(zip(b.seeds, b.values, strict=True))
    shared = [
        (seed, value, b_by_seed[seed])
        for seed, value in zip(a.seeds, a.values, strict=True)
        if seed in b_by_seed
    ]
    seeds = [seed for seed, _, _ in shared]
    a_values = [value for _, value, _ in shared]
    b_values = [value for _, _, value in shared]
    return PairedComparison(
        seeds=seeds,
        test=paired_t_test(a_values, b_values, confidence),
        sign_flip_p_value=sign_flip_test(a_values, b_values),
    )
