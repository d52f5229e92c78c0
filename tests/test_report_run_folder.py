"""report.md and figures of a synthetic run folder, checked against numpy and scipy; and the
report's refusal of anything the sweep does not write.

The synthetic folder is a constructed case of honest selection: on digits the best config on
validation (mlp, lr 1) is not the best on test (mlp, lr 0.1), and the report must choose the
first and state its test accuracy."""

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
from cs109nn.cli.terminal import print_summary
from cs109nn.report import best_by_group, read_run, write_report
from cs109nn.run_folder_schema import MANIFEST_FORMAT, RunFolderFormatError, results_columns

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
# Expected final validation accuracy: the same gaps, but mlp lr 1 is best on validation while
# mlp lr 0.1 is best on test.
VAL_ACCURACY = {
    ("logreg", 0.01): 0.71,
    ("logreg", 0.1): 0.79,
    ("logreg", 1.0): 0.76,
    ("mlp", 0.01): 0.73,
    ("mlp", 0.1): 0.84,
    ("mlp", 1.0): 0.90,
}
# manifest["data"]: the split sizes the sweep records; planar has neither validation nor test.
DATA = {
    "digits": {"n_train": 1150, "n_val": 287, "n_test": 100, "num_classes": 10},
    "planar": {"n_train": 400, "n_val": 0, "n_test": 0, "num_classes": 2},
}
VAL_FRACTION, DATA_SEED = 0.2, 0
DIVERGED = {("mlp", 1.0, 1): 17, ("mlp", 1.0, 3): 42}  # (model, lr, seed) -> step
# The sweep's header; every value below is computed here, independently of the package.
COLUMNS = results_columns(with_test=True)
HYPERPARAMETERS = {"momentum": 0.0, "weight_decay": 0.0, "init_scale": 1.0}
HYPERPARAMETERS |= {"clip_norm": float("inf"), "noise_multiplier": 0.0, "train_size": float("inf")}
HYPERPARAMETERS |= {"warmup_fraction": 0.0, "final_fraction": 0.0, "decay_rate": 1.0}
HYPERPARAMETERS |= {"decay_interval": 1.0, "width": float("inf"), "depth": float("inf")}
EVAL_STEPS = np.arange(0, 101, 10)
NUM_PARAMS = {"logreg": 65, "mlp": 2400}  # per member: a whole number the sweep writes


def _accuracy(dataset: str, model: str, lr: float, seed: int) -> tuple[float, float]:
    """(test, validation) final accuracy of one member."""
    noise = np.random.default_rng([seed, int(lr * 1000), len(model), len(dataset)])
    test, val = noise.normal(0.0, 0.01, size=2)
    return BASE_ACCURACY[(model, lr)] + float(test), VAL_ACCURACY[(model, lr)] + float(val)


def _rising(final: np.ndarray, members: list[tuple]) -> np.ndarray:
    """[M, T] accuracy rising from 0.5 to each member's ``final``; a diverged member frozen
    from its step on (at its last finite value, as the engine freezes it)."""
    fraction = (EVAL_STEPS / EVAL_STEPS[-1])[None, :]
    curve = 0.5 + (final[:, None] - 0.5) * fraction
    for index, (*_, step) in enumerate(members):
        if step is not None:
            curve[index, EVAL_STEPS > step] = curve[index, EVAL_STEPS <= step][-1]
    return curve


def _curves(members: list[tuple], with_splits: bool) -> dict[str, np.ndarray]:
    """A group's history [M, T]; validation and test curves only ``with_splits``."""
    fraction = (EVAL_STEPS / EVAL_STEPS[-1])[None, :]
    test_acc = _rising(np.array([test for _, _, test, _, _ in members]), members)
    ones = np.ones_like(test_acc)
    curves = {"train_ll": -0.7 + 0.4 * fraction * ones, "train_acc": test_acc + 0.02}
    if with_splits:
        val_acc = _rising(np.array([val for _, _, _, val, _ in members]), members)
        curves |= {"val_ll": -0.7 + 0.35 * fraction * ones, "val_acc": val_acc}
        curves |= {"test_ll": -0.7 + 0.3 * fraction * ones, "test_acc": test_acc}
    return curves


