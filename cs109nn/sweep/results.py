"""What a finished results.csv says: the best configs, the diverged members, and whether two
runs of one config agree (``cs109nn reproduce``).

Works on results.csv as written (header and rows of text cells, ``run_folder.read_results``),
so an exact comparison compares the very bits written: float cells are the shortest strings
that round-trip, equal text is equal bits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from cs109nn.sweep.run_folder import TEST_METRICS, TIMING_COLUMNS, TRAIN_METRICS

# A cross-platform reproduction agrees within this, absolutely, on LL and accuracy: float32
# results of reordered reductions differ by ~1e-6 (DESIGN.md, "Equality has two strengths").
CROSS_PLATFORM_TOLERANCE = 1e-5

Header = Sequence[str]
Rows = Sequence[Sequence[str]]


class ConfigScore(NamedTuple):
    """One config (a group and a hyperparameter point) scored by its mean over seeds."""

    group: str
    hparams: dict[str, str]  # the hyperparameters that vary in the sweep, as written
    seeds: int
    metric: str  # final_test_acc, or final_train_acc when the sweep has no test split
    mean: float  # the metric's mean over seeds
    mean_ll: float  # the matching LL's mean over seeds
    diverged: int  # members of this config that diverged


class DivergedMember(NamedTuple):
    group: str
    member: int
    seed: int
    hparams: dict[str, str]
    step: int


def varying_hyperparameters(header: Header, rows: Rows, hparam_names: Sequence[str]) -> list[str]:
    """The hyperparameter columns that take more than one value in ``rows``."""
    return [
        name
        for name in hparam_names
        if name in header and len({row[header.index(name)] for row in rows}) > 1
    ]


def best_configs(header: Header, rows: Rows, hparam_names: Sequence[str]) -> list[ConfigScore]:
    """Per group, the hyperparameter point with the best mean final accuracy over its seeds
    (test accuracy when the sweep has a test split, else train), in group order."""
    column = {name: k for k, name in enumerate(header)}
    metric, ll = TEST_METRICS[::-1] if TEST_METRICS[1] in column else TRAIN_METRICS[::-1]
    swept = varying_hyperparameters(header, rows, hparam_names)
    configs: dict[tuple[str, ...], list[Sequence[str]]] = {}
    for row in rows:
        key = (row[column["group"]], *(row[column[name]] for name in swept))
        configs.setdefault(key, []).append(row)
    best: dict[str, ConfigScore] = {}
    for key, members in configs.items():
        score = ConfigScore(
            group=key[0],
            hparams=dict(zip(swept, key[1:], strict=True)),
            seeds=len(members),
            metric=metric,
            mean=_mean(row[column[metric]] for row in members),
            mean_ll=_mean(row[column[ll]] for row in members),
            diverged=sum(row[column["diverged"]] == "True" for row in members),
        )
        incumbent = best.get(score.group)
        if incumbent is None or _rank(score) > _rank(incumbent):
            best[score.group] = score
    return list(best.values())


def diverged_members(
    header: Header, rows: Rows, hparam_names: Sequence[str]
) -> list[DivergedMember]:
    """Every member flagged diverged, with the step at which it was frozen, in file order."""
    column = {name: k for k, name in enumerate(header)}
    swept = varying_hyperparameters(header, rows, hparam_names)
    return [
        DivergedMember(
            group=row[column["group"]],
            member=int(row[column["member"]]),
            seed=int(row[column["seed"]]),
            hparams={name: row[column[name]] for name in swept},
            step=int(row[column["diverged_step"]]),
        )
        for row in rows
        if row[column["diverged"]] == "True"
    ]


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
    metrics = set(TRAIN_METRICS + TEST_METRICS)
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


def _mean(cells) -> float:
    values = [float(cell) for cell in cells if cell != ""]
    return math.fsum(values) / len(values) if values else math.nan


def _rank(score: ConfigScore) -> tuple[float, float]:
    """Higher is better: accuracy, then LL; NaN ranks last."""
    return tuple(-math.inf if math.isnan(v) else v for v in (score.mean, score.mean_ll))
