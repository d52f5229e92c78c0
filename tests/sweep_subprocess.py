"""A sweep run as a user runs it: ``cs109nn sweep`` in a fresh process on two CPU devices,
optionally killed at a fault point (``CS109NN_FAULT``), and its rows without the clock's
columns. Shared by the tests that kill a sweep and resume it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cs109nn.atomic_files import FAULT_VARIABLE
from cs109nn.run_folder_schema import TIMING_COLUMNS, read_results

REPO = Path(__file__).resolve().parents[1]


def sweep(experiment: Path, out: Path, cache: Path, fault: str | None = None):
    """``cs109nn sweep EXPERIMENT --out OUT`` with a shared compilation cache (``cache``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.pop(FAULT_VARIABLE, None)
    env |= {"JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": str(cache)}
    env |= {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    if fault:
        env[FAULT_VARIABLE] = fault
    command = [sys.executable, "-m", "cs109nn.cli.main", "sweep", str(experiment)]
    command += ["--out", str(out), "--no-report", "--cpu-devices", "2"]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)


def rows_without_timing(out: Path) -> list[list[str]]:
    """results.csv's rows without the timing columns (which measure the session's clock)."""
    header, rows = read_results(out)
    keep = [i for i, name in enumerate(header) if name not in TIMING_COLUMNS]
    return [[row[i] for i in keep] for row in rows]
