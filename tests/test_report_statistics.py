"""cs109nn.report.intervals and .significance against scipy.stats and against simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cs109nn.report.intervals import (
    bootstrap_interval,
    curve_t_interval,
    t_interval,
    wilson_interval,
)
from cs109nn.report.significance import paired_t_test, sign_flip_test


def test_t_interval_matches_scipy_t_interval_on_random_data() -> None:
    rng = np.random.default_rng(0)
    for n in [2, 3, 5, 10, 40]:
        for confidence in [0.9, 0.95, 0.99]:
            values = rng.normal(0.7, 0.05, size=n)
            interval = t_interval(values, confidence)
            low, high = stats.t.interval(
                confidence, n - 1, loc=values.mean(), scale=stats.sem(values)
            )
            assert interval.n == n
            assert interval.mean == pytest.approx(values.mean(), rel=1e-12)
            assert interval.low == pytest.approx(low, rel=1e-9)
            assert interval.high == pytest.approx(high, rel=1e-9)


def test_t_interval_of_one_seed_has_a_mean_and_no_bounds() -> None:
    interval = t_interval([0.8])
    assert interval.mean == 0.8 and interval.n == 1
    assert math.isnan(interval.low) and math.isnan(interval.high)


def test_t_interval_refuses_non_finite_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        t_interval([0.5, float("nan")])


def test_paired_t_test_matches_scipy_ttest_rel_on_random_data() -> None:
    rng = np.random.default_rng(1)
    for n in [2, 3, 6, 15, 50]:
        a = rng.normal(0.8, 0.05, size=n)
        b = a - rng.normal(0.01, 0.03, size=n)
        result = paired_t_test(a, b)
        reference = stats.ttest_rel(a, b)
        low, high = reference.confidence_interval(0.95)
        assert result.n == n
        assert result.mean_difference == pytest.approx(np.mean(a - b), rel=1e-12)
        assert result.t_statistic == pytest.approx(reference.statistic, rel=1e-9)
        assert result.p_value == pytest.approx(reference.pvalue, rel=1e-8)
        assert result.low == pytest.approx(low, rel=1e-9)
        assert result.high == pytest.approx(high, rel=1e-9)


def test_paired_t_test_with_constant_differences_is_exact_not_nan() -> None:
    same = paired_t_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert same.p_value == 1.0 and same.mean_difference == 0.0
    shifted = paired_t_test([1.5, 2.5, 3.5], [1.25, 2.25, 3.25])  # exact in binary
    assert shifted.p_value == 0.0 and shifted.t_statistic == math.inf
    assert shifted.mean_difference == 0.25


def test_sign_flip_test_matches_scipy_exact_permutation_test() -> None:
    rng = np.random.default_rng(2)
    for n in [3, 5, 8, 12]:
        a = rng.normal(0.0, 1.0, size=n)
        b = a - rng.normal(0.4, 1.0, size=n)
        reference = stats.permutation_test(
            (a, b),
            lambda x, y, axis: np.mean(x - y, axis=axis),
            permutation_type="samples",
            n_resamples=np.inf,
        )
        assert sign_flip_test(a, b) == pytest.approx(reference.pvalue, rel=1e-12)


def test_sign_flip_test_monte_carlo_agrees_with_exact_count() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 1.0, size=18)
    b = a - rng.normal(0.3, 1.0, size=18)
    exact = sign_flip_test(a, b, exact_up_to=18)
    sampled = sign_flip_test(a, b, exact_up_to=10, num_permutations=20_000, seed=4)
    assert sampled == pytest.approx(exact, abs=0.015)


def test_bootstrap_interval_covers_true_mean_at_about_nominal_rate() -> None:
    rng = np.random.default_rng(5)
    true_mean, trials, n = 0.75, 300, 25
    covered = 0
    for trial in range(trials):
        values = rng.normal(true_mean, 0.04, size=n)
        interval = bootstrap_interval(values, 0.95, num_resamples=2_000, seed=trial)
        covered += interval.low <= true_mean <= interval.high
    # The percentile bootstrap under-covers slightly at small n; 300 trials give a binomial
    # standard error of about 0.013 around the nominal 0.95.
    assert 0.88 <= covered / trials <= 0.99


def test_bootstrap_interval_is_reproducible_from_its_seed() -> None:
    values = np.random.default_rng(6).normal(size=10)
    assert bootstrap_interval(values, seed=7) == bootstrap_interval(values, seed=7)
    assert bootstrap_interval(values, seed=7) != bootstrap_interval(values, seed=8)


def test_curve_t_interval_matches_scalar_interval_at_every_step() -> None:
    rng = np.random.default_rng(9)
    curves = rng.normal(size=(5, 7))
    curves[2, 3] = np.nan  # a step where one member has no value
    mean, low, high = curve_t_interval(curves)
    for step in range(7):
        column = curves[:, step]
        column = column[np.isfinite(column)]
        low_ref, high_ref = stats.t.interval(
            0.95, column.size - 1, loc=column.mean(), scale=stats.sem(column)
        )
        assert mean[step] == pytest.approx(column.mean())
        assert low[step] == pytest.approx(low_ref) and high[step] == pytest.approx(high_ref)


def test_wilson_interval_matches_scipy_binomtest_for_whole_counts() -> None:
    for n in [1, 7, 30, 100, 1000]:
        for confidence in [0.8, 0.95, 0.99]:
            for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
                interval = wilson_interval(k / n, n, confidence)
                reference = stats.binomtest(k, n).proportion_ci(
                    confidence_level=confidence, method="wilson"
                )
                assert interval.mean == k / n and interval.n == n
                assert interval.low == pytest.approx(reference.low, abs=1e-12)
                assert interval.high == pytest.approx(reference.high, abs=1e-12)


def test_wilson_interval_takes_a_proportion_that_is_not_a_whole_count() -> None:
    # A mean over seeds of accuracies on the same 100 examples: 0.7033... is no k/100.
    p_hat, n = np.mean([0.71, 0.69, 0.71]), 100
    interval = wilson_interval(p_hat, n)
    z = stats.norm.ppf(0.975)
    center = (p_hat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p_hat * (1 - p_hat) / n + z**2 / (4 * n**2))
    assert interval.low == pytest.approx(center - half, rel=1e-12)
    assert interval.high == pytest.approx(center + half, rel=1e-12)
    # Between the intervals of the whole counts on either side.
    below, above = wilson_interval(0.70, n), wilson_interval(0.71, n)
    assert below.low < interval.low < above.low and below.high < interval.high < above.high


@pytest.mark.parametrize(
    ("p_hat", "n", "confidence"),
    [(1.2, 100, 0.95), (-0.1, 100, 0.95), (math.nan, 100, 0.95), (0.5, 0, 0.95),
     (0.5, 10.0, 0.95), (0.5, True, 0.95), (0.5, 100, 1.0)],
)  # fmt: skip
def test_wilson_interval_refuses_what_is_not_a_proportion_on_examples(p_hat, n, confidence):
    with pytest.raises(ValueError):
        wilson_interval(p_hat, n, confidence)


def _wilson_coverage(rng: np.random.Generator, p: np.ndarray, n: int) -> float:
    """Share of seeded binomial draws k ~ Bin(n, p) whose Wilson interval holds p."""
    k = rng.binomial(n, p)
    table = [wilson_interval(count / n, n) for count in range(n + 1)]
    low = np.array([interval.low for interval in table])
    high = np.array([interval.high for interval in table])
    return float(np.mean((low[k] <= p) & (p <= high[k])))


def test_wilson_interval_covers_at_about_the_nominal_rate_by_simulation() -> None:
    rng = np.random.default_rng(11)
    trials = 20_000  # Monte Carlo standard error of a coverage near 0.95: about 0.0015
    # At a fixed p the Wilson interval's coverage oscillates with p and n (the binomial is
    # discrete): its exact value is 0.936-0.944 at n = 100 and 0.944-0.949 at n = 400 for these
    # p; 0.02 leaves that and four Monte Carlo standard errors.
    for n in [100, 400]:
        for p in [0.1, 0.3, 0.5, 0.7, 0.9]:
            coverage = _wilson_coverage(rng, np.full(trials, p), n)
            assert abs(coverage - 0.95) <= 0.02, (n, p, coverage)
    # Averaged over p (uniform on [0.05, 0.95]) the oscillation averages out: nominal within
    # 0.007 (the exact average is within 0.002 of 0.95; the rest is Monte Carlo error).
    coverage = _wilson_coverage(rng, rng.uniform(0.05, 0.95, size=trials), 100)
    assert abs(coverage - 0.95) <= 0.007, coverage
