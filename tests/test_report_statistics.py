"""cs109nn.report.statistics against scipy.stats and against simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cs109nn.report.configs import (
    group_by_config,
    label_columns,
    primary_metric,
    varying_columns,
)
from cs109nn.report.statistics import (
    bootstrap_interval,
    compare_configs,
    curve_t_interval,
    paired_t_test,
    rank_configs,
    sign_flip_test,
    student_t_cdf,
    student_t_quantile,
    student_t_two_sided_p,
    summarize_config,
    t_interval,
)


@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 7, 12, 30, 119, 1000, 1e5])
def test_student_t_quantile_matches_scipy_ppf(df: float) -> None:
    for p in [1e-8, 0.001, 0.025, 0.05, 0.3, 0.5, 0.7, 0.95, 0.975, 0.995, 0.9999]:
        expected = stats.t.ppf(p, df)
        assert student_t_quantile(p, df) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("df", [1, 2, 5, 29, 300])
def test_student_t_cdf_and_tail_match_scipy(df: float) -> None:
    for t in [-60.0, -4.0, -1.0, -0.05, 0.0, 0.3, 2.0, 7.5, 200.0]:
        assert student_t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), rel=1e-9, abs=1e-300)
        expected_p = 2 * stats.t.sf(abs(t), df)
        assert student_t_two_sided_p(t, df) == pytest.approx(expected_p, rel=1e-9, abs=1e-300)


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


def _row(seed: int, lr: float, acc: float | None, diverged: bool = False, **extra) -> dict:
    return {
        "group": "g0",
        "member": seed,
        "seed": seed,
        "model": "mlp",
        "learning_rate": lr,
        "final_test_acc": acc,
        "final_train_acc": acc,
        "diverged": diverged,
        "diverged_step": 3 if diverged else -1,
        "group_wall_s": 1.5 + seed,  # timings differ per row and must not split configs
        **extra,
    }


def test_group_by_config_ignores_seed_member_metrics_and_timings() -> None:
    rows = [_row(s, lr, 0.5, note="x") for lr in (0.1, 1.0) for s in range(3)]
    groups = group_by_config(rows)
    assert len(groups) == 2
    for config, members in groups.items():
        assert dict(config) == {
            "model": "mlp",
            "learning_rate": members[0]["learning_rate"],
            "note": "x",
        }
        assert [m["seed"] for m in members] == [0, 1, 2]
    assert varying_columns(groups) == ["learning_rate"]


def test_diverged_members_are_excluded_from_the_mean_and_counted() -> None:
    rows = [_row(0, 0.1, 0.8), _row(1, 0.1, None, diverged=True), _row(2, 0.1, 0.6)]
    ((config, members),) = group_by_config(rows).items()
    summary = summarize_config(config, members, "final_test_acc")
    assert summary.n == 2 and summary.n_diverged == 1 and summary.n_missing == 0
    assert summary.t.mean == pytest.approx(0.7)
    assert summary.seeds == [0, 2]


def test_missing_test_values_fall_back_to_train_metric_and_are_counted() -> None:
    rows = [_row(0, 0.1, 0.8), _row(1, 0.1, 0.9)]
    for row in rows:
        row["final_test_acc"] = None
    assert primary_metric(rows) == "final_train_acc"
    ((config, members),) = group_by_config(rows).items()
    assert summarize_config(config, members, "final_test_acc").n_missing == 2


def test_rank_configs_orders_by_mean_and_puts_all_diverged_configs_last() -> None:
    rows = [_row(s, 0.01, 0.6 + 0.01 * s) for s in range(3)]
    rows += [_row(s, 0.1, 0.8 + 0.01 * s) for s in range(3)]
    rows += [_row(s, 10.0, None, diverged=True) for s in range(3)]
    ranking = rank_configs(rows, "final_test_acc")
    assert [dict(s.config)["learning_rate"] for s in ranking] == [0.1, 0.01, 10.0]
    assert ranking[-1].n == 0 and ranking[-1].n_diverged == 3


def test_compare_configs_pairs_members_by_seed_and_skips_diverged_seeds() -> None:
    a_rows = [_row(s, 0.1, 0.8 + 0.02 * s) for s in range(4)]
    b_rows = [_row(s, 0.01, 0.7 + 0.01 * s) for s in (3, 2, 1)]  # other order, no seed 0
    b_rows.append(_row(0, 0.01, None, diverged=True))
    ((ka, ra),) = group_by_config(a_rows).items()
    ((kb, rb),) = group_by_config(b_rows).items()
    comparison = compare_configs(
        summarize_config(ka, ra, "final_test_acc"), summarize_config(kb, rb, "final_test_acc")
    )
    assert sorted(comparison.seeds) == [1, 2, 3]
    a = np.array([0.8 + 0.02 * s for s in comparison.seeds])
    b = np.array([0.7 + 0.01 * s for s in comparison.seeds])
    assert comparison.test.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-8)


def test_label_columns_name_what_tells_configs_apart_and_skip_what_follows() -> None:
    configs = [
        (("dataset", "digits"), ("model", m), ("param_count", p), ("learning_rate", lr))
        for m, p in (("logreg", 65), ("mlp", 1300))
        for lr in (0.1, 1.0)
    ]
    # param_count follows from model; dataset is constant and splits the report anyway.
    assert label_columns(configs) == ["model", "learning_rate"]