def _manifest(groups: list[str], **changes) -> dict:
    """A manifest as the sweep writes it (``changes`` replace top-level or environment keys)."""
    environment = {
        "versions": {"python": "3.11.9", "jax": "0.4.35", "numpy": np.__version__},
        "flags": {"jax_enable_x64": False},
        "backend": "cpu",
        "device_kinds": ["cpu"],
        "device_count": 2,
        "local_device_count": 2,
        "process_count": 1,
        "host": {"system": "Linux", "machine": "x86_64", "cpu": "test"},
        "git_commit": None,
        "git_dirty": None,
    }
    environment |= {k: v for k, v in changes.items() if k in environment}
    manifest = {
        "format": MANIFEST_FORMAT,
        "experiment": "synthetic",
        "config": {
            "name": "synthetic",
            "seeds": SEEDS,
            "data_seed": DATA_SEED,
            "val_fraction": VAL_FRACTION,
        },
        "data": DATA,
        "config_hash": "abc123def456",
        "plan": {"groups": groups, "members_per_group": 15, "models": 15 * len(groups)},
        "results_columns": list(COLUMNS),
        "environment": environment,
        "started": "2025-01-01T00:00:00+00:00",
        "finished": "2025-01-01T00:05:00+00:00",
        "sessions": [],
    }
    manifest |= {k: v for k, v in changes.items() if k not in environment}
    session = {"started": manifest["started"], "finished": manifest["finished"]}
    manifest["sessions"] = [session | {"environment": environment, "groups_run": groups}]
    return manifest


def write_synthetic_run(run_dir: Path) -> list[dict]:
    """A run folder as the sweep runner writes it, with plain csv/json/numpy."""
    (run_dir / "curves").mkdir(parents=True)
    rows, groups = [], []
    for dataset in ("digits", "planar"):  # planar has no validation and no test split
        for model in ("logreg", "mlp"):
            group = f"{len(groups):03d}-{dataset}-{model}-sgd-s100-b32"
            groups.append(group)
            members = []
            for lr in LEARNING_RATES:
                for seed in SEEDS:
                    step = DIVERGED.get((model, lr, seed)) if dataset == "digits" else None
                    members.append((lr, seed, *_accuracy(dataset, model, lr, seed), step))
            curves = _curves(members, with_splits=dataset == "digits")
            for member, (lr, seed, *_, step) in enumerate(members):
                final = {
                    f"final_{name}": float(curve[member, -1]) for name, curve in curves.items()
                }
                rows.append(
                    {
                        "group": group,
                        "dataset": dataset,
                        "model": model,
                        "optimizer": "sgd",
                        "schedule": "constant",
                        "search": "none",
                        "steps": 100,
                        "batch_size": 32,
                        "member": member,
                        "seed": seed,
                        "learning_rate": lr,
                        **HYPERPARAMETERS,
                        "num_params": NUM_PARAMS[model],
                        "final_val_ll": None,
                        "final_val_acc": None,
                        "final_test_ll": None,
                        "final_test_acc": None,
                        **final,
                        "steps_trained": 100,
                        "selected": member == 0,
                        "diverged": step is not None,
                        "diverged_step": -1 if step is None else step,
                        "group_wall_s": 3.25,
                        "group_compile_s": 1.5,
                    }
                )
            per_member = {
                "member": np.arange(len(members)),
                "seed": np.array([member[1] for member in members]),
                "learning_rate": np.array([member[0] for member in members]),
                **{name: np.full(len(members), value) for name, value in HYPERPARAMETERS.items()},
                "diverged": np.array([step is not None for *_, step in members]),
                "diverged_step": np.array([-1 if step is None else step for *_, step in members]),
            }
            np.savez(
                run_dir / "curves" / f"{group}.npz", eval_steps=EVAL_STEPS, **per_member, **curves
            )
    _write_rows(run_dir, rows)
    (run_dir / "manifest.json").write_text(json.dumps(_manifest(groups), indent=2))
    return rows


