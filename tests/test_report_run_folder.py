"""report.md and figures of a synthetic run folder, checked against numpy and scipy."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cs109nn.cli.main import main
from cs109nn.report import read_results, read_run, write_report

SEEDS = [0, 1, 2, 3, 4]
LEARNING_RATES = [0.01, 0.1, 1.0]
# Expected final test accuracy per (model, learning rate): gaps far wider than the noise, so
# the ranking is known in advance.
BASE_ACCURACY = {
    ("logreg", 0.01): 0.70,
    ("logreg", 0.1): 0.80,
    ("logreg", 1.0): 0.75,
    ("mlp", 0.01): 0.72,
    ("mlp", 0.1): 0.90,
    ("mlp", 1.0): 0.85,
}
DIVERGED = {("mlp", 1.0, 1): 17, ("mlp", 1.0, 3): 42}  # (model, lr, seed) -> step
COLUMNS = [
    "group", "member", "dataset", "model", "optimizer", "steps", "batch_size", "seed",
    "learning_rate", "momentum", "param_count", "final_train_ll", "final_train_acc",
    "final_test_ll", "final_test_acc", "diverged", "diverged_step", "group_wall_s",
    "group_compile_s", "host",
]  # fmt: skip
EVAL_STEPS = np.arange(0, 101, 10)


def _accuracy(dataset: str, model: str, lr: float, seed: int) -> float:
    noise = np.random.default_rng([seed, int(lr * 1000), len(model), len(dataset)])
    return BASE_ACCURACY[(model, lr)] + float(noise.normal(0.0, 0.01))


def write_synthetic_run(run_dir: Path) -> list[dict]:
    """A run folder as the sweep runner writes it, with plain csv/json/numpy."""
    run_dir.mkdir()
    (run_dir / "curves").mkdir()
    rows = []
    for dataset in ("digits", "planar"):  # planar has no test split
        for model in ("logreg", "mlp"):
            group = f"{dataset}-{model}"
            members = []
            for lr in LEARNING_RATES:
                for seed in SEEDS:
                    step = DIVERGED.get((model, lr, seed)) if dataset == "digits" else None
                    acc = _accuracy(dataset, model, lr, seed)
                    members.append((lr, seed, acc, step))
                    rows.append(
                        {
                            "group": group,
                            "member": len(members) - 1,
                            "dataset": dataset,
                            "model": model,
                            "optimizer": "sgd",
                            "steps": 100,
                            "batch_size": 32,
                            "seed": seed,
                            "learning_rate": lr,
                            "momentum": 0.0,
                            "param_count": 65 if model == "logreg" else 1300,
                            "final_train_ll": "nan" if step else -0.3,
                            "final_train_acc": "nan" if step else acc + 0.02,
                            "final_test_ll": "" if dataset == "planar" else -0.4,
                            "final_test_acc": "" if dataset == "planar" or step else acc,
                            "diverged": step is not None,
                            "diverged_step": step if step else -1,
                            "group_wall_s": 3.25,
                            "group_compile_s": 1.5,
                            "host": f"h{seed % 2}",  # unknown column that varies per seed
                        }
                    )
            fraction = (EVAL_STEPS / EVAL_STEPS[-1])[None, :]
            final = np.array([acc for _, _, acc, _ in members])[:, None]
            test_acc = 0.5 + (final - 0.5) * fraction
            for index, (_, _, _, step) in enumerate(members):
                if step is not None:
                    test_acc[index, EVAL_STEPS > step] = np.nan
            np.savez(
                run_dir / "curves" / f"{group}.npz",
                eval_steps=EVAL_STEPS,
                train_ll=-0.7 + 0.4 * np.broadcast_to(fraction, test_acc.shape),
                train_acc=test_acc + 0.02,
                test_ll=-0.7 + 0.3 * np.broadcast_to(fraction, test_acc.shape),
                test_acc=test_acc,
                member=np.arange(len(members)),
                seed=np.array([seed for _, seed, _, _ in members]),
            )
    with (run_dir / "results.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    manifest = {
        "config": {"name": "synthetic"},
        "config_hash": "abc123def456",
        "versions": {"jax": "0.4.35", "numpy": np.__version__},
        "backend": "cpu",
        "devices": ["TFRT_CPU_0", "TFRT_CPU_1"],
        "process_count": 1,
        "git_commit": None,
        "start_time": "2025-01-01T00:00:00Z",
        "end_time": "2025-01-01T00:05:00Z",
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return rows


def _table_rows(report: str, heading: str) -> list[list[str]]:
    """Body rows (cells stripped) of the first Markdown table after ``heading``."""
    lines = report.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    return table


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[dict]]:
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    rows = write_synthetic_run(run_dir)
    path = write_report(run_dir)
    return run_dir, path.read_text(), rows


def _expected_ranking(rows: list[dict], dataset: str, metric: str) -> list[tuple]:
    """(model, lr, values) per config, best mean first, computed with numpy alone."""
    configs = []
    for model in ("logreg", "mlp"):
        for lr in LEARNING_RATES:
            values = np.array(
                [
                    float(r[metric])
                    for r in rows
                    if r["dataset"] == dataset and r["model"] == model
                    and r["learning_rate"] == lr and not r["diverged"]
                ]
            )  # fmt: skip
            configs.append((model, lr, values))
    return sorted(configs, key=lambda config: -config[2].mean())


def test_report_ranks_configs_by_mean_test_accuracy_with_t_intervals(report) -> None:
    run_dir, text, rows = report
    table = _table_rows(text, "## Dataset: digits")
    expected = _expected_ranking(rows, "digits", "final_test_acc")
    assert len(table) == len(expected) == 6
    for rank, (cells, (model, lr, values)) in enumerate(zip(table, expected, strict=True), 1):
        # rank | model | learning_rate | mean | t-CI | bootstrap CI | n | diverged
        assert cells[0] == str(rank)
        assert cells[1] == model and float(cells[2]) == lr
        assert cells[3] == f"{values.mean():.4f}"
        low, high = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
        assert cells[4] == f"[{low:.4f}, {high:.4f}]"
        assert int(cells[6]) == len(values)
        assert int(cells[7]) == 5 - len(values)


def test_report_falls_back_to_train_accuracy_without_a_test_split(report) -> None:
    _, text, rows = report
    planar = text.split("## Dataset: planar", 1)[1]
    assert "ranked by train accuracy" in planar
    table = _table_rows(text, "## Dataset: planar")
    expected = _expected_ranking(rows, "planar", "final_train_acc")
    assert [(c[1], float(c[2]), c[3]) for c in table] == [
        (model, lr, f"{values.mean():.4f}") for model, lr, values in expected
    ]


def test_report_gives_paired_test_of_best_vs_runner_up(report) -> None:
    _, text, rows = report
    section = text.split("## Dataset: digits", 1)[1].split("## Dataset: planar", 1)[0]
    (best_model, best_lr, _), (second_model, second_lr, _) = _expected_ranking(
        rows, "digits", "final_test_acc"
    )[:2]

    def by_seed(model: str, lr: float) -> dict[int, float]:
        return {
            r["seed"]: r["final_test_acc"]
            for r in rows
            if r["dataset"] == "digits" and r["model"] == model
            and r["learning_rate"] == lr and not r["diverged"]
        }  # fmt: skip

    best, second = by_seed(best_model, best_lr), by_seed(second_model, second_lr)
    shared = sorted(set(best) & set(second))
    assert len(shared) == 3  # the runner-up lost seeds 1 and 3 to divergence
    a = np.array([best[seed] for seed in shared])
    b = np.array([second[seed] for seed in shared])
    result = stats.ttest_rel(a, b)
    assert "paired over 3 shared seeds" in section
    assert f"{np.mean(a - b):+.4f}" in section
    assert f"t = {result.statistic:.3f}" in section
    p = result.pvalue
    assert (f"p = {p:.2e}" if p < 1e-3 else f"p = {p:.3f}") in section


def test_report_lists_diverged_members_with_seed_and_step(report) -> None:
    _, text, _ = report
    table = _table_rows(text, "## Diverged members")
    listed = {(c[0], c[4], c[5]) for c in table}
    assert listed == {("digits", "1", "17"), ("digits", "3", "42")}
    assert all("learning_rate=1" in c[1] and "model=mlp" in c[1] for c in table)


def test_report_summarises_the_run_from_its_manifest(report) -> None:
    _, text, _ = report
    assert "`abc123def456`" in text
    assert "| members | 60 |" in text
    assert "| diverged members | 2 |" in text
    assert "| groups | 4 |" in text
    assert "| configs | 12 |" in text  # the varying `host` column is not part of a config
    assert "TFRT_CPU_0" in text and "jax 0.4.35" in text


def test_figures_exist_are_valid_pngs_and_are_linked(report) -> None:
    run_dir, text, _ = report
    names = [
        "learning_curves_digits.png",
        "learning_curves_planar.png",
        "accuracy_vs_learning_rate_digits.png",
        "accuracy_vs_learning_rate_planar.png",
        "diverged.png",
    ]
    import matplotlib.image

    for name in names:
        path = run_dir / "figures" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert f"(figures/{name})" in text
    assert not list((run_dir / "figures").glob("*.tmp"))


def test_read_run_types_rows_and_reads_curves(report) -> None:
    run_dir, _, _ = report
    run = read_run(run_dir)
    row = run.rows[0]
    assert isinstance(row["seed"], int) and isinstance(row["learning_rate"], float)
    assert row["diverged"] is False and row["host"] == "h0"
    diverged = [r for r in run.rows if r["diverged"]]
    assert len(diverged) == 2 and all(r["final_test_acc"] is None for r in diverged)
    curves = run.curves["digits-mlp"]
    assert curves.metrics["test_acc"].shape == (15, len(EVAL_STEPS))
    np.testing.assert_array_equal(curves.eval_steps, EVAL_STEPS)


def test_cli_report_regenerates_and_prints_the_path(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)
    assert main(["report", str(run_dir), "--no-figures"]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.md")
    assert (run_dir / "report.md").read_text().startswith("# Report: run")
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_report_of_a_run_without_results_yet(tmp_path) -> None:
    run_dir = tmp_path / "fresh"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"config_hash": "h", "end_time": None}))
    text = write_report(run_dir).read_text()
    assert "No results yet" in text and "not finished" in text


def test_report_layer_imports_neither_jax_nor_the_sweep() -> None:
    code = (
        "import sys, cs109nn.report, cs109nn.cli.report_command\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'jax' or m.startswith("
        "('cs109nn.sweep', 'cs109nn.train'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_read_results_keeps_the_last_row_of_a_member_and_tolerates_extra_columns(tmp_path) -> None:
    (tmp_path / "results.csv").write_text(
        "group,member,seed,learning_rate,final_test_acc,diverged,diverged_step,new_col\n"
        "g,0,0,0.1,0.5,False,-1,x\n"
        "g,1,1,0.1,,True,7,y\n"
        "g,0,0,0.1,0.75,False,-1,z\n"  # a resumed run rewrote member 0
    )
    columns, rows = read_results(tmp_path)
    assert columns[-1] == "new_col"
    assert [(r["member"], r["final_test_acc"], r["new_col"]) for r in rows] == [
        (0, 0.75, "z"),
        (1, None, "y"),
    ]
    assert rows[1]["diverged"] is True and rows[1]["diverged_step"] == 7


def test_report_reads_the_sweep_runners_nested_manifest(tmp_path) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)
    manifest = {
        "experiment": "lecture",
        "config_hash": "feedbeef",
        "plan": {"groups": ["a", "b", "c", "d", "e"], "models": 75},
        "environment": {
            "versions": {"jax": "0.4.35"},
            "backend": "cpu",
            "device_kinds": ["cpu"],
            "device_count": 8,
            "process_count": 2,
            "git_commit": "0123abc",
            "git_dirty": True,
        },
        "started": "2025-01-01T00:00:00+00:00",
        "finished": None,
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    text = write_report(run_dir, figures=False).read_text()
    for expected in [
        "| experiment | lecture |",
        "`0123abc` (with uncommitted changes)",
        "| started | 2025-01-01T00:00:00+00:00 |",
        "| ended | not finished",
        "| devices | 8 × cpu |",
        "| processes | 2 |",
        "| members | 60 of 75 planned |",
        "| groups | 4 of 5 planned |",
        "jax 0.4.35",
    ]:
        assert expected in text
    assert "## Figures" not in text
