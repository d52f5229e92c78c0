"""A sweep run as a user runs it: ``cs109nn sweep`` in a fresh process on two CPU devices,
optionally killed at a fault point (``CS109NN_FAULT``), and its rows without the clock's
columns. Shared by the tests that kill a sweep and resume it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cs109nn.atomic_files import FAULT_VARIABLE
from cs109nn.run_folder_schema import TIMING_COLUMNS, read_results

REPO = Path(__file__).resolve().parents[1]


TIMEOUT = 600


def _environment(cache: Path, fault: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.pop(FAULT_VARIABLE, None)
    env |= {"JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": str(cache)}
    env |= {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    if fault:
        env[FAULT_VARIABLE] = fault
    return env


def _command(experiment: Path, out: Path) -> list[str]:
    command = [sys.executable, "-m", "cs109nn.cli.main", "sweep", str(experiment)]
    return command + ["--out", str(out), "--no-report", "--cpu-devices", "2"]


def sweep(experiment: Path, out: Path, cache: Path, fault: str | None = None):
    """``cs109nn sweep EXPERIMENT --out OUT`` with a shared compilation cache (``cache``)."""
    env, command = _environment(cache, fault), _command(experiment, out)
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sweep_processes(
    experiment: Path, out: Path, cache: Path, processes: int = 2, fault: str | None = None
) -> list[tuple[int, str]]:
    """The same sweep as ``processes`` processes of two CPU devices each, joined by
    jax.distributed on 127.0.0.1 (``--coordinator``): each one's (return code, output)."""
    coordinator, env = f"127.0.0.1:{free_port()}", _environment(cache, fault)
    logs = [out.parent / f"{out.name}.process{i}.txt" for i in range(processes)]
    running = []
    for process_id, log in enumerate(logs):
        command = _command(experiment, out) + ["--coordinator", coordinator]
        command += ["--num-processes", str(processes), "--process-id", str(process_id)]
        with open(log, "wb") as stream:
            running.append(
                subprocess.Popen(command, env=env, cwd=REPO, stdout=stream, stderr=stream)
            )
    try:
        codes = [process.wait(timeout=TIMEOUT) for process in running]
    finally:
        for process in running:
            process.kill()
    return [(code, log.read_text()) for code, log in zip(codes, logs, strict=True)]


def rows_without_timing(out: Path) -> list[list[str]]:
    """results.csv's rows without the timing columns (which measure the session's clock)."""
    header, rows = read_results(out)
    keep = [i for i, name in enumerate(header) if name not in TIMING_COLUMNS]
    return [[row[i] for i in keep] for row in rows]
