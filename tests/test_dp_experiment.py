"""experiments/dp.py and its figure: a small sweep, the PNG, one plotted value against pandas
on results.csv, and the non-private member (C = inf, σ = 0) against a plain (dp=False) run."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cs109nn.report import write_report
from cs109nn.report.dp_figure import dp_figures, dp_points
from cs109nn.report.read import read_run
from cs109nn.sweep import apply_overrides, run_sweep
from cs109nn.sweep.spec import load_experiment

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "dp.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = [
    "seeds=0,1",
    "steps=20",
    "eval_every=10",
    "n_examples=200",
    "learning_rate=0.1,0.5",
    "noise_multiplier=0,1",
    "clip_norm=1,inf",
]


def test_full_config_has_the_non_private_member() -> None:
    spec = load_experiment(EXPERIMENT)
    assert spec.dp and spec.datasets == ("digits",)
    assert math.inf in spec.clip_norm and 0.0 in spec.noise_multiplier


@pytest.fixture(scope="module")
def small_spec():
    return apply_overrides(load_experiment(EXPERIMENT), SMALL)


@pytest.fixture(scope="module")
def small_run(small_spec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sweep(small_spec, tmp_path_factory.mktemp("dp"))


def test_figure_and_a_point_against_pandas(small_run: Path, tmp_path: Path) -> None:
    run = read_run(small_run)
    paths = dp_figures(run, None, tmp_path)
    assert paths == [tmp_path / "dp_digits.png"]
    assert paths[0].read_bytes()[:8] == PNG_MAGIC

    frame = pd.read_csv(small_run / "results.csv")
    frame = frame[(frame.clip_norm == 1.0) & (frame.noise_multiplier == 1.0)]
    frame = frame[~frame.diverged.astype(bool)]
    by_lr = frame.groupby("learning_rate")
    best_lr = by_lr.final_val_acc.mean().idxmax()
    expected = by_lr.final_test_acc.mean()[best_lr]
    point = dp_points(run.rows, "digits")[(1.0, 1.0)]
    assert point.learning_rate == pytest.approx(best_lr)
    assert point.test.mean == pytest.approx(expected, abs=1e-9)
    assert point.test.n == len(frame[frame.learning_rate == best_lr])


def test_no_figure_without_a_noise_grid(small_run: Path, tmp_path: Path) -> None:
    run = read_run(small_run)
    run.rows = [r for r in run.rows if r["noise_multiplier"] == 0.0]
    assert dp_figures(run, None, tmp_path) == []


def test_non_private_member_is_plain_sgd(small_spec, small_run: Path, tmp_path: Path) -> None:
    plain_spec = dataclasses.replace(small_spec, dp=False, clip_norm=(), noise_multiplier=())
    plain = pd.read_csv(run_sweep(plain_spec, tmp_path / "plain") / "results.csv")
    private = pd.read_csv(small_run / "results.csv")
    private = private[np.isinf(private.clip_norm) & (private.noise_multiplier == 0.0)]
    keys = ["learning_rate", "seed"]
    merged = private.merge(plain, on=keys, suffixes=("_dp", "_plain"))
    assert len(merged) == len(plain) == 4  # 2 learning rates x 2 seeds
    for column in ("final_test_acc", "final_train_ll"):
        np.testing.assert_allclose(
            merged[f"{column}_dp"], merged[f"{column}_plain"], rtol=1e-5, atol=1e-5
        )


def test_report_opens_with_the_claim_and_the_non_private_figure(small_run: Path) -> None:
    report = write_report(small_run).read_text()
    assert "**Claim tested:** Differential privacy costs test accuracy" in report
    line = next(x for x in report.splitlines() if x.startswith("- digits: non-private "))
    frame = pd.read_csv(small_run / "results.csv")
    plain = frame[np.isinf(frame.clip_norm) & (frame.noise_multiplier == 0.0)]
    by_lr = plain.groupby("learning_rate")[["final_val_acc", "final_val_ll", "final_test_acc"]]
    best = by_lr.mean().sort_values(["final_val_acc", "final_val_ll"], ascending=False).iloc[0]
    assert line.startswith(f"- digits: non-private {best.final_test_acc:.3f}")
    assert "figures/dp_digits.png" in report
