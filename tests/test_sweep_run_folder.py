"""Run folders in one process: atomic writes, a crash mid-write and its resume, a changed config,
the manifest, results.csv as pandas and the report read it, curves, the schema's cells, and the
comparison behind `reproduce`."""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import shutil
import stat
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

from cs109nn import atomic_files as atomic
from cs109nn import run_folder_schema as schema
from cs109nn.cli.main import main
from cs109nn.hyperparameters import HPARAM_NAMES
from cs109nn.report import best_by_group, rank_by_dataset, read_run, write_report
from cs109nn.sweep import (
    ConfigChangedError,
    RunFolderError,
    SweepSpec,
    make_plan,
    run_folder,
    run_sweep,
    to_config,
)
from cs109nn.sweep.results import (
    CROSS_PLATFORM_TOLERANCE,
    compare_results,
    reproduction_cpu_devices,
    reproduction_tolerance,
)

QUICK = Path(__file__).resolve().parents[1] / "experiments" / "quick.py"

# Two groups (one compile each), two members each: enough to crash between groups.
SPEC = SweepSpec(
    name="tiny",
    datasets=("xor", "circles"),
    models=("logreg",),
    steps=(20,),
    seeds=(0, 1),
    learning_rate=(0.5,),
    eval_every=10,
    n_examples=100,
)
TIMING = set(run_folder.TIMING_COLUMNS)


