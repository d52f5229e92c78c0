"""Whether two runs of one config agree: the comparison and the decision behind
``cs109nn reproduce``.

Works on results.csv as written (header and rows of text cells, ``run_folder.read_results``),
so an exact comparison compares the very bits written: float cells are the shortest strings
that round-trip, equal text is equal bits. (Which config is best, and which members diverged,
is the report's: ``cs109nn.report.ranking``.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from cs109nn.sweep.lifecycle import RunFolderError
from cs109nn.sweep.run_folder import (
    NUMERICS_FIELDS,
    TEST_METRICS,
    TIMING_COLUMNS,
    TRAIN_METRICS,
    VAL_METRICS,
    read_manifest,
    read_results,
)
from cs109nn.sweep.runner import run_sweep
from cs109nn.sweep.spec import from_config

# A cross-platform reproduction agrees within this, absolutely, on LL and accuracy: float32
# results of reordered reductions differ by ~1e-6 (DESIGN.md, "Equality has two strengths").
CROSS_PLATFORM_TOLERANCE = 1e-5

Header = Sequence[str]
Rows = Sequence[Sequence[str]]


class ColumnComparison(NamedTuple):
    """How one column of a reproduction agrees with the original, over the common members."""

    column: str
    members: int
    mismatches: int
    max_abs_diff: float | None  # numeric columns only
    tolerance: float  # 0.0: exact (text, hence bits)


class Comparison(NamedTuple):
    columns: list[ColumnComparison]
    missing: list[tuple[str, str]]  # (group, member) in the original, not the reproduction
    extra: list[tuple[str, str]]  # the other way round

    @property
    def matches(self) -> bool:
        return not self.missing and not self.extra and not any(c.mismatches for c in self.columns)


def compare_results(
    original: tuple[Header, Rows], reproduction: tuple[Header, Rows], *, tolerance: float
) -> Comparison:
    """Column by column, member by member (keyed by group and member index).

    Config columns, seeds and divergence must agree exactly; the final LL and accuracy columns
    within ``tolerance`` (absolute; 0.0 demands equal text, i.e. equal bits). Timing columns
    are left out: they measure a clock, not the training.
    """
    (header_a, rows_a), (header_b, rows_b) = original, reproduction
    table_a, table_b = _keyed(header_a, rows_a), _keyed(header_b, rows_b)
    common = [key for key in table_a if key in table_b]
    metrics = set(TRAIN_METRICS + VAL_METRICS + TEST_METRICS)
    compared = [
        name for name in header_a if name not in TIMING_COLUMNS and name not in ("group", "member")
    ]
    columns = []
    for name in compared:
        if name not in header_b:
            columns.append(ColumnComparison(name, len(common), len(common), None, 0.0))
            continue
        pairs = [(table_a[key][name], table_b[key][name]) for key in common]
        if name in metrics:
            diffs = [_abs_diff(a, b) for a, b in pairs]
            mismatches = sum(
                a != b if tolerance == 0.0 else not d <= tolerance
                for (a, b), d in zip(pairs, diffs, strict=True)
            )
            finite = [d for d in diffs if not math.isnan(d)]
            max_diff = max(finite, default=0.0)
            columns.append(ColumnComparison(name, len(common), mismatches, max_diff, tolerance))
        else:
            mismatches = sum(a != b for a, b in pairs)
            columns.append(ColumnComparison(name, len(common), mismatches, None, 0.0))
    return Comparison(
        columns=columns,
        missing=[key for key in table_a if key not in table_b],
        extra=[key for key in table_b if key not in table_a],
    )


def _keyed(header: Header, rows: Rows) -> dict[tuple[str, str], dict[str, str]]:
    group, member = header.index("group"), header.index("member")
    return {(row[group], row[member]): dict(zip(header, row, strict=True)) for row in rows}


def _abs_diff(a: str, b: str) -> float:
    """|a - b| of two cells; 0 for equal text (including two empty cells, two NaN, two equal
    infinities), NaN when only one is NaN or empty."""
    if a == b:
        return 0.0
    try:
        x, y = float(a), float(b)
    except ValueError:
        return math.nan
    if x == y:
        return 0.0
    return abs(x - y)


def reproduction_tolerance(
    original: Mapping[str, Any], reproduction: Mapping[str, Any]
) -> tuple[float, list[str]]:
    """``(tolerance, differing fields)`` for comparing runs made in two environments
    (``run_folder.environment()``): 0.0 (equal bits) when every field of ``NUMERICS_FIELDS``
    agrees, else ``CROSS_PLATFORM_TOLERANCE``."""
    differing = [key for key in NUMERICS_FIELDS if original.get(key) != reproduction.get(key)]
    return (CROSS_PLATFORM_TOLERANCE if differing else 0.0), differing


def reproduction_cpu_devices(manifest: Mapping[str, Any]) -> int | None:
    """How many CPU devices a reproduction must split the CPU into to be on the same platform:
    the original's count when it ran on one CPU process, else None (leave the devices be)."""
    environment = manifest.get("environment", {})
    if environment.get("backend") == "cpu" and environment.get("process_count", 1) == 1:
        return int(environment["device_count"])
    return None


class Reproduction(NamedTuple):
    """What ``reproduce`` found. ``tolerance``/``platform_differences``: see
    :func:`reproduction_tolerance`; ``git_commits``: (original's, reproduction's)."""

    out: Path
    tolerance: float
    platform_differences: list[str]
    git_commits: tuple[str | None, str | None]
    comparison: Comparison


def reproduce(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Reproduction:
    """Rerun the config of ``run_dir`` into ``out`` (default ``RUN_DIR-reproduce``, started over)
    and compare its results.csv with the original's, exactly on the same platform.

    Raises RunFolderError when ``run_dir`` holds no manifest or ``out`` is ``run_dir``, and
    SpecError when the manifest's config is not a valid spec."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        raise RunFolderError(f"{run_dir} holds no manifest.json")
    out = Path(out) if out is not None else run_dir.with_name(run_dir.name + "-reproduce")
    if out.resolve() == run_dir.resolve():
        raise RunFolderError("the reproduction's folder must differ from RUN_DIR")
    run_sweep(from_config(manifest["config"]), out, fresh=True)
    original, again = manifest["environment"], read_manifest(out)["environment"]
    tolerance, differing = reproduction_tolerance(original, again)
    comparison = compare_results(read_results(run_dir), read_results(out), tolerance=tolerance)
    commits = (original.get("git_commit"), again.get("git_commit"))
    return Reproduction(out, tolerance, differing, commits, comparison)
