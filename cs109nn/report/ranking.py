"""The one rule that says which config is best: used by the report (per data set), its
figures ("best k configs") and the sweep's terminal summary (per group) alike, so that none of
them can disagree.

Configs are the rows grouped by config (:mod:`cs109nn.report.configs`), ranked by the mean of
the selection metric over their non-diverged seeds; ties go to the higher mean log-likelihood
of the same split, then to the config that appears first. A config with no usable member
comes last. Diverged members are left out of every mean and counted apart (``n_diverged``),
never turned into a silent NaN.

The selection metric is chosen in one place, :func:`selection_metric`: validation accuracy
where the data set has a validation split, train accuracy where it has none, and never a test
metric (the design's "honest selection": the test split is reported, never chosen by).

Which rows are candidates is decided in one place too, :func:`candidate_rows`, applied by
:func:`rank_configs` (so by every ranking: per data set, per group, the figures' and the
claim's). A group of search ``none`` or ``grid`` trains every member fully, and each of its
rows is a config a reader could rerun. A ``halving`` or ``pbt`` group enters only through the
member its search selected (``selected``, chosen by validation): a member successive halving
stopped early was never trained to the config's steps, and a PBT member's hyperparameters
changed as it copied others, so neither is a config of its row's values. Rows that record no
search (a folder written before the column existed, or hand-made rows) count as ``none``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from cs109nn.report.configs import ConfigKey, Row, group_by_config, rows_by_dataset
from cs109nn.report.intervals import Interval, bootstrap_interval, t_interval
from cs109nn.run_folder_schema import SELECTING_SEARCHES, TEST_METRICS

# The metric configs are ranked by, and the one used where no member has a validation value.
SELECTION_METRIC = "final_val_acc"
FALLBACK_METRIC = "final_train_acc"
# Each accuracy's log-likelihood on the same split: the tie-break of a ranking, and the LL a
# summary of that accuracy carries.
LL_OF = {
    "final_train_acc": "final_train_ll",
    "final_val_acc": "final_val_ll",
    "final_test_acc": "final_test_ll",
}


def search_of(row: Mapping[str, Any]) -> str:
    """The row's group's search (``search`` column); ``"none"`` where the row records none."""
    return str(row.get("search") or "none")


def candidate_rows(rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """The rows that may enter a ranking, in row order: every row of a ``none`` or ``grid``
    group (or of no recorded search), and of a ``halving`` or ``pbt`` group only the member
    its search selected (``selected`` True)."""
    return [
        dict(row)
        for row in rows
        if search_of(row) not in SELECTING_SEARCHES or bool(row.get("selected"))
    ]


def selection_metric(rows: Iterable[Mapping[str, Any]]) -> str:
    """What ranks these rows: ``final_val_acc`` when any row has a finite value for it (the
    data set has a validation split), else ``final_train_acc``; never a test metric."""
    if any(metric_value(row, SELECTION_METRIC) is not None for row in rows):
        return SELECTION_METRIC
    return FALLBACK_METRIC


def is_diverged(row: Mapping[str, Any]) -> bool:
    """True when the row's member was flagged as diverged."""
    return bool(row.get("diverged"))


def diverged_members(rows: Iterable[Mapping[str, Any]]) -> list[Row]:
    """The rows of the members flagged diverged (``diverged_step``: where), in row order."""
    return [dict(row) for row in rows if is_diverged(row)]


def metric_value(row: Mapping[str, Any], metric: str) -> float | None:
    """The row's ``metric`` as a finite float, or ``None`` when it is absent or non-finite."""
    value = row.get(metric)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None


class ConfigSummary(NamedTuple):
    """One config's ``metric`` across seeds.

    ``values``/``seeds``: the members that count (not diverged, metric present), in row order.
    ``mean_ll``: the mean over them of ``ll_metric`` (the same split's log-likelihood, the
    tie-break of a ranking), NaN when none has one.
    ``n_diverged``: members left out because they diverged. ``n_missing``: members that did
    not diverge but have no finite value for the metric (e.g. no test split).
    """

    config: ConfigKey
    metric: str
    rows: list[Row]
    values: list[float]
    seeds: list[Any]
    t: Interval
    bootstrap: Interval
    n_diverged: int
    n_missing: int
    ll_metric: str
    mean_ll: float

    @property
    def n(self) -> int:
        """Members the mean is taken over."""
        return len(self.values)

    @property
    def mean(self) -> float:
        """The metric's mean over the members that count (NaN when none does)."""
        return self.t.mean


