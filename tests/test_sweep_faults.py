"""Fault injection: ``cs109nn sweep`` SIGKILLed at random moments and at exact points of its
atomic writes, rerun until it completes, each time against an uninterrupted run.

After every kill the folder must hold only what an uninterrupted run writes: whole groups in
results.csv, each row the reference's, every file parsing, every curves and params file the
reference's bits (a killed write may leave a temporary file; nothing else). After the rerun
that completes: every planned group exactly once with members 0..M-1 (nothing lost, no row
twice), no temporary file anywhere, results.csv the reference's text cell for cell but for the
timing columns, each curves file's arrays the reference's exactly.

Exact points come from the test hook of ``cs109nn.atomic_files`` (``CS109NN_FAULT=POINT:N``):
``after_temp_write`` (the temporary file written and fsynced, not yet renamed) and
``after_replace`` (renamed, the folder not yet fsynced). The sweep has no checkpoints yet
(another issue adds them), so there is no "during a checkpoint" point to target; when they
come, their writes go through ``write_atomic`` and a point placed inside the checkpoint write
belongs here.

Tiers: by default (CI) each exact point at a few writes and four random kills (about a minute
on two cores); ``pytest -m faults_long tests/test_sweep_faults.py -s`` runs the long loop
(>= 20 random kills over the sweep's life, and every write of a run at each point) and prints
its figures (kills, where they landed, rows lost, rows duplicated), also left as JSON in the
test's tmp_path.

Every run shares one JAX persistent compilation cache (filled by the uninterrupted run), so a
killed run costs its start-up, not a compile: the cached program is the same executable, and
the reference checks its bits like everything else.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cs109nn.atomic_files import FAULT_POINTS, FAULT_VARIABLE, write_atomic
from cs109nn.run_folder_schema import (
    CURVES,
    LOCK,
    PARAMS,
    TIMING_COLUMNS,
    curves_path,
    params_path,
    read_arrays,
    read_curves,
    read_manifest,
    read_results,
    read_typed_results,
)
from cs109nn.sweep import make_plan
from cs109nn.sweep.spec import load_experiment

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds for one sweep process; a run takes a few

# 4 groups (4 data sets of the same shapes: one compiled program, shared) x 6 members, params
# saved. The steps make each group train for a few tenths of a second, so that random kills
# land between groups' writes as well as in them.
EXPERIMENT = """\
from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="faults",
        datasets=("xor", "circles", "moons", "spirals"),
        models=("logreg",),
        steps=(80_000,),
        seeds=(0, 1, 2),
        learning_rate=(0.5, 2.0),
        eval_every=4_000,
        n_examples=64,
        save_params=True,
    )
"""

# The writes of one run, in order (what CS109NN_FAULT's N counts): the lock's owner note, the
# manifest with this session, then per group left curves, params, manifest, results.csv, and
# last the manifest closing the session. A targeted kill asserts the process died, so a change
# to this sequence fails loudly rather than testing nothing.
WRITES_PER_GROUP = 4


def planned_writes(groups_left: int) -> int:
    return 2 + WRITES_PER_GROUP * groups_left + 1


# Which writes the fast tier kills at, per point, one after another on one folder: the lock's
# note, the first group's curves, the last group's rows (negative: counted from the run's last
# write). The long tier kills at every write.
FAST_WRITES = (1, 3, -2)
FAST_RANDOM_KILLS = 4
LONG_RANDOM_KILLS = 20
FAST_SEED, LONG_SEED = 20260, 109


@dataclass(frozen=True)
class Reference:
    """The uninterrupted run: its folder, what it holds, and when (seconds from its start)
    it took the folder, finished it and exited."""

    experiment: Path
    cache: Path
    out: Path
    groups: tuple[str, ...]
    members: int
    header: tuple[str, ...]
    rows: dict[tuple[str, str], list[str]]  # (group, member) -> cells but the timing ones
    curves: dict[str, dict[str, np.ndarray]]
    params: dict[str, dict[str, np.ndarray]]
    took_folder_s: float
    finished_s: float
    exited_s: float


def environment(reference_cache: Path, fault: str | None = None) -> dict[str, str]:
    """This environment without JAX/XLA settings (they change the numbers) or a fault, plus the
    shared compilation cache and ``fault``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_", "XLA_")) and k != FAULT_VARIABLE
    }
    env["JAX_PLATFORMS"] = "cpu"
    env["JAX_COMPILATION_CACHE_DIR"] = str(reference_cache)
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    if fault is not None:
        env[FAULT_VARIABLE] = fault
    return env


