"""experiments/depth_width.py and its figure: a small sweep of it, the heatmap per data set,
and one cell's number against pandas on results.csv."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from cs109nn.report import write_report
from cs109nn.report.depth_width_figure import (
    config_architecture,
    depth_width_cells,
    depth_width_figures,
    parse_mlp_spec,
)
from cs109nn.report.ranking import rank_by_dataset
from cs109nn.report.read import read_run
from cs109nn.sweep import apply_overrides, run_sweep
from cs109nn.sweep.spec import load_experiment

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "depth_width.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_parse_mlp_spec() -> None:
    assert parse_mlp_spec("softmax-mlp:16x16:relu") == ("softmax-mlp:*:relu", 2, 16)
    assert parse_mlp_spec("mlp:8") == ("mlp:*", 1, 8)
    assert parse_mlp_spec("mlp:4x4x4:tanh:he") == ("mlp:*:tanh:he", 3, 4)
    assert parse_mlp_spec("mlp:64x16:relu") is None  # unequal widths: no cell
    assert parse_mlp_spec("logreg") is None
    assert parse_mlp_spec("convnet:16x32") is None


def test_full_config_is_the_grid() -> None:
    spec = load_experiment(EXPERIMENT)
    assert spec.datasets == ("spirals", "digits")
    # one group per depth at the widest width; the widths are masked members
    cells = {
        config_architecture({"model": m, "width": w, "depth": math.inf})[1:]
        for m in spec.models
        for w in spec.width
    }
    assert cells == {(d, w) for d in (1, 2, 3) for w in (4, 16, 64)}
    assert {parse_mlp_spec(m)[2] for m in spec.models} == {64}


def test_config_architecture_reads_a_members_own_width_and_depth() -> None:
    assert config_architecture({"model": "mlp:64x64x64:relu", "width": 16.0, "depth": 2.0}) == (
        "mlp:*:relu",
        2,
        16,
    )
    assert config_architecture({"model": "mlp:64x16", "width": 8.0}) == ("mlp:*", 2, 8)
    assert config_architecture({"model": "mlp:64x16", "width": math.inf}) is None


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = apply_overrides(
        load_experiment(EXPERIMENT),
        [
            "seeds=0,1",
            "steps=20",
            "eval_every=10",
            "n_examples=120",
            "learning_rate=0.01,0.03",
            "models=softmax-mlp:16:relu,softmax-mlp:16x16:relu",
            "width=4,16",
        ],
    )
    return run_sweep(spec, tmp_path_factory.mktemp("depth_width"))


def test_figure_per_dataset_and_a_cell_against_pandas(small_run: Path, tmp_path: Path) -> None:
    run = read_run(small_run)
    rankings = rank_by_dataset(run.rows, run.columns)
    paths = depth_width_figures(run, rankings, tmp_path)
    assert sorted(p.name for p in paths) == ["depth_width_digits.png", "depth_width_spirals.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5_000

    # Independently: for depth 2, width 4 on digits (members of width 4 in the 16x16 group),
    # the learning rate with the best mean validation accuracy over (non-diverged) seeds, and
    # its mean test accuracy.
    table = pd.read_csv(small_run / "results.csv")
    model = table[(table.dataset == "digits") & (table.model == "softmax-mlp:16x16:relu")]
    model = model[model.width == 4]
    model = model[~model.diverged.astype(bool)]
    by_lr = model.groupby("learning_rate")[["final_val_acc", "final_val_ll", "final_test_acc"]]
    means = by_lr.mean().sort_values(["final_val_acc", "final_val_ll"], ascending=False)
    best_lr = means.index[0]
    cell = depth_width_cells(rankings["digits"])["softmax-mlp:*:relu"][(2, 4)]
    assert cell.learning_rate == pytest.approx(best_lr)
    assert cell.test.mean == pytest.approx(means.final_test_acc.iloc[0], abs=1e-9)
    assert cell.test.n == int((model.learning_rate == best_lr).sum())
    test_values = model[model.learning_rate == best_lr].final_test_acc
    if test_values.nunique() > 1:
        assert cell.test.low < cell.test.mean < cell.test.high
    assert set(depth_width_cells(rankings["spirals"])["softmax-mlp:*:relu"]) == {
        (1, 4),
        (2, 4),
        (1, 16),
        (2, 16),
    }


def test_report_names_every_config_and_opens_with_the_claim(small_run: Path) -> None:
    report = write_report(small_run).read_text()
    assert "**Claim tested:** A bigger network can learn a more complex function" in report
    for dataset in ("spirals", "digits"):
        line = next(x for x in report.splitlines() if x.startswith(f"- {dataset}: "))
        for model in ("softmax-mlp:16:relu width 4", "softmax-mlp:16x16:relu width 16"):
            assert model in line
        assert f"figures/depth_width_{dataset}.png" in report