def summarize_config(
    config: ConfigKey,
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
) -> ConfigSummary:
    """Mean, t-interval and bootstrap interval of ``metric`` over one config's seeds."""
    ll_metric = LL_OF.get(metric, metric)
    values: list[float] = []
    seeds: list[Any] = []
    lls: list[float] = []
    n_diverged = n_missing = 0
    for row in rows:
        if is_diverged(row):
            n_diverged += 1
            continue
        value = metric_value(row, metric)
        if value is None:
            n_missing += 1
            continue
        values.append(value)
        seeds.append(row.get("seed"))
        if (ll := metric_value(row, ll_metric)) is not None:
            lls.append(ll)
    return ConfigSummary(
        config=config,
        metric=metric,
        rows=[dict(row) for row in rows],
        values=values,
        seeds=seeds,
        t=t_interval(values, confidence),
        bootstrap=bootstrap_interval(values, confidence, seed=bootstrap_seed),
        n_diverged=n_diverged,
        n_missing=n_missing,
        ll_metric=ll_metric,
        mean_ll=math.fsum(lls) / len(lls) if lls else math.nan,
    )


def _rank_key(summary: ConfigSummary) -> tuple[bool, float, float]:
    """Sorts best first: usable, then higher mean, then higher mean LL (NaN LL last)."""
    if summary.n == 0:
        return (True, 0.0, 0.0)
    return (False, -summary.mean, math.inf if math.isnan(summary.mean_ll) else -summary.mean_ll)


def rank_configs(
    rows: Iterable[Mapping[str, Any]],
    metric: str | None = None,
    columns: Sequence[str] | None = None,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
) -> list[ConfigSummary]:
    """Every config of ``rows``' :func:`candidate_rows`, best first by the rule of this
    module.

    ``metric``: by default :func:`selection_metric` of ``rows``; a test metric is refused
    (ValueError), since a ranking chooses. ``columns``: every column of the table (see
    :func:`~cs109nn.report.configs.group_by_config`). The sort is stable, so full ties keep
    the configs' order of first appearance.
    """
    rows = candidate_rows(rows)
    metric = metric or selection_metric(rows)
    if metric in TEST_METRICS:
        raise ValueError(
            f"configs are not ranked by {metric!r}: a ranking chooses, and choosing by the test "
            "split makes its score optimistic; rank by validation (selection_metric)"
        )
    summaries = [
        summarize_config(config, config_rows, metric, confidence, bootstrap_seed)
        for config, config_rows in group_by_config(rows, columns).items()
    ]
    return sorted(summaries, key=_rank_key)


def rank_by_dataset(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
) -> dict[str, list[ConfigSummary]]:
    """Per data set (in order of first appearance), :func:`rank_configs` by the data set's
    :func:`selection_metric`: the report's ranking."""
    return {
        dataset: rank_configs(dataset_rows, None, columns, confidence, bootstrap_seed)
        for dataset, dataset_rows in rows_by_dataset(rows).items()
    }


def best_by_group(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> dict[str, ConfigSummary]:
    """Group id -> the group's best config, groups in order of first appearance: the terminal
    summary's ranking. The metric is chosen per data set, as in :func:`rank_by_dataset`, so
    the best config of a data set is the best of its groups' best configs."""
    rows = list(rows)
    best: dict[str, ConfigSummary] = {}
    for dataset_rows in rows_by_dataset(rows).values():
        metric = selection_metric(dataset_rows)
        groups: dict[str, list[Row]] = {}
        for row in dataset_rows:
            groups.setdefault(row["group"], []).append(row)
        for group, group_rows in groups.items():
            best[group] = rank_configs(group_rows, metric, columns)[0]
    return {group: best[group] for group in dict.fromkeys(row["group"] for row in rows)}
