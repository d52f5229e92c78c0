"""cs109nn.report.configs and .ranking: which rows are one config, and the one rule that
ranks configs for the report and the sweep's terminal summary alike: by validation, never by
test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cs109nn.report.configs import group_by_config, label_columns, varying_columns
from cs109nn.report.ranking import (
    best_by_group,
    diverged_members,
    rank_by_dataset,
    rank_configs,
    selection_metric,
    summarize_config,
)
from cs109nn.report.significance import compare_configs


def _row(seed: int, lr: float, acc: float | None, diverged: bool = False, **extra) -> dict:
    return {
        "group": "g0",
        "member": seed,
        "seed": seed,
        "model": "mlp",
        "learning_rate": lr,
        "final_val_acc": acc,
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


# Adapted: the split whose absence means the fallback is now validation, not test.
def test_missing_validation_values_fall_back_to_train_metric_and_are_counted() -> None:
    rows = [_row(0, 0.1, 0.8), _row(1, 0.1, 0.9)]
    for row in rows:
        row["final_val_acc"] = None  # the test values stay: they must not be chosen by
    assert selection_metric(rows) == "final_train_acc"
    ((config, members),) = group_by_config(rows).items()
    assert summarize_config(config, members, "final_val_acc").n_missing == 2


def test_selection_never_uses_a_test_metric_and_a_ranking_refuses_one() -> None:
    rows = [_row(0, 0.1, None), _row(1, 0.1, None)]
    for row in rows:
        row["final_test_acc"] = 0.9  # only test has values: still ranked by train
    assert selection_metric(rows) == "final_train_acc"
    assert rank_configs(rows)[0].metric == "final_train_acc"
    for metric in ("final_test_acc", "final_test_ll"):
        with pytest.raises(ValueError, match="test"):
            rank_configs(rows, metric)


def test_rank_configs_orders_by_mean_and_puts_all_diverged_configs_last() -> None:
    rows = [_row(s, 0.01, 0.6 + 0.01 * s) for s in range(3)]
    rows += [_row(s, 0.1, 0.8 + 0.01 * s) for s in range(3)]
    rows += [_row(s, 10.0, None, diverged=True) for s in range(3)]
    ranking = rank_configs(rows, "final_val_acc")  # adapted: was final_test_acc
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


# Adapted: ranked by validation accuracy, so the tie-break is validation LL (was test).
def test_a_tie_in_mean_accuracy_goes_to_the_higher_mean_ll_then_to_first_appearance() -> None:
    rows = [_row(s, 0.01, 0.75, final_val_ll=-0.5, final_test_ll=-0.1) for s in range(2)]
    rows += [_row(s, 0.1, 0.75, final_val_ll=-0.25, final_test_ll=-0.9) for s in range(2)]
    rows += [_row(s, 1.0, 0.75, final_val_ll=-0.25, final_test_ll=-0.9) for s in range(2)]
    ranking = rank_configs(rows, "final_val_acc")
    assert [dict(s.config)["learning_rate"] for s in ranking] == [0.1, 1.0, 0.01]
    assert [s.mean_ll for s in ranking] == [-0.25, -0.25, -0.5]
    assert ranking[0].ll_metric == "final_val_ll"
    assert rank_configs(rows) == ranking  # the default metric is validation accuracy


def test_a_nan_metric_of_a_member_that_did_not_diverge_is_missing_not_averaged() -> None:
    rows = [_row(0, 0.1, 0.8), _row(1, 0.1, math.nan), _row(0, 1.0, math.nan)]
    best, worst = rank_configs(rows, "final_val_acc")  # adapted: was final_test_acc
    assert best.mean == 0.8 and best.n == 1 and best.n_missing == 1
    assert worst.n == 0 and worst.n_missing == 1 and math.isnan(worst.mean)


# Adapted: the metric chosen is validation accuracy (was test accuracy).
def test_metric_choice_is_validation_accuracy_when_any_member_has_one() -> None:
    rows = [_row(0, 0.1, 0.8), _row(1, 0.1, None)]
    assert selection_metric(rows) == "final_val_acc"
    assert rank_configs(rows)[0].metric == "final_val_acc"


def _sweep_rows() -> list[dict]:
    """Two data sets (planar without validation and test splits), two groups each, three
    learning rates. On digits, test accuracy ranks the configs the other way round from
    validation accuracy: a constructed case where best-on-test and best-on-validation differ."""
    accuracy = {("mlp", 0.1): 0.9, ("mlp", 1.0): 0.85, ("logreg", 0.1): 0.8, ("logreg", 1.0): 0.7}
    rows = []
    for dataset in ("digits", "planar"):
        for model in ("logreg", "mlp"):
            for lr in (0.01, 0.1, 1.0):
                for seed in range(3):
                    acc = accuracy.get((model, lr), 0.6 if model == "mlp" else 0.5) + 0.01 * seed
                    row = _row(seed, lr, None if dataset == "planar" else acc)
                    row.update(group=f"{dataset}-{model}", dataset=dataset, model=model)
                    row["final_train_acc"] = 1.0 - acc  # train accuracy ranks the other way
                    if dataset == "digits":
                        row["final_test_acc"] = 1.5 - acc  # and so does test accuracy
                    rows.append(row)
    return rows


def test_best_by_group_uses_the_reports_rule_and_each_data_sets_metric() -> None:
    rows = _sweep_rows()
    best = best_by_group(rows)
    assert list(best) == ["digits-logreg", "digits-mlp", "planar-logreg", "planar-mlp"]
    for group, summary in best.items():
        # adapted: digits is ranked by validation accuracy (was test accuracy)
        metric = "final_train_acc" if group.startswith("planar") else "final_val_acc"
        mine = [r for r in rows if r["group"] == group]

        def means(name: str, mine=mine) -> dict[float, float]:
            return {
                lr: np.mean([r[name] for r in mine if r["learning_rate"] == lr])
                for lr in (0.01, 0.1, 1.0)
            }

        chosen = means(metric)
        assert summary.metric == metric
        assert dict(summary.config)["learning_rate"] == max(chosen, key=chosen.get)
        assert summary.mean == pytest.approx(max(chosen.values()))
        if group.startswith("digits"):  # the best on test is another config: not chosen
            on_test = means("final_test_acc")
            assert max(on_test, key=on_test.get) != dict(summary.config)["learning_rate"]
    for dataset, ranking in rank_by_dataset(rows).items():
        groups = [summary for group, summary in best.items() if group.startswith(dataset)]
        assert ranking[0] == max(groups, key=lambda summary: summary.mean)  # one rule


def test_diverged_members_are_the_flagged_rows_in_row_order() -> None:
    rows = [_row(0, 0.1, 0.8), _row(1, 10.0, None, diverged=True), _row(2, 10.0, None, True)]
    assert [(r["seed"], r["diverged_step"]) for r in diverged_members(rows)] == [(1, 3), (2, 3)]