def cells_without_timing(run_dir):
    header, rows = run_folder.read_results(run_dir)
    keep = [k for k, name in enumerate(header) if name not in TIMING]
    return [header[k] for k in keep], [[row[k] for k in keep] for row in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of SPEC."""
    return run_sweep(SPEC, tmp_path_factory.mktemp("reference") / "run")


# --- atomic writes -----------------------------------------------------------------------


def crash_before_replace(monkeypatch, target_name, after=0):
    """Make os.replace raise for ``target_name`` once ``after`` replacements of it succeeded:
    the temp file is written and synced, the crash comes just before it takes the name."""
    real_replace = os.replace
    calls = {"n": 0}

    def replace(source, destination):
        if os.path.basename(destination) == target_name:
            calls["n"] += 1
            if calls["n"] > after:
                raise OSError("simulated crash between the temp file and os.replace")
        return real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", replace)


def test_atomic_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "a.txt"
    atomic.write_atomic(path, "first version, long\n")
    atomic.write_atomic(path, "second\n")
    assert path.read_text() == "second\n"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_crash_before_replace_keeps_the_previous_complete_file_and_no_temp_file(
    tmp_path, monkeypatch
):
    path = tmp_path / "results.csv"
    atomic.write_atomic(path, "a,b\n1,2\n")
    crash_before_replace(monkeypatch, "results.csv")
    with pytest.raises(OSError, match="simulated crash"):
        atomic.write_atomic(path, "a,b\n1,2\n3,4\n")
    assert path.read_text() == "a,b\n1,2\n"
    assert os.listdir(tmp_path) == ["results.csv"]


def test_crash_on_the_first_write_leaves_no_file(tmp_path, monkeypatch):
    crash_before_replace(monkeypatch, "results.csv")
    with pytest.raises(OSError):
        atomic.write_atomic(tmp_path / "results.csv", "a,b\n")
    assert os.listdir(tmp_path) == []


def test_atomic_files_get_the_usual_permissions(tmp_path):
    atomic.write_atomic(tmp_path / "f", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o666 & ~umask


def test_leftover_temp_files_are_removed_and_never_read(tmp_path):
    (tmp_path / "results.csv").write_text("a\n1\n")
    (tmp_path / ".results.csv.0123.tmp").write_text("a\n1\n2\n")  # a killed write
    assert run_folder.read_results(tmp_path) == (("a",), [["1"]])
    removed = atomic.remove_temporary_files(tmp_path)
    assert [p.name for p in removed] == [".results.csv.0123.tmp"]
    assert os.listdir(tmp_path) == ["results.csv"]


# --- crash mid-sweep and resume ------------------------------------------------------------


def test_a_crash_writing_the_second_groups_rows_leaves_the_first_group_whole_and_resumes_to_the_same_rows(  # noqa: E501
    reference, tmp_path, monkeypatch
):
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        crash_before_replace(patch, run_folder.RESULTS, after=1)
        with pytest.raises(OSError, match="simulated crash"):
            run_sweep(SPEC, run_dir)
    header, crashed_rows = run_folder.read_results(run_dir)
    first_group = make_plan(SPEC).groups[0].group_id
    assert {row[0] for row in crashed_rows} == {first_group}
    assert len(crashed_rows) == len(make_plan(SPEC).members)
    assert not list(run_dir.glob(".*.tmp"))

    run_sweep(SPEC, run_dir)  # the same config: resume
    assert cells_without_timing(run_dir) == cells_without_timing(reference)
    _, rows = run_folder.read_results(run_dir)
    assert rows[: len(crashed_rows)] == crashed_rows  # kept as written, timings included
    manifest = run_folder.read_manifest(run_dir)
    assert [s["finished"] is None for s in manifest["sessions"]] == [True, False]
    assert manifest["sessions"][1]["groups_run"] == [make_plan(SPEC).groups[1].group_id]


def test_rerunning_a_finished_sweep_trains_nothing_and_changes_no_row(reference, tmp_path):
    run_dir = Path(shutil.copytree(reference, tmp_path / "run"))  # a finished sweep of SPEC
    before = (run_dir / run_folder.RESULTS).read_bytes()
    (run_dir / ".results.csv.dead.tmp").write_text("garbage")
    events = []
    run_sweep(SPEC, run_dir, progress=events.append)
    assert (run_dir / run_folder.RESULTS).read_bytes() == before
    assert [e.kind for e in events] == ["planned", "finished"]
    assert not (run_dir / ".results.csv.dead.tmp").exists()


def test_a_folder_that_is_not_a_run_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not a run folder"):
        run_sweep(SPEC, tmp_path)
    # nothing written but the folder's lock (which the refusal released)
    assert sorted(set(os.listdir(tmp_path)) - {schema.LOCK}) == ["notes.txt"]


# --- a changed config ----------------------------------------------------------------------


def test_a_changed_config_is_refused_naming_the_key_and_fresh_starts_over(tmp_path, capsys):
    out = str(tmp_path / "run")
    base = ["sweep", str(QUICK), "--out", out, "--no-report", "--set", "models=logreg"]
    assert main([*base, "--set", "steps=20"]) == 0
    before = (tmp_path / "run" / "results.csv").read_bytes()
    capsys.readouterr()

    assert main([*base, "--set", "steps=30"]) == 2
    error = capsys.readouterr().err
    assert "changed: steps" in error and "--fresh" in error
    assert (tmp_path / "run" / "results.csv").read_bytes() == before

    assert main([*base, "--set", "steps=30", "--fresh"]) == 0
    table = pd.read_csv(tmp_path / "run" / "results.csv")
    assert set(table["steps"]) == {30}
    assert len(run_folder.read_manifest(tmp_path / "run")["sessions"]) == 1


def test_config_changed_error_lists_every_changed_key(reference, tmp_path):
    changed = SweepSpec(**{**to_config(SPEC), "seeds": (0, 1, 2), "eval_every": 5})
    with pytest.raises(ConfigChangedError) as error:
        run_sweep(changed, reference)
    assert error.value.changed == ["eval_every", "seeds"]


# --- what the folder holds ----------------------------------------------------------------


def test_manifest_holds_config_hash_versions_flags_devices_and_times(reference):
    manifest = json.loads((reference / "manifest.json").read_text())
    canonical = json.dumps(manifest["config"], sort_keys=True, separators=(",", ":"))
    assert manifest["config_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert SweepSpec(**manifest["config"]) == SPEC
    env = manifest["environment"]
    for name in ("jax", "jaxlib", "flax", "optax", "numpy"):
        assert env["versions"][name] == importlib.metadata.version(name)
    assert env["versions"]["python"].count(".") == 2
    assert env["versions"]["cs109nn"] == importlib.metadata.version("cs109nn")
    assert env["flags"] == {
        "jax_threefry_partitionable": jax.config.jax_threefry_partitionable,
        "jax_default_prng_impl": jax.config.jax_default_prng_impl,
        "jax_enable_x64": jax.config.jax_enable_x64,
    }
    assert env["backend"] == jax.default_backend()
    assert env["device_count"] == jax.device_count()
    assert env["device_kinds"] == sorted({d.device_kind for d in jax.devices()})
    assert env["process_count"] == 1
    assert "git_commit" in env  # a hex commit inside a repository, else None
    assert env["git_commit"] is None or len(env["git_commit"]) == 40
    started = datetime.datetime.fromisoformat(manifest["started"])
    finished = datetime.datetime.fromisoformat(manifest["finished"])
    assert started <= finished and started.tzinfo is not None
    assert manifest["plan"]["models"] == 4


def test_pandas_reads_results_csv_in_one_line_with_proper_types(reference):
    table = pd.read_csv(reference / "results.csv")
    plan = make_plan(SPEC)
    assert len(table) == plan.num_models
    assert list(table.columns) == list(
        run_folder.CONFIG_COLUMNS
        + run_folder.MEMBER_COLUMNS
        + tuple(HPARAM_NAMES)
        + ("num_params",)
        + run_folder.TRAIN_METRICS
        + run_folder.VAL_METRICS
        + run_folder.TEST_METRICS
        + run_folder.SEARCH_COLUMNS
        + run_folder.DIVERGENCE_COLUMNS
        + run_folder.TIMING_COLUMNS
    )
    assert table["diverged"].dtype == bool
    for column in ("steps", "batch_size", "member", "seed", "num_params", "diverged_step"):
        assert pd.api.types.is_integer_dtype(table[column]), column
    metrics = (*run_folder.TRAIN_METRICS, *run_folder.VAL_METRICS, *run_folder.TEST_METRICS)
    for column in (*HPARAM_NAMES, *metrics):
        assert pd.api.types.is_float_dtype(table[column]), column
    assert not table[list(metrics)].isna().any().any()
    assert list(table["group"]) == [g.group_id for g in plan.groups for _ in range(2)]
    assert not table.duplicated(["group", "member"]).any()


def test_results_rows_are_the_last_column_of_each_groups_curves(reference):
    table = pd.read_csv(reference / "results.csv")
    for group in make_plan(SPEC).groups:
        with np.load(reference / "curves" / f"{group.group_id}.npz") as curves:
            assert curves["eval_steps"][-1] == group.steps
            assert list(curves["seed"]) == list(SPEC.seeds)
            rows = table[table["group"] == group.group_id]
            for metric in ("train_ll", "train_acc", "val_ll", "val_acc", "test_ll", "test_acc"):
                assert curves[metric].shape == (2, len(curves["eval_steps"]))
                # float32 -> text -> float64 gives back the float32 value exactly
                np.testing.assert_array_equal(
                    rows[f"final_{metric}"].to_numpy(), curves[metric][:, -1].astype(np.float64)
                )


def test_cells_read_back_to_the_exact_value_written():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(200) * 10.0 ** rng.integers(-30, 30, 200)
    for value in values.astype(np.float32):
        assert float(run_folder.format_value(value)) == float(value)  # as float64: exact
    for value in (0.1, 1 / 3, 1e-300, math.inf):
        assert float(run_folder.format_value(value)) == value
    assert run_folder.format_value(np.float32(np.nan)) == "nan"
    assert run_folder.format_value(np.bool_(True)) == "True"
    assert run_folder.format_value(None) == ""


def test_parse_cell_reads_back_every_value_format_value_writes():
    rng = np.random.default_rng(1)
    values = rng.standard_normal(100) * 10.0 ** rng.integers(-30, 30, 100)
    for value in [*values.astype(np.float32), *values, 0.1, -0.0, math.inf, -math.inf]:
        assert schema.parse_cell("final_test_ll", schema.format_value(value)) == float(value)
    assert math.isnan(schema.parse_cell("final_train_acc", schema.format_value(np.nan)))
    for value in (np.int64(-1), 0, 17):
        assert schema.parse_cell("diverged_step", schema.format_value(value)) == int(value)
    assert schema.parse_cell("diverged", schema.format_value(np.bool_(False))) is False
    assert schema.parse_cell("final_test_acc", schema.format_value(None)) is None  # no test split
    assert schema.parse_cell("model", "mlp:8:relu") == "mlp:8:relu"


@pytest.mark.parametrize(
    ("column", "cell"),
    [
        ("seed", "3.0"),
        ("seed", "1_000"),
        ("diverged", "1"),
        ("diverged", "yes"),
        ("learning_rate", "1e-1"),
        ("learning_rate", " 0.1"),
        ("final_train_acc", ""),
        ("dataset", ""),
        ("host", "h0"),
    ],
)
def test_parse_cell_refuses_what_the_sweep_never_writes(column, cell):
    with pytest.raises(ValueError, match=repr(column)):
        schema.parse_cell(column, cell)


def test_full_batch_is_none_in_python_and_zero_in_the_file():
    assert schema.batch_size_cell(None) == 0 and schema.batch_size_from_cell(0) is None
    assert schema.batch_size_from_cell(schema.batch_size_cell(32)) == 32


def test_results_columns_take_one_column_per_hyperparameter():
    columns = schema.results_columns(with_test=False)
    assert [c for c in columns if c in HPARAM_NAMES] == list(HPARAM_NAMES)
    assert not set(schema.TEST_METRICS) & set(columns)
    assert set(schema.TEST_METRICS) <= set(schema.results_columns(with_test=True))


def test_the_report_reads_the_folder_the_sweep_writes_with_the_schemas_types(reference):
    run = read_run(reference)
    assert tuple(run.columns) == schema.results_columns(with_test=True)
    _, cells = run_folder.read_results(reference)
    for row, text in zip(run.rows, cells, strict=True):
        assert [schema.format_value(row[c]) for c in run.columns] == text  # read back exactly
        assert isinstance(row["seed"], int) and isinstance(row["diverged"], bool)
    for group in make_plan(SPEC).groups:
        curves = run.curves[group.group_id]
        assert set(schema.CURVE_METRICS) <= set(curves.metrics)
        assert list(curves.members["seed"]) == list(SPEC.seeds)
        assert curves.members["learning_rate"].tolist() == [0.5, 0.5]


def test_the_terminal_summary_and_the_report_name_the_same_best_config(reference):
    run = read_run(reference)
    best = best_by_group(run.rows, run.columns)
    assert list(best) == [group.group_id for group in make_plan(SPEC).groups]
    for dataset, ranking in rank_by_dataset(run.rows, run.columns).items():
        (group,) = [g for g in make_plan(SPEC).groups if g.dataset == dataset]
        assert best[group.group_id] == ranking[0]


def test_fresh_deletes_everything_a_run_and_its_report_wrote_and_nothing_else(
    one_group_with_params, tmp_path
):
    _, original = one_group_with_params
    run_dir = Path(shutil.copytree(original, tmp_path / "run"))
    write_report(run_dir)
    (run_dir / "notes.txt").write_text("mine")
    # what a sweep killed inside a long group leaves (a finished group removes its own)
    schema.checkpoints_path(run_dir, "000-xor-logreg-sgd-200-full").mkdir(parents=True)
    written = {path.name for path in run_dir.iterdir()} - {"notes.txt", *schema.LOCK_FILES}
    assert written == set(schema.RUN_FOLDER_ENTRIES)
    schema.delete_run(run_dir)
    assert sorted(set(os.listdir(run_dir)) - set(schema.LOCK_FILES)) == ["notes.txt"]


def test_the_tolerance_is_exact_on_the_same_platform_and_loose_across_platforms(reference):
    env = run_folder.read_manifest(reference)["environment"]
    assert reproduction_tolerance(env, {**env, "git_commit": "other"}) == (0.0, [])
    other = {**env, "backend": "gpu", "device_count": env["device_count"] + 1}
    assert reproduction_tolerance(env, other) == (
        CROSS_PLATFORM_TOLERANCE,
        ["backend", "device_count"],
    )
    assert (
        reproduction_cpu_devices({"environment": {**env, "backend": "cpu"}}) == env["device_count"]
    )
    assert reproduction_cpu_devices({"environment": other}) is None


@pytest.fixture(scope="module")
def one_group_with_params(tmp_path_factory):
    # every optional file (params, boundary grids, predictions, a search's record), so that a
    # run writes every entry
    options = {
        "datasets": ("xor",),
        "save_params": True,
        "boundary_grid": 5,
        "save_predictions": True,
        "searches": ("none", "halving"),
        "halving_eta": 2,
        "halving_rungs": 2,
    }
    spec = SweepSpec(**{**to_config(SPEC), **options})
    return spec, run_sweep(spec, tmp_path_factory.mktemp("params") / "run")


def test_saved_params_have_the_member_axis_and_key_paths_as_names(one_group_with_params):
    spec, run_dir = one_group_with_params
    group = make_plan(spec).groups[0].group_id
    with np.load(run_dir / "params" / f"{group}.npz") as params:
        assert len(params.files) >= 1
        for name in params.files:
            assert params[name].shape[0] == len(spec.seeds)  # members
            assert "[" not in name  # path/like/names


def test_reproduce_names_a_tampered_column_and_exits_nonzero(
    one_group_with_params, tmp_path, capsys
):
    _, original = one_group_with_params
    run_dir = Path(shutil.copytree(original, tmp_path / "tampered"))
    header, rows = run_folder.read_results(run_dir)
    column = header.index("final_test_acc")
    rows[1][column] = repr(float(rows[1][column]) + 0.01)
    run_folder.write_results(run_dir, header, rows)

    assert main(["reproduce", str(run_dir), "--out", str(tmp_path / "again")]) == 1
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]
    verdicts = {line[0]: line[-1] for line in lines}
    assert verdicts["final_test_acc"] == "MISMATCH"
    assert verdicts["final_train_acc"] == verdicts["final_test_ll"] == "exact"
    assert lines[-1] == ["MISMATCH"]


# --- the comparison behind `reproduce` ----------------------------------------------------

HEADER = (
    "group",
    "dataset",
    "member",
    "seed",
    "final_test_acc",
    "final_test_ll",
    "diverged",
    "diverged_step",
    "group_wall_s",
)


def table(*rows):
    return HEADER, [list(row) for row in rows]


ORIGINAL = table(
    ("g0", "xor", "0", "0", "0.5", "-0.6931472", "False", "-1", "1.0"),
    ("g0", "xor", "1", "1", "0.75", "nan", "True", "17", "1.0"),
)


def test_an_identical_table_matches_exactly_whatever_the_timings():
    timings_differ = table(*[(*row[:-1], "9.9") for row in ORIGINAL[1]])
    assert compare_results(ORIGINAL, timings_differ, tolerance=0.0).matches


def test_one_ulp_fails_an_exact_comparison_but_passes_a_tolerance():
    one_ulp = np.nextafter(np.float32(-0.6931472), np.float32(0))
    changed = table(
        ("g0", "xor", "0", "0", "0.5", str(one_ulp), "False", "-1", "1.0"), ORIGINAL[1][1]
    )
    exact = compare_results(ORIGINAL, changed, tolerance=0.0)
    assert not exact.matches
    by_column = {c.column: c for c in exact.columns}
    assert by_column["final_test_ll"].mismatches == 1
    assert by_column["final_test_acc"].mismatches == 0
    assert "group_wall_s" not in by_column
    assert compare_results(ORIGINAL, changed, tolerance=1e-5).matches


def test_a_difference_beyond_the_tolerance_or_in_divergence_is_a_mismatch():
    far = table(("g0", "xor", "0", "0", "0.5001", "-0.6931472", "False", "-1", "1"), ORIGINAL[1][1])
    assert not compare_results(ORIGINAL, far, tolerance=1e-5).matches
    not_diverged = table(ORIGINAL[1][0], ("g0", "xor", "1", "1", "0.75", "nan", "False", "-1", "1"))
    result = compare_results(ORIGINAL, not_diverged, tolerance=1e-5)
    assert {c.column for c in result.columns if c.mismatches} == {"diverged", "diverged_step"}
    finite_ll = table(ORIGINAL[1][0], ("g0", "xor", "1", "1", "0.75", "-0.5", "True", "17", "1"))
    assert not compare_results(ORIGINAL, finite_ll, tolerance=1e-5).matches  # nan vs number


def test_a_missing_member_is_a_mismatch():
    result = compare_results(ORIGINAL, table(ORIGINAL[1][0]), tolerance=1e-5)
    assert result.missing == [("g0", "1")] and not result.matches