def start_sweep(
    experiment: Path, cache: Path, out: Path, log: Path, fault: str | None = None
) -> subprocess.Popen:
    """``cs109nn sweep`` as users run it, in its own process group (so kill -9 takes it all)."""
    command = [sys.executable, "-m", "cs109nn.cli.main", "sweep", str(experiment)]
    command += ["--out", str(out), "--no-report", "--cpu-devices", "1"]
    with open(log, "ab") as stream:
        stream.write(f"\n=== {' '.join(command[3:])} fault={fault}\n".encode())
        stream.flush()
        return subprocess.Popen(
            command,
            env=environment(cache, fault),
            cwd=REPO,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def tail(log: Path, size: int = 3000) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else ""


def without_timing(header, row) -> list[str]:
    return [cell for name, cell in zip(header, row, strict=True) if name not in TIMING_COLUMNS]


def member_column(header) -> int:
    return list(header).index("member")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    """An uninterrupted run (it fills the compilation cache), then a second one, timed by
    watching its folder (when it takes the lock, when the manifest says finished, when it
    exits): the first compiles, so only the second times a run as the faulted ones go. The
    second must match the first, or nothing below could tell a resume's fault from the cache's."""
    root = tmp_path_factory.mktemp("faults")
    experiment, cache, out = root / "faults_experiment.py", root / "jax-cache", root / "reference"
    experiment.write_text(EXPERIMENT)
    plan = make_plan(load_experiment(experiment))
    log = root / "reference.log"
    timed(experiment, cache, out, log)
    header, rows = read_results(out)
    groups = tuple(group.group_id for group in plan.groups)
    assert len(rows) == plan.num_models and {row[0] for row in rows} == set(groups)
    column = member_column(header)
    again = root / "uninterrupted"
    took, finished, exited = timed(experiment, cache, again, log)
    assert [without_timing(header, row) for row in read_results(again)[1]] == [
        without_timing(header, row) for row in rows
    ], "a second uninterrupted run (compiled program from the cache) differs from the first"
    return Reference(
        experiment=experiment,
        cache=cache,
        out=out,
        groups=groups,
        members=len(plan.members),
        header=header,
        rows={(row[0], row[column]): without_timing(header, row) for row in rows},
        curves={g: read_arrays(curves_path(out, g)) for g in groups},
        params={g: read_arrays(params_path(out, g)) for g in groups},
        took_folder_s=took,
        finished_s=finished,
        exited_s=exited,
    )


def timed(experiment: Path, cache: Path, out: Path, log: Path) -> tuple[float, float, float]:
    """Run the sweep to its end; seconds from its start to taking the folder's lock, to the
    manifest saying finished, to the process's exit."""
    began = time.monotonic()
    process = start_sweep(experiment, cache, out, log)
    took = finished = None
    while process.poll() is None:
        now = time.monotonic() - began
        if took is None and (out / LOCK).exists():
            took = now
        if took is not None and finished is None and _finished(out):
            finished = now
        assert now < TIMEOUT, tail(log)
        time.sleep(0.01)
    exited = time.monotonic() - began
    assert process.returncode == 0, tail(log)
    took = exited if took is None else took
    return took, exited if finished is None else finished, exited


def _finished(out: Path) -> bool:
    try:
        manifest = read_manifest(out)
    except Exception:  # checked elsewhere; here only the time is wanted
        return False
    return manifest is not None and manifest.get("finished") is not None


# --- what a folder holds, against the reference -----------------------------------------------


@dataclass
class State:
    rows: Counter  # (group, member) -> copies in results.csv
    temporary: list[str]
    problems: list[str]


def inspect(reference: Reference, out: Path, *, final: bool) -> State:
    """Check ``out`` against the reference: after any kill (``final`` False) and after the run
    that completed (``final``: the whole plan there, no temporary file). Problems are returned,
    not raised, so that a long loop can count them all."""
    problems: list[str] = []
    temporary = sorted(str(p.relative_to(out)) for p in out.rglob(".*.tmp")) if out.exists() else []

    try:
        manifest = read_manifest(out)
    except Exception as error:
        problems.append(f"manifest.json does not parse: {error}")
        manifest = None
    try:
        read_typed_results(out)
    except Exception as error:
        problems.append(f"results.csv does not parse: {error}")
    header, rows = read_results(out)
    copies: Counter = Counter()
    if header:
        if tuple(header) != reference.header:
            problems.append(f"results.csv header {header} is not the reference's")
        else:
            column = member_column(header)
            for number, row in enumerate(rows, start=1):
                key = (row[0], row[column]) if len(row) == len(header) else ("?", str(number))
                copies[key] += 1
                want = reference.rows.get(key)
                if want is None:
                    problems.append(f"results.csv row {number}: no such member {key}")
                elif without_timing(header, row) != want:
                    difference = _first_difference(header, row, want)
                    problems.append(f"results.csv row {number} {key}: {difference}")
    for key, count in copies.items():
        if count > 1:
            problems.append(f"results.csv holds {key} {count} times")
    members = {str(m) for m in range(reference.members)}
    for group in {key[0] for key in copies}:
        held = {member for g, member in copies if g == group}
        if group in reference.groups and held != members:
            problems.append(f"results.csv holds part of group {group}: members {sorted(held)}")

    for folder, want, parse in (
        (CURVES, reference.curves, read_curves),
        (PARAMS, reference.params, read_arrays),
    ):
        if not (out / folder).is_dir():
            continue
        for path in sorted((out / folder).glob("[!.]*")):
            try:
                parse(path)
                problems += _differences(f"{folder}/{path.name}", read_arrays(path), want)
            except Exception as error:
                problems.append(f"{folder}/{path.name} does not parse: {error}")

    if final:
        problems += _incomplete(reference, out, manifest, header, rows, copies, temporary)
    return State(rows=copies, temporary=temporary, problems=problems)


def _first_difference(header, row, want) -> str:
    names, got = without_timing(header, header), without_timing(header, row)
    k = next(k for k, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
    return f"{names[k]} is {got[k]!r}, the reference's {want[k]!r}"


def _differences(name: str, arrays: dict, reference_files: dict) -> list[str]:
    want = reference_files.get(Path(name).stem)
    if want is None:
        return [f"{name}: a file of no planned group"]
    if sorted(arrays) != sorted(want):
        return [f"{name}: arrays {sorted(arrays)}, the reference has {sorted(want)}"]
    return [
        f"{name}: array {key!r} differs from the reference's"
        for key, array in arrays.items()
        if array.dtype != want[key].dtype
        or not np.array_equal(
            array, want[key], equal_nan=bool(np.issubdtype(array.dtype, np.inexact))
        )
    ]


def _incomplete(reference, out, manifest, header, rows, copies, temporary) -> list[str]:
    problems = []
    if temporary:
        problems.append(f"temporary files left: {temporary}")
    if manifest is None or manifest.get("finished") is None:
        problems.append("the manifest does not say the run finished")
    elif set(manifest.get("groups", {})) != set(reference.groups):
        problems.append(f"the manifest records groups {sorted(manifest.get('groups', {}))}")
    missing = sorted(set(reference.rows) - set(copies))
    if missing:
        problems.append(f"rows missing from results.csv: {missing}")
    if header and [without_timing(header, row) for row in rows] != list(reference.rows.values()):
        problems.append("results.csv is not the reference's text (timing columns aside)")
    for group in reference.groups:
        for path in (curves_path(out, group), params_path(out, group)):
            if not path.is_file():
                problems.append(f"{path.relative_to(out)} is missing")
    return problems


# --- a scenario: kills on one folder, then the rerun that completes -------------------------


@dataclass
class Figures:
    """What the kills did, summed over scenarios."""

    scenarios: int = 0
    kills: int = 0  # SIGKILLs that found a live sweep
    kills_before_the_folder_was_opened: int = 0  # no session of its own in the manifest yet
    kills_mid_run: int = 0  # its session opened, not finished
    kills_after_the_run_finished: int = 0  # the manifest closed, the process still exiting
    draws_after_the_process_exited: int = 0  # the run completed before its kill moment
    targeted_kills: int = 0  # by CS109NN_FAULT
    clean_reruns: int = 0
    rows_lost: int = 0  # rows a folder held after a kill and a later state lacked
    rows_duplicated: int = 0  # extra copies of a row, summed over the states seen
    groups_found_damaged: int = 0  # finished groups a resume distrusted and trained again
    temporary_files_left_by_kills: int = 0
    # how many groups results.csv held after each kill, and the kills that found so many
    groups_done_after_kills: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Scenario:
    """One run folder, killed again and again, then rerun to the end; every state checked."""

    def __init__(self, reference: Reference, out: Path, log: Path, figures: Figures):
        self.reference, self.out, self.log, self.figures = reference, out, log, figures
        self.held: set = set()  # every row the folder has held so far
        self.lost: set = set()
        figures.scenarios += 1

    def groups_left(self) -> int:
        header, rows = read_results(self.out)
        return len(self.reference.groups) - len({row[0] for row in rows})

    def kill_at_point(self, point: str, write: int) -> None:
        """Run with ``CS109NN_FAULT=point:N``, N = ``write`` (negative: from the last write)."""
        total = planned_writes(self.groups_left())
        n = write if write > 0 else total + 1 + write
        process = start_sweep(
            self.reference.experiment, self.reference.cache, self.out, self.log, f"{point}:{n}"
        )
        code = process.wait(timeout=TIMEOUT)
        assert code == -signal.SIGKILL, (
            f"{point}:{n} (of {total} writes) did not kill the sweep (exit code {code}): "
            f"its writes are not planned_writes()'s\n{tail(self.log)}"
        )
        self.figures.kills += 1
        self.figures.targeted_kills += 1
        self.observe(final=False)

    def kill_after(self, seconds: float) -> str:
        """Start the sweep, SIGKILL its process group ``seconds`` later; where the kill landed."""
        sessions = self._sessions()
        process = start_sweep(self.reference.experiment, self.reference.cache, self.out, self.log)
        try:
            code = process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait(timeout=TIMEOUT)
        if code == 0:
            self.figures.draws_after_the_process_exited += 1
            self.observe(final=True)
            return "after exit"
        assert code == -signal.SIGKILL, f"the sweep failed (exit code {code})\n{tail(self.log)}"
        self.figures.kills += 1
        now = self._sessions()
        if len(now) == len(sessions):
            landed = "before the folder was opened"
            self.figures.kills_before_the_folder_was_opened += 1
        elif now[-1].get("finished") is not None:
            landed = "after the run finished"
            self.figures.kills_after_the_run_finished += 1
        else:
            landed = "mid-run"
            self.figures.kills_mid_run += 1
        self.observe(final=False)
        return landed

    def finish(self) -> None:
        """Rerun without a fault: it must complete, and the folder be the reference's."""
        process = start_sweep(self.reference.experiment, self.reference.cache, self.out, self.log)
        code = process.wait(timeout=TIMEOUT)
        self.figures.clean_reruns += 1
        if code != 0:
            self.figures.problems.append(
                f"{self.out.name}: the rerun failed (exit code {code}):\n{tail(self.log)}"
            )
            return
        self.observe(final=True)

    def observe(self, *, final: bool) -> None:
        state = inspect(self.reference, self.out, final=final)
        now = set(state.rows)
        newly_lost = (self.held - now) | (set(self.reference.rows) - now if final else set())
        self.figures.rows_lost += len(newly_lost - self.lost)
        self.lost |= newly_lost
        self.held |= now
        self.figures.rows_duplicated += sum(count - 1 for count in state.rows.values())
        if not final:
            self.figures.temporary_files_left_by_kills += len(state.temporary)
            done = len({group for group, _ in state.rows})
            tally = self.figures.groups_done_after_kills
            tally[done] = tally.get(done, 0) + 1
        else:
            self.figures.groups_found_damaged += sum(
                len(session.get("groups_damaged", {})) for session in self._sessions()
            )
        where = "after the completing run" if final else "after a kill"
        self.figures.problems += [f"{self.out.name}, {where}: {p}" for p in state.problems]

    def _sessions(self) -> list[dict]:
        try:
            return (read_manifest(self.out) or {}).get("sessions", [])
        except Exception:
            return []


def kill_window(reference: Reference) -> tuple[float, float]:
    """Random kills fall while an uninterrupted run holds its folder (from taking it to a little
    after finishing it): a kill before that changes nothing, one long after only cuts the
    summary short. (A resumed run has less to do, so more kills land after it finished.)"""
    return reference.took_folder_s, reference.finished_s + 0.2


def report(figures: Figures, path: Path, seconds: float | None) -> dict:
    figures_dict = {**asdict(figures), "problems": figures.problems[:50], "seconds": seconds}
    figures_dict["groups_done_after_kills"] = dict(sorted(figures.groups_done_after_kills.items()))
    path.write_text(json.dumps(figures_dict, indent=2) + "\n")
    shown = {k: v for k, v in figures_dict.items() if k != "problems"}
    print(f"\nfault figures ({path}):\n{json.dumps(shown, indent=2)}")
    for problem in figures.problems[:20]:
        print("PROBLEM:", problem)
    return figures_dict


def assert_clean(figures: Figures) -> None:
    assert not figures.problems, "\n".join(figures.problems[:20])
    assert figures.rows_lost == 0 and figures.rows_duplicated == 0


# --- fast tier (CI) ---------------------------------------------------------------------------


def test_the_uninterrupted_reference_run_is_complete(reference):
    state = inspect(reference, reference.out, final=True)
    assert not state.problems, state.problems
    assert reference.took_folder_s < reference.finished_s <= reference.exited_s
    print(
        f"\nan uninterrupted run: folder taken at {reference.took_folder_s:.2f} s, finished at "
        f"{reference.finished_s:.2f} s, exited at {reference.exited_s:.2f} s"
    )


def test_the_checks_catch_a_folder_that_is_not_the_reference(reference, tmp_path):
    """The harness is not vacuous: each kind of damage it exists to find, it finds."""

    def damaged(change) -> list[str]:
        out = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        shutil.copytree(reference.out, out)
        change(out)
        return inspect(reference, out, final=True).problems

    def edit_results(edit):
        def change(out: Path) -> None:
            lines = (out / "results.csv").read_text().splitlines(keepends=True)
            (out / "results.csv").write_text("".join(edit(lines)))

        return change

    def other_metric(line: str) -> str:  # final_train_ll one float64 ulp off
        cells = line.rstrip("\n").split(",")
        k = reference.header.index("final_train_ll")
        cells[k] = repr(float(np.nextafter(float(cells[k]), 0.0)))
        return ",".join(cells) + "\n"

    def other_curves(out: Path) -> None:
        arrays = read_arrays(curves_path(out, reference.groups[0]))
        arrays["train_ll"] = arrays["train_ll"] + 1
        np.savez(curves_path(out, reference.groups[0]), **arrays)

    assert not damaged(lambda out: None)
    assert damaged(edit_results(lambda lines: lines + lines[-1:]))  # a row twice
    assert damaged(edit_results(lambda lines: lines[: 1 + reference.members]))  # groups lost
    assert damaged(edit_results(lambda lines: [*lines[:-1], other_metric(lines[-1])]))
    assert damaged(lambda out: (out / "results.csv").write_text("group,member\n"))
    assert damaged(lambda out: (out / CURVES / ".x.npz.0.tmp").write_bytes(b""))
    assert damaged(lambda out: curves_path(out, reference.groups[-1]).unlink())
    assert damaged(lambda out: params_path(out, reference.groups[-1]).write_bytes(b"PK"))
    assert damaged(other_curves)


def test_the_fault_hook_refuses_a_setting_it_cannot_follow(tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_VARIABLE, "after_rename:1")
    with pytest.raises(ValueError, match=FAULT_VARIABLE):
        write_atomic(tmp_path / "file.txt", "never written")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_sweep_killed_at_exact_points_of_its_writes_reruns_to_the_reference(
    reference, tmp_path, point
):
    figures = Figures()
    scenario = Scenario(reference, tmp_path / "run", tmp_path / "log.txt", figures)
    for write in FAST_WRITES:
        scenario.kill_at_point(point, write)
    scenario.finish()
    report(figures, tmp_path / "fault_figures.json", None)
    assert figures.targeted_kills == len(FAST_WRITES)
    assert_clean(figures)


def test_a_sweep_killed_at_random_moments_reruns_to_the_reference(reference, tmp_path):
    figures = Figures()
    scenario = Scenario(reference, tmp_path / "run", tmp_path / "log.txt", figures)
    draw = random.Random(FAST_SEED)
    for _ in range(FAST_RANDOM_KILLS):
        scenario.kill_after(draw.uniform(*kill_window(reference)))
    scenario.finish()
    report(figures, tmp_path / "fault_figures.json", None)
    assert_clean(figures)


# --- long tier (-m faults_long) ---------------------------------------------------------------


@pytest.mark.faults_long
def test_long_loop_of_random_kills_over_the_sweeps_life(reference, tmp_path):
    """Scenarios on a fresh folder each: random kills, every state checked, until one lands
    after the run finished its folder (or 8 have landed), then the rerun that completes; until
    ``LONG_RANDOM_KILLS`` kills have landed."""
    figures, began = Figures(), time.monotonic()
    draw = random.Random(LONG_SEED)
    try:
        while figures.kills < LONG_RANDOM_KILLS:
            number = figures.scenarios
            scenario = Scenario(
                reference, tmp_path / f"run{number}", tmp_path / f"log{number}.txt", figures
            )
            for _ in range(8):
                landed = scenario.kill_after(draw.uniform(*kill_window(reference)))
                if landed in ("after the run finished", "after exit"):
                    break
            scenario.finish()
    finally:
        report(figures, tmp_path / "fault_figures.json", round(time.monotonic() - began, 1))
    assert figures.kills >= LONG_RANDOM_KILLS
    assert_clean(figures)


@pytest.mark.faults_long
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_long_every_write_of_a_run_killed_at_each_point(reference, tmp_path, point):
    """A fresh run killed at each of its writes in turn (one folder per write), then rerun."""
    figures, began = Figures(), time.monotonic()
    try:
        for n in range(1, planned_writes(len(reference.groups)) + 1):
            scenario = Scenario(reference, tmp_path / f"run{n}", tmp_path / f"log{n}.txt", figures)
            scenario.kill_at_point(point, n)
            scenario.finish()
    finally:
        report(figures, tmp_path / "fault_figures.json", round(time.monotonic() - began, 1))
    assert_clean(figures)
