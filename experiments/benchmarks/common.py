"""Shared helpers of the benchmark scripts: thread pinning, machine load, interleaved timing.

Import this module before numpy, torch or jax: ``pin_threads`` only works when it runs
before those libraries start their thread pools. Nothing here imports jax or torch at module
level.

The timing discipline (../../shared/DESIGN.md, "What fast means here"): every variant of a
benchmark runs in the same process, interleaved A B C A B C ... so that a burst of load from
another process lands on all of them alike; each reports its best and median over repeats,
and the range, because this machine is shared.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def pin_threads(threads: int) -> dict[str, str]:
    """Set the BLAS/OpenMP thread counts of numpy and torch; call before importing them.

    XLA:CPU is not pinned here: it sizes its own pool to the cores (a benchmark that wants
    another layout passes ``--cpu-devices``, see ``set_cpu_devices``).
    """
    pinned = {name: str(threads) for name in THREAD_VARIABLES}
    os.environ.update(pinned)
    return pinned


def set_cpu_devices(count: int | None) -> None:
    """Ask jax for ``count`` CPU devices (before jax is imported); None keeps jax's default."""
    if count is not None:
        os.environ["JAX_NUM_CPU_DEVICES"] = str(count)


def machine_load(top_n: int = 6) -> str:
    """Load averages, core count and the busiest other processes, from ``uptime`` and ``top``."""
    one, five, fifteen = os.getloadavg()
    lines = [f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"]
    try:
        top = subprocess.run(
            ["top", "-bn1", "-w", "200"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return lines[0]
    header = next((i for i, line in enumerate(top) if line.lstrip().startswith("PID")), None)
    if header is None:
        return lines[0]
    busy = []
    for line in top[header + 1 :]:
        fields = line.split()
        if len(fields) < 12 or fields[0] == str(os.getpid()):
            continue
        try:
            cpu = float(fields[8].replace(",", "."))
        except ValueError:
            continue
        if cpu >= 5.0:
            busy.append(f"  pid {fields[0]:>7} {cpu:6.1f}% cpu  {' '.join(fields[11:])[:60]}")
    lines.append(
        "other processes using the CPU (top -bn1, >= 5%):"
        if busy
        else "no other process above 5% cpu (top -bn1)"
    )
    lines += busy[:top_n]
    return "\n".join(lines)


def interleaved(
    variants: Mapping[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Run every variant once per round, in order, for ``repeats`` rounds (A B C A B C ...).

    Each variant returns the seconds it wants counted (so that it can time a subset of its
    members and scale, or report an engine's own run time). Returns name -> seconds per round.
    """
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            seconds[name].append(float(run()))
    return seconds


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of ``fn()``; ``fn`` must block until its work is done."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Rate:
    """Work per second over repeats: best (max), median and range of ``work / seconds``."""

    def __init__(self, work: float, seconds: Sequence[float]) -> None:
        self.rates = sorted(work / s for s in seconds)

    @property
    def best(self) -> float:
        return self.rates[-1]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def low(self) -> float:
        return self.rates[0]

    def __str__(self) -> str:
        best, median, low = human(self.best), human(self.median), human(self.low)
        return f"{best} best, {median} median ({low}-{best})"


def paired(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Per-round ratios of two variants' rates, from their seconds for equal work.

    ``numerator`` and ``denominator`` are seconds per round from ``interleaved`` (the same
    work, or already scaled to it); round r's ratio is denominator[r] / numerator[r], the
    speed-up of the numerator. Rounds are adjacent in time, so a ratio taken within a round is
    less sensitive to other processes' load than a ratio of two medians.
    """
    return sorted(d / n for n, d in zip(numerator, denominator, strict=True))


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """'median [low-high]' of ``values``, each formatted with ``fmt``."""
    values = sorted(values)
    return (
        f"{fmt.format(statistics.median(values))} "
        f"[{fmt.format(values[0])}-{fmt.format(values[-1])}]"
    )


def ceil_div(a: int, b: int) -> int:
    """⌈a / b⌉ for positive integers."""
    return -(-a // b)


def human(value: float) -> str:
    """3 significant figures with a k/M/G suffix: 1234567 -> '1.23M'."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def matmul_peak(size: int = 2048) -> Callable[[], float]:
    """A variant for ``interleaved``: one warm, jitted float32 ``jnp.dot`` of size³; seconds.

    The first call compiles and warms up; FLOPs per call are 2·size³.
    """
    import jax
    import jax.numpy as jnp

    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32)
    b = jax.random.normal(key_b, (size, size), jnp.float32)
    dot = jax.jit(jnp.dot)
    jax.block_until_ready(dot(a, b))
    return lambda: timed(lambda: jax.block_until_ready(dot(a, b)))


def verdict(ratio: float, target: float) -> str:
    """'met' or 'NOT met' for a ratio against a '>= target' goal."""
    return "met" if ratio >= target else "NOT met"


# An HLO instruction's name: fusion.3, ynn_fusion, dot.38, copy.24 (not Python frames such as
# "$api.py:2479 block_until_ready", runtime spans or "end: dot" markers).
HLO_NAME = re.compile(r"^[a-z][a-z0-9_\-]*(\.[0-9]+)*$")


def op_profile(run: Callable[[], object], top: int = 12) -> list[tuple[str, int, float]]:
    """Per-XLA-op time of one ``run()`` from a jax profiler trace: (op, calls, seconds).

    Uses ``jax.profiler.trace(..., create_perfetto_trace=True)`` and sums the durations of
    each complete event whose name is an HLO instruction (a fusion, a dot, a copy ...) under
    XLA:CPU's thunk executor (``HLO_NAME``); Python frames, runtime spans and while loops
    (whose span holds their body's ops) are dropped. Sorted by time, longest first.
    """
    import collections
    import glob
    import gzip
    import json
    import tempfile

    import jax

    with tempfile.TemporaryDirectory() as log_dir:
        with jax.profiler.trace(log_dir, create_perfetto_trace=True):
            run()
        (path,) = glob.glob(os.path.join(log_dir, "**", "perfetto_trace.json.gz"), recursive=True)
        with gzip.open(path) as f:
            trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for event in events:
        name = event.get("name", "")
        if event.get("ph") != "X" or not HLO_NAME.match(name):
            continue
        totals[name][0] += 1
        totals[name][1] += event.get("dur", 0.0) / 1e6
    # A while loop's span contains its body's ops: keep it out of the per-op table.
    rows = [
        (name, int(c), s)
        for name, (c, s) in totals.items()
        if not name.startswith(("while", "call", "conditional"))
    ]
    return sorted(rows, key=lambda row: -row[2])[:top]


def print_op_profile(
    title: str, rows: list[tuple[str, int, float]], per: int, unit: str = "step"
) -> None:
    """Print ``op_profile`` rows as microseconds per ``unit`` (``per`` of them in the run)."""
    total = sum(seconds for _, _, seconds in rows)
    print(f"  {title}: top ops, µs per {unit} (sum of listed {total / per * 1e6:.0f} µs)")
    for name, calls, seconds in rows:
        print(f"    {seconds / per * 1e6:9.1f} µs  {calls:6d} calls  {name[:70]}")


def engine_source(repo: str) -> str:
    """Which engine was measured: git HEAD, whether cs109nn/ has uncommitted changes, and a
    short sha256 of the files that decide these benchmarks (cs109nn/train/*.py and
    cs109nn/models/objectives.py), so that figures from a changing work tree stay attributable.
    """
    import glob
    import hashlib

    digest = hashlib.sha256()
    paths = sorted(glob.glob(os.path.join(repo, "cs109nn", "train", "*.py")))
    paths.append(os.path.join(repo, "cs109nn", "models", "objectives.py"))
    for path in paths:
        with open(path, "rb") as f:
            digest.update(f.read())

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", repo, *args], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " + uncommitted changes in cs109nn/" if git("status", "--porcelain", "cs109nn") else ""
    return f"git {head}{dirty}; train+objectives sha256 {digest.hexdigest()[:10]}"


def add_shared_arguments(parser: argparse.ArgumentParser, *, threads_help: str) -> None:
    """The options P1 and P2 share: repeats of the chunk sweep, threads, devices, output."""
    parser.add_argument(
        "--sweep-repeats", type=int, default=None, help="rounds of the chunk sweep (default 3)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help=threads_help)
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=os.cpu_count(),
        help="JAX CPU devices (JAX_NUM_CPU_DEVICES; default one per core); the engine runs on "
        "1 and on all of them",
    )
    parser.add_argument("--profile", action="store_true", help="per-op profile of the engine")
    parser.add_argument("--json", default=None, help="also write the figures to this file")


def training_programs(names: list[str]) -> int:
    """How many of the compiled ``names`` are the runner's training programs (by the names
    jax's compile log gives them, ``cs109nn.train.runner.TRAINING_PROGRAMS``)."""
    from cs109nn.train.runner import TRAINING_PROGRAMS  # after the threads are pinned

    return sum(name in TRAINING_PROGRAMS for name in names)


class CompileLog(logging.Handler):
    """Names of the jitted functions XLA compiled, from jax's compile log lines: counted
    independently of the engine, as tests/conftest.py counts them."""

    pattern = re.compile(r"Finished XLA compilation of (?:jit|pjit)\((\w+)\)")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = self.pattern.search(record.getMessage())
        if match:
            self.names.append(match.group(1))
