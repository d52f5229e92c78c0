"""Configs: which rows of a results table are replicates (seeds) of the same experiment.

A *config* is everything in a row except the group id, the member index, the seed, the
metrics, the divergence flags and the timings (the run folder's schema says which columns
those are); rows that agree on all the rest differ only by seed, and the seeds are the
replicates that confidence intervals and paired tests are taken over.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cs109nn.run_folder_schema import COLUMNS

Row = dict[str, Any]
# A config as a hashable value: (column, value) pairs in the results table's column order.
ConfigKey = tuple[tuple[str, Any], ...]

# Columns that say which replicate a row is or what it measured, not what experiment it
# belongs to. ``group`` is a static compile group (architecture x data shape x optimizer x
# steps): a packing detail, implied by the config columns.
NOT_CONFIG_COLUMNS = frozenset(
    {"group"} | {column.name for column in COLUMNS if column.kind not in ("config", "hparam")}
)


def is_config_column(column: str) -> bool:
    """True for a column that is part of a config: not a replicate id, outcome or timing."""
    return column not in NOT_CONFIG_COLUMNS


def config_columns(columns: Sequence[str]) -> list[str]:
    """The config columns among ``columns``, in their original order."""
    return [column for column in columns if is_config_column(column)]


def _key_value(value: Any) -> Any:
    # NaN != NaN would split one config into one group per row; treat it as absent.
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def config_key(row: Mapping[str, Any], columns: Sequence[str]) -> ConfigKey:
    """The config of ``row`` over ``columns`` (already filtered by :func:`config_columns`)."""
    return tuple((column, _key_value(row.get(column))) for column in columns)


def group_by_config(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> dict[ConfigKey, list[Row]]:
    """Rows grouped by config, configs in order of first appearance.

    ``columns``: every column of the table (config columns are picked out of it); by default
    the union of the rows' keys in first-seen order.
    """
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(column for row in rows for column in row))
    chosen = config_columns(columns)
    groups: dict[ConfigKey, list[Row]] = {}
    for row in rows:
        groups.setdefault(config_key(row, chosen), []).append(dict(row))
    return groups


def varying_columns(configs: Iterable[ConfigKey]) -> list[str]:
    """Config columns whose value differs between at least two of ``configs``."""
    values: dict[str, set[Any]] = {}
    order: list[str] = []
    for config in configs:
        for column, value in config:
            if column not in values:
                values[column] = set()
                order.append(column)
            values[column].add(value)
    return [column for column in order if len(values[column]) > 1]


def label_columns(configs: Sequence[ConfigKey], always: Sequence[str] = ("model",)) -> list[str]:
    """Columns that tell ``configs`` apart, for short labels: ``always`` first, then each
    varying column (in table order) that separates configs the columns before it do not.

    A column that follows from earlier ones (``param_count`` given ``model``) adds nothing and
    is left out; so is the dataset, which a figure or table is already split by.
    """
    configs = [dict(config) for config in configs]
    varying = [c for c in varying_columns(tuple(c.items()) for c in configs) if c != "dataset"]
    chosen: list[str] = [c for c in always if any(c in config for config in configs)]
    distinct = len({tuple(config.get(c) for c in chosen) for config in configs})
    for column in varying:
        if column in chosen:
            continue
        candidate = [*chosen, column]
        count = len({tuple(config.get(c) for c in candidate) for config in configs})
        if count > distinct:
            chosen, distinct = candidate, count
    return chosen


def display_value(value: Any) -> str:
    """A config value as a short string (floats in ``%g``, absent as an empty string)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_label(config: ConfigKey, columns: Sequence[str]) -> str:
    """A short label naming ``config`` by its values in ``columns``, e.g. ``model=mlp lr=0.1``."""
    values = dict(config)
    parts = [f"{column}={display_value(values.get(column))}" for column in columns]
    return " ".join(parts) if parts else "all"


def rows_by_dataset(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Row]]:
    """Rows split by their ``dataset`` column (``"all"`` when absent), in order of first
    appearance."""
    split: dict[str, list[Row]] = {}
    for row in rows:
        dataset = row.get("dataset")
        split.setdefault("all" if dataset is None else str(dataset), []).append(dict(row))
    return split
