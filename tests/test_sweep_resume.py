"""The sweep command as users run it, in subprocesses: killed and rerun, reproduced, and run by
two processes joined by jax.distributed on 127.0.0.1 -- each against an uninterrupted run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cs109nn.sweep import make_plan
from cs109nn.sweep.results import CROSS_PLATFORM_TOLERANCE, compare_results
from cs109nn.sweep.run_folder import TIMING_COLUMNS, read_manifest, read_results
from cs109nn.sweep.spec import load_experiment

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "experiments" / "quick.py"  # 3 groups x 6 members
PLAN = make_plan(load_experiment(QUICK))
TIMEOUT = 300


def environment(**extra: str) -> dict[str, str]:
    """This environment without JAX/XLA settings (they change the numbers), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra)
    return env


def cs109nn(*args: str) -> list[str]:
    return [sys.executable, "-m", "cs109nn.cli.main", *args]


def sweep(out: Path, *extra: str) -> list[str]:
    return cs109nn("sweep", str(QUICK), "--out", str(out), "--no-report", *extra)


def groups_done(run_dir: Path) -> int:
    return len({row[0] for row in read_results(run_dir)[1]})


def without_timing(run_dir: Path) -> tuple[list[str], list[list[str]]]:
    header, rows = read_results(run_dir)
    keep = [k for k, name in enumerate(header) if name not in TIMING_COLUMNS]
    return [header[k] for k in keep], [[row[k] for k in keep] for row in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted single-process run of the quick experiment."""
    out = tmp_path_factory.mktemp("reference") / "run"
    subprocess.run(
        sweep(out), env=environment(), cwd=REPO, check=True, timeout=TIMEOUT, capture_output=True
    )
    return out


def kill_when(out: Path, ready, log: Path) -> None:
    """Start the sweep into ``out`` and SIGKILL it as soon as ``ready()`` holds."""
    with open(log, "ab") as stream:
        process = subprocess.Popen(
            sweep(out), env=environment(), cwd=REPO, stdout=stream, stderr=stream
        )
    deadline = time.monotonic() + TIMEOUT
    try:
        while not ready():
            assert process.poll() is None, f"the sweep ended before the kill point: {log}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_a_sweep_killed_at_several_points_and_rerun_ends_with_the_uninterrupted_rows(
    reference, tmp_path
):
    out, log = tmp_path / "run", tmp_path / "log.txt"
    total = len(PLAN.groups)
    kill_when(out, lambda: (out / "manifest.json").exists(), log)  # before any group is done
    assert groups_done(out) == 0
    kill_when(out, lambda: groups_done(out) >= 1, log)
    assert 1 <= groups_done(out) < total
    kill_when(out, lambda: groups_done(out) >= 2, log)
    assert 2 <= groups_done(out) < total
    subprocess.run(
        sweep(out), env=environment(), cwd=REPO, check=True, timeout=TIMEOUT, capture_output=True
    )

    assert without_timing(out) == without_timing(reference)
    table = pd.read_csv(out / "results.csv")
    assert len(table) == PLAN.num_models and not table.duplicated(["group", "member"]).any()
    assert not [p.name for p in out.rglob(".*.tmp")]
    for group in PLAN.groups:  # curves too: the same bits
        with (
            np.load(out / "curves" / f"{group.group_id}.npz") as got,
            np.load(reference / "curves" / f"{group.group_id}.npz") as want,
        ):
            assert sorted(got.files) == sorted(want.files)
            for name in want.files:
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    sessions = read_manifest(out)["sessions"]
    assert [s["finished"] is None for s in sessions] == [True, True, True, False]


def test_reproduce_of_a_finished_run_reports_a_full_exact_match(reference, tmp_path):
    done = subprocess.run(
        cs109nn("reproduce", str(reference), "--out", str(tmp_path / "again")),
        env=environment(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same platform: comparing exactly" in done.stdout
    assert "full match" in done.stdout and "MISMATCH" not in done.stdout
    for metric in ("final_train_ll", "final_train_acc", "final_test_ll", "final_test_acc"):
        line = next(line for line in done.stdout.splitlines() if line.split()[:1] == [metric])
        assert line.split()[-1] == "exact"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_with_two_devices_each_match_the_single_process_run(reference, tmp_path):
    out, coordinator = tmp_path / "run", f"127.0.0.1:{free_port()}"
    logs = [tmp_path / f"process{i}.txt" for i in range(2)]
    processes = []
    for process_id, log in enumerate(logs):
        flags = (
            "--coordinator",
            coordinator,
            "--num-processes",
            "2",
            "--process-id",
            str(process_id),
        )
        with open(log, "wb") as stream:
            processes.append(
                subprocess.Popen(
                    sweep(out, *flags),
                    env=environment(JAX_NUM_CPU_DEVICES="2"),
                    cwd=REPO,
                    stdout=stream,
                    stderr=stream,
                )
            )
    try:
        codes = [process.wait(timeout=TIMEOUT) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert codes == [0, 0], "\n".join(log.read_text()[-3000:] for log in logs)

    environment_used = read_manifest(out)["environment"]
    assert environment_used["process_count"] == 2
    assert environment_used["device_count"] == 4 and environment_used["local_device_count"] == 2
    comparison = compare_results(
        read_results(reference), read_results(out), tolerance=CROSS_PLATFORM_TOLERANCE
    )
    assert not comparison.missing and not comparison.extra
    assert comparison.matches, [c for c in comparison.columns if c.mismatches]
    assert "run folder:" not in logs[1].read_text()  # process 1 neither writes nor reports
