"""A run folder defends itself: one sweep at a time, damaged groups redone (and said so), a
damaged manifest a clear error, and a report only of a run folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import filelock
import pytest

from cs109nn import run_folder_schema as schema
from cs109nn.cli.main import main
from cs109nn.report import write_report
from cs109nn.sweep import SweepSpec, make_plan, run_sweep, to_config
from cs109nn.sweep.folder_lock import FolderLockedError

SPEC = SweepSpec(
    name="defend",
    datasets=("xor",),
    models=("logreg", "mlp:4:tanh"),
    steps=(20,),
    seeds=(0, 1, 2),
    learning_rate=(0.5,),
    eval_every=10,
    n_examples=100,
    save_params=True,
)
GROUPS = [group.group_id for group in make_plan(SPEC).groups]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return run_sweep(SPEC, tmp_path_factory.mktemp("reference") / "run")


def copy_of(reference: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(reference, tmp_path / "run"))


def text_without_timing(run_dir: Path) -> list[list[str]]:
    header, rows = schema.read_results(run_dir)
    keep = [k for k, name in enumerate(header) if name not in schema.TIMING_COLUMNS]
    return [[row[k] for k in keep] for row in rows]


def resume(run_dir: Path) -> list[str]:
    """Rerun SPEC into ``run_dir``; the notes it gave and the groups it trained."""
    notes, trained = [], []

    def progress(event):
        if event.kind == "note":
            notes.append(event.message)
        if event.kind == "group_finished":
            trained.append(event.group.group_id)

    run_sweep(SPEC, run_dir, progress=progress)
    return notes, trained


def test_a_second_sweep_on_a_locked_folder_is_refused_naming_the_holder(reference, tmp_path):
    run_dir = copy_of(reference, tmp_path)
    holder = filelock.FileLock(run_dir / schema.LOCK, timeout=0)
    (run_dir / schema.LOCK_OWNER).write_text('{"pid": 4242, "host": "elsewhere", "since": "x"}')
    with holder:
        with pytest.raises(FolderLockedError, match="in use by another sweep.*pid 4242"):
            run_sweep(SPEC, run_dir)
    assert text_without_timing(run_dir) == text_without_timing(reference)


def test_the_lock_of_a_killed_sweep_is_taken_over_with_a_note(reference, tmp_path):
    run_dir = copy_of(reference, tmp_path)
    (run_dir / schema.LOCK_OWNER).write_text('{"pid": 1, "host": "gone", "since": "x"}')
    notes, trained = resume(run_dir)  # the lock file itself is free: its holder died
    assert any("ended without releasing" in note and "pid 1" in note for note in notes)
    assert trained == [] and not (run_dir / schema.LOCK_OWNER).exists()


def test_results_cut_mid_row_redoes_that_group_and_says_so(reference, tmp_path):
    run_dir = copy_of(reference, tmp_path)
    path = run_dir / schema.RESULTS
    text = path.read_text()
    path.write_text(text[: len(text) - 25])  # the last row loses its end
    notes, trained = resume(run_dir)
    assert trained == [GROUPS[-1]]
    assert any(f"damaged group {GROUPS[-1]}" in note for note in notes)
    assert text_without_timing(run_dir) == text_without_timing(reference)


def test_a_changed_cell_that_still_parses_is_caught_by_the_rows_digest(reference, tmp_path):
    run_dir = copy_of(reference, tmp_path)
    path = run_dir / schema.RESULTS
    lines = path.read_text().splitlines(keepends=True)
    column = lines[0].strip().split(",").index("final_train_acc")
    cells = lines[1].rstrip("\n").split(",")
    cells[column] = "0.5"  # a plausible accuracy, not the one trained
    lines[1] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    notes, trained = resume(run_dir)
    assert trained == [GROUPS[0]] and any("differ from those written" in n for n in notes)
    assert text_without_timing(run_dir) == text_without_timing(reference)


@pytest.mark.parametrize("kind", ["curves", "params"])
def test_a_truncated_or_missing_array_file_redoes_its_group(reference, tmp_path, kind):
    run_dir = copy_of(reference, tmp_path)
    path = getattr(schema, f"{kind}_path")(run_dir, GROUPS[0])
    path.write_bytes(path.read_bytes()[:100])
    missing = getattr(schema, f"{kind}_path")(run_dir, GROUPS[1])
    missing.unlink()
    notes, trained = resume(run_dir)
    assert trained == GROUPS[:2] and len([n for n in notes if "damaged group" in n]) == 2
    for group_id in GROUPS:
        assert schema.read_curves(schema.curves_path(run_dir, group_id)).eval_steps.size == 2
        assert schema.file_digest(getattr(schema, f"{kind}_path")(run_dir, group_id)) == (
            schema.file_digest(getattr(schema, f"{kind}_path")(reference, group_id))
        )


def test_a_truncated_manifest_is_one_clear_error_and_nothing_is_trained(
    reference, tmp_path, capsys
):
    run_dir = copy_of(reference, tmp_path)
    manifest = run_dir / schema.MANIFEST
    manifest.write_text(manifest.read_text()[:200])
    experiment = tmp_path / "experiment.py"
    experiment.write_text(f"def get_config():\n    return {to_config(SPEC)!r}\n")
    before = (run_dir / schema.RESULTS).read_text()
    assert main(["sweep", str(experiment), "--out", str(run_dir)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json is damaged" in err[0] and "--fresh" in err[0]
    assert (run_dir / schema.RESULTS).read_text() == before


@pytest.mark.parametrize("contents", [[], ["notes.txt"]])
def test_report_refuses_a_folder_that_is_not_a_run_folder_and_writes_nothing(
    tmp_path, capsys, contents
):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in contents:
        (folder / name).write_text("my own file")
    assert main(["report", str(folder)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert sorted(os.listdir(folder)) == contents
    with pytest.raises(schema.RunFolderFormatError, match="not a run folder"):
        write_report(folder)