def _write_rows(run_dir: Path, rows: list[dict]) -> None:
    """results.csv of ``rows``, cells as the sweep writes them (floats by repr)."""
    with (run_dir / "results.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


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


# Adapted: configs are ranked by validation accuracy (was test accuracy).
def test_report_ranks_configs_by_mean_validation_accuracy_with_t_intervals(report) -> None:
    run_dir, text, rows = report
    table = _table_rows(text, "## Dataset: digits")
    expected = _expected_ranking(rows, "digits", "final_val_acc")
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
    planar = text.split("## Dataset: planar", 1)[1].split("## Diverged members", 1)[0]
    assert "ranked by train accuracy" in planar
    assert "no validation split" in planar and "not a selection for generalisation" in planar
    assert "No test metric to report: this data set has no test split." in planar
    assert "Wilson" not in planar
    table = _table_rows(text, "## Dataset: planar")
    expected = _expected_ranking(rows, "planar", "final_train_acc")
    assert [(c[1], float(c[2]), c[3]) for c in table] == [
        (model, lr, f"{values.mean():.4f}") for model, lr, values in expected
    ]


def test_report_gives_paired_test_of_best_vs_runner_up(report) -> None:
    _, text, rows = report
    section = text.split("## Dataset: digits", 1)[1].split("## Dataset: planar", 1)[0]
    # Adapted: the paired test is on the selection metric, validation accuracy (was test).
    (best_model, best_lr, _), (second_model, second_lr, _) = _expected_ranking(
        rows, "digits", "final_val_acc"
    )[:2]

    def by_seed(model: str, lr: float) -> dict[int, float]:
        return {
            r["seed"]: r["final_val_acc"]
            for r in rows
            if r["dataset"] == "digits" and r["model"] == model
            and r["learning_rate"] == lr and not r["diverged"]
        }  # fmt: skip

    best, second = by_seed(best_model, best_lr), by_seed(second_model, second_lr)
    shared = sorted(set(best) & set(second))
    assert len(shared) == 3  # the best on validation (mlp, lr 1) lost seeds 1 and 3
    a = np.array([best[seed] for seed in shared])
    b = np.array([second[seed] for seed in shared])
    result = stats.ttest_rel(a, b)
    assert "paired over 3 shared seeds" in section
    assert f"{np.mean(a - b):+.4f}" in section
    assert f"t = {result.statistic:.3f}" in section
    p = result.pvalue
    assert (f"p = {p:.2e}" if p < 1e-3 else f"p = {p:.3f}") in section


def _digits_section(text: str) -> str:
    return text.split("## Dataset: digits", 1)[1].split("## Dataset: planar", 1)[0]


def _selected_section(text: str) -> str:
    return _digits_section(text).split("### Selected configuration", 1)[1].split("###", 1)[0]


def _test_values(rows: list[dict], model: str, lr: float) -> np.ndarray:
    return np.array(
        [
            r["final_test_acc"]
            for r in rows
            if r["dataset"] == "digits" and r["model"] == model
            and r["learning_rate"] == lr and not r["diverged"]
        ]
    )  # fmt: skip


def _wilson(p_hat: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval, from its textbook formula (independent of the package)."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    center = (p_hat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p_hat * (1 - p_hat) / n + z**2 / (4 * n**2))
    return center - half, center + half


def test_the_report_says_in_one_line_how_selection_was_done(report) -> None:
    _, text, _ = report
    assert (
        "Selection: configs ranked by mean final validation accuracy over seeds (ties: mean "
        "validation log-likelihood); validation = 20% of the training split (stratified, data "
        "seed 0); the test split is never used to choose."
    ) in _digits_section(text)
    assert "Split sizes: 1150 train, 287 validation, 100 test examples; 10 classes." in text
    # No table of test metrics for every config: the ranking table is validation only.
    header = next(line for line in _digits_section(text).splitlines() if line.startswith("|"))
    assert "validation" in header and "test" not in header


def test_the_selected_config_is_best_on_validation_not_on_test(report) -> None:
    _, text, rows = report
    (val_model, val_lr, _), *_ = _expected_ranking(rows, "digits", "final_val_acc")
    (test_model, test_lr, _), *_ = _expected_ranking(rows, "digits", "final_test_acc")
    assert (val_model, val_lr) == ("mlp", 1.0) and (test_model, test_lr) == ("mlp", 0.1)
    best = best_by_group(rows)
    assert dict(best["001-digits-mlp-sgd-s100-b32"].config)["learning_rate"] == 1.0
    assert best["001-digits-mlp-sgd-s100-b32"].metric == "final_val_acc"
    section = _selected_section(text)
    assert "**model=mlp learning_rate=1**" in section
    assert "learning_rate=0.1" not in section
    values = _test_values(rows, "mlp", 1.0)
    assert len(values) == 3  # seeds 1 and 3 diverged
    mean = values.mean()
    low, high = stats.t.interval(0.95, len(values) - 1, mean, stats.sem(values))
    assert f"test accuracy**, mean over 3 seeds: **{mean:.4f}**" in section
    assert (
        f"95% Student-t interval across seeds: [{low:.4f}, {high:.4f}] (n = 3 seeds). Covers "
        "training randomness (the seeds), with the 100 test examples fixed"
    ) in section
    wilson_low, wilson_high = _wilson(mean, 100)
    assert (
        f"95% Wilson score interval over the 100 test examples, at accuracy {mean:.4f}: "
        f"[{wilson_low:.4f}, {wilson_high:.4f}]. Covers test-set sampling"
    ) in section
    assert wilson_high - wilson_low > high - low  # test sampling is the larger error here
    assert "test log-likelihood (mean per example), mean over 3 seeds: -0.4000" in section


def test_the_reports_wilson_interval_is_scipys_for_a_whole_count(tmp_path) -> None:
    run_dir = tmp_path / "run"
    rows = write_synthetic_run(run_dir)
    for row in rows:  # every seed of the selected config: 87 of 100 test examples right
        if row["dataset"] == "digits" and row["model"] == "mlp" and row["learning_rate"] == 1:
            row["final_test_acc"] = 0.87
    _write_rows(run_dir, rows)
    section = _selected_section(write_report(run_dir, figures=False).read_text())
    reference = stats.binomtest(87, 100).proportion_ci(confidence_level=0.95, method="wilson")
    assert (
        "95% Wilson score interval over the 100 test examples, at accuracy 0.8700: "
        f"[{reference.low:.4f}, {reference.high:.4f}]"
    ) in section


def test_without_the_test_set_size_the_report_says_so_and_invents_no_n(tmp_path) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["data"]
    manifest["config"] |= {"val_fraction": 0.25, "data_seed": 7}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    text = write_report(run_dir, figures=False).read_text()
    section = _selected_section(text)
    assert "validation = 25% of the training split (stratified, data seed 7)" in text
    assert "Split sizes: not recorded in the manifest." in text
    assert "Wilson" not in section
    assert "No interval over test examples: the manifest does not record how many" in section
    assert "Student-t interval across seeds" in section  # the seeds' interval stays


def test_the_terminal_summary_chooses_by_validation_and_reports_test(report, capsys) -> None:
    run_dir, _, rows = report
    print_summary(run_dir)
    out = capsys.readouterr().out
    assert "chosen by mean final validation accuracy / final train accuracy" in out
    assert "test_acc (reported)" in out and "never used to choose" in out
    table = out.split("diverged members:", 1)[0].splitlines()
    (line,) = [line for line in table if "001-digits-mlp" in line]
    cells = line.split()
    assert cells[1] == "val_acc" and cells[-2] == "1"  # learning_rate, chosen on validation
    assert cells[-1] == f"{_test_values(rows, 'mlp', 1.0).mean():.4f}"  # its test accuracy
    (line,) = [line for line in table if "002-planar-logreg" in line]
    assert line.split()[1] == "train_acc" and line.split()[-1] == "n/a"


def test_report_lists_diverged_members_with_seed_and_step(report) -> None:
    _, text, _ = report
    table = _table_rows(text, "## Diverged members")
    listed = {(c[0], c[4], c[5]) for c in table}
    assert listed == {("digits", "1", "17"), ("digits", "3", "42")}
    assert all("learning_rate=1" in c[1] and "model=mlp" in c[1] for c in table)


def test_report_summarises_the_run_from_its_manifest(report) -> None:
    _, text, _ = report
    assert "`abc123def456`" in text
    assert "| members | 60 of 60 planned |" in text
    assert "| diverged members | 2 |" in text
    assert "| groups | 4 of 4 planned |" in text
    assert "| configs | 12 |" in text  # seeds, members and timings are not part of a config
    assert "| devices | 2 × cpu |" in text and "jax 0.4.35" in text


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
    run_dir, _, written = report
    run = read_run(run_dir)
    row = run.rows[0]
    assert isinstance(row["seed"], int) and isinstance(row["learning_rate"], float)
    assert row["diverged"] is False and row["clip_norm"] == float("inf")
    assert run.rows == written  # every cell reads back as the value written
    diverged = [r for r in run.rows if r["diverged"]]
    assert len(diverged) == 2 and all(r["final_test_acc"] < 0.8 for r in diverged)  # frozen
    assert {r["final_test_acc"] for r in run.rows if r["dataset"] == "planar"} == {None}
    assert {r["final_val_acc"] for r in run.rows if r["dataset"] == "planar"} == {None}
    curves = run.curves["001-digits-mlp-sgd-s100-b32"]
    assert curves.metrics["test_acc"].shape == (15, len(EVAL_STEPS))
    assert curves.metrics["val_acc"].shape == (15, len(EVAL_STEPS))
    np.testing.assert_array_equal(curves.eval_steps, EVAL_STEPS)
    assert list(curves.members["seed"]) == SEEDS * 3
    assert "test_acc" not in run.curves["002-planar-logreg-sgd-s100-b32"].metrics


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
    (run_dir / "manifest.json").write_text(json.dumps(_manifest(["000-g"], finished=None)))
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


def test_report_reads_the_sweep_runners_nested_manifest(tmp_path) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)
    groups = json.loads((run_dir / "manifest.json").read_text())["plan"]["groups"]
    manifest = _manifest(
        [*groups, "004-unfinished"],
        experiment="lecture",
        config_hash="feedbeef",
        device_count=8,
        process_count=2,
        git_commit="0123abc",
        git_dirty=True,
        finished=None,
    )
    manifest["plan"]["models"] = 75
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


def _rewrite_results(run_dir: Path, edit) -> None:
    """results.csv with ``edit(lines)`` applied to its lines (header first)."""
    path = run_dir / "results.csv"
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")


def test_an_unknown_column_is_an_error_naming_the_file_and_the_column(tmp_path) -> None:
    write_synthetic_run(tmp_path / "run")

    def add_host(lines: list[str]) -> None:
        lines[:] = [lines[0] + ",host"] + [line + ",h0" for line in lines[1:]]

    _rewrite_results(tmp_path / "run", add_host)
    with pytest.raises(RunFolderFormatError, match=r"results\.csv.*unknown columns: \['host'\]"):
        read_run(tmp_path / "run")


@pytest.mark.parametrize(
    ("column", "cell"),
    [("seed", "3.0"), ("diverged", "yes"), ("learning_rate", "1e-1"), ("model", "")],
)
def test_a_cell_the_sweep_does_not_write_is_an_error_naming_file_row_and_column(
    tmp_path, capsys, column: str, cell: str
) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)

    def spoil_row_5(lines: list[str]) -> None:
        cells = lines[5].split(",")
        cells[COLUMNS.index(column)] = cell
        lines[5] = ",".join(cells)

    _rewrite_results(run_dir, spoil_row_5)
    with pytest.raises(RunFolderFormatError) as error:
        read_run(run_dir)
    message = str(error.value)
    assert "results.csv, row 5 (line 6)" in message and f"column {column!r}" in message
    assert main(["report", str(run_dir)]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback


def test_a_manifest_of_another_format_is_refused(tmp_path) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)
    flat = {"config_hash": "h", "start_time": "2025-01-01", "devices": ["TFRT_CPU_0"]}
    (run_dir / "manifest.json").write_text(json.dumps(flat))
    with pytest.raises(RunFolderFormatError, match="manifest.json: format None"):
        read_run(run_dir)


def test_curves_without_a_per_member_array_are_refused(tmp_path) -> None:
    run_dir = tmp_path / "run"
    write_synthetic_run(run_dir)
    path = run_dir / "curves" / "000-digits-logreg-sgd-s100-b32.npz"
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files if name != "diverged_step"}
    np.savez(path, **arrays)
    with pytest.raises(RunFolderFormatError, match="000-digits.*no array 'diverged_step'"):
        read_run(run_dir)
