"""experiments/generative_vs_discriminative.py at a small size: every figure, the claim line,
and a point of the learning curve against pandas on results.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cs109nn.report import write_report
from cs109nn.report.read import read_run
from cs109nn.report.training_size_figure import training_size_points
from cs109nn.sweep import apply_overrides, run_sweep
from cs109nn.sweep.spec import load_experiment

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "generative_vs_discriminative.py"
CS109 = "../shared/data/cs109"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = apply_overrides(
        load_experiment(EXPERIMENT),
        [
            "datasets=cs109:heart,ratings",
            "seeds=0,1,2",
            "steps=40",
            "eval_every=20",
            "train_size=8,32,inf",
            f"data_dir={CS109}",
        ],
    )
    run_dir = run_sweep(spec, tmp_path_factory.mktemp("generative"))
    write_report(run_dir)
    return run_dir


def test_every_figure_and_the_claim_line(small_run: Path) -> None:
    report = (small_run / "report.md").read_text()
    assert "**Claim tested:** Naive Bayes (generative)" in report
    for dataset, name in (("cs109:heart", "cs109_heart"), ("ratings", "ratings")):
        figure = small_run / "figures" / f"training_size_{name}.png"
        assert figure.read_bytes().startswith(b"\x89PNG")
        assert f"figures/training_size_{name}.png" in report
        line = next(x for x in report.splitlines() if x.startswith(f"- {dataset}: at n = 8,"))
        assert "naive-bayes" in line and "logreg" in line and "(all)" in line


def test_a_curve_point_against_pandas(small_run: Path) -> None:
    run = read_run(small_run)
    table = pd.read_csv(small_run / "results.csv")
    n_train = run.manifest["data"]["ratings"]["n_train"]
    points = training_size_points(run.rows, "ratings", n_train)
    assert [p.size for p in points["naive-bayes"]] == [8, 32, n_train]
    for size, point in zip((8.0, 32.0, float("inf")), points["logreg"], strict=True):
        rows = table[(table.dataset == "ratings") & (table.model == "logreg")]
        rows = rows[rows.train_size == size]
        assert point.test.mean == pytest.approx(rows.final_test_acc.mean(), abs=1e-9)
        assert point.n_seeds == 3
