"""``accuracy_vs_learning_rate_<dataset>.png``: the selection metric (final validation
accuracy, or train accuracy where the data set has no validation split; see
:func:`cs109nn.report.ranking.selection_metric`), mean and t-interval over seeds, against
learning rate on a log axis, one panel per model (and per learning-rate schedule kind) and one
line per config that differs only by learning rate. For a schedule the learning rate is its
peak, and its numbers (warm-up, final fraction, decay) tell lines apart. It shows what the
choice was made on; test accuracy is not drawn here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from cs109nn.report.configs import ConfigKey, config_label, varying_columns
from cs109nn.report.drawing import COLORS, METRIC_TITLES, save_figure
from cs109nn.report.ranking import SELECTION_METRIC, ConfigSummary

MAX_SERIES = 6  # lines per panel: more would not be told apart
_ANNOTATED_SERIES = 3  # beyond this many lines per panel, "k/n diverged" labels would overlap


def accuracy_vs_learning_rate_figure(
    dataset: str, ranking: Sequence[ConfigSummary], path: Path, confidence: float = 0.95
) -> Path | None:
    """The selection metric of ``ranking`` (mean, t-interval over seeds) against learning
    rate, log x, one panel per model and learning-rate schedule kind, the best ``MAX_SERIES``
    lines a panel; None when the dataset has fewer than two positive learning rates."""
    max_series = MAX_SERIES
    if not ranking:
        return None
    metric = ranking[0].metric
    ranking = [s for s in ranking if _positive(dict(s.config).get("learning_rate"))]
    if len({dict(s.config)["learning_rate"] for s in ranking}) < 2:
        return None
    # A panel per schedule kind too: one kind's lines would crowd out another's best six, and
    # each panel's x axis means one thing (a constant rate, or a schedule's peak).
    # (A folder written before schedules has no schedule column: None, one kind.)
    kinds = {dict(s.config).get("schedule") for s in ranking}
    by_model: dict[Any, list[ConfigSummary]] = {}
    for summary in ranking:
        config = dict(summary.config)
        by_model.setdefault((config.get("model"), config.get("schedule")), []).append(summary)
    # Models in ranking order, and within a model the kinds in one order (constant first), so
    # that a column of panels holds one kind.
    models = list(dict.fromkeys(model for model, _ in by_model))
    order = sorted(by_model, key=lambda p: (models.index(p[0]), p[1] != "constant", p[1] or ""))
    by_model = {panel: by_model[panel] for panel in order}
    ncols = min(3, len(by_model))
    nrows = math.ceil(len(by_model) / ncols)
    # Room under each row of panels for a legend of up to max_series lines.
    legend_lines = max(min(_count_series(summaries), max_series) for summaries in by_model.values())
    legend_height = 0.2 * (legend_lines + 2) if legend_lines > 1 else 0.0
    figure = Figure(
        figsize=(5.2 * ncols, (4.0 + legend_height) * nrows + 0.4), layout="constrained"
    )
    # A shared y axis so that models can be compared by eye across panels.
    axes = figure.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    # One colour per series label across all panels, so "momentum=0" reads the same everywhere.
    labels = sorted({label for summaries in by_model.values() for label in _labels(summaries)})
    colors = {label: COLORS[i % len(COLORS)] for i, label in enumerate(labels)}
    for axis, ((model, kind), summaries) in zip(axes, by_model.items(), strict=False):
        _plot_learning_rate_series(axis, summaries, max_series, colors)
        scheduled = kind not in (None, "constant")
        named = scheduled or len(kinds) > 1  # a sweep without schedules keeps its titles
        axis.set_title(f"model={model}" + (f" schedule={kind}" if named else ""))
        axis.set_xscale("log")
        axis.set_xlabel("peak learning rate of the schedule" if scheduled else "learning rate")
        axis.grid(True, alpha=0.3)
    for axis in axes[::ncols]:
        axis.set_ylabel(METRIC_TITLES.get(metric, metric))
    for axis in axes[len(by_model) :]:
        axis.set_visible(False)
    role = "the selection metric"
    if metric != SELECTION_METRIC:
        role = "ranked by it: no validation split"
    figure.suptitle(
        f"{dataset}: {METRIC_TITLES.get(metric, metric)} ({role}); mean and {confidence:.0%} "
        "t-interval over seeds (training randomness)"
    )
    return save_figure(figure, path)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _rest_of_config(summary: ConfigSummary) -> ConfigKey:
    """The config without its learning rate: what one line of the learning-rate plot holds."""
    return tuple(item for item in summary.config if item[0] != "learning_rate")


def _count_series(summaries: Sequence[ConfigSummary]) -> int:
    return len({_rest_of_config(summary) for summary in summaries})


def _series(summaries: Sequence[ConfigSummary]) -> tuple[dict, list[str]]:
    """Configs that differ only by learning rate, and the columns that tell them apart."""
    series: dict[ConfigKey, list[ConfigSummary]] = {}
    for summary in summaries:
        series.setdefault(_rest_of_config(summary), []).append(summary)
    return series, [c for c in varying_columns(series) if c not in ("model", "dataset")]


def _labels(summaries: Sequence[ConfigSummary]) -> list[str]:
    series, columns = _series(summaries)
    return [config_label(rest, columns) if columns else "" for rest in series]


def _plot_learning_rate_series(
    axis: Any, summaries: list[ConfigSummary], max_series: int, colors: dict[str, str]
) -> None:
    """One line per config that differs only by learning rate; the best ``max_series`` lines."""
    series, columns = _series(summaries)
    ordered = sorted(series.items(), key=lambda item: -_best_mean(item[1]))
    for index, (rest, members) in enumerate(ordered[:max_series]):
        label = config_label(rest, columns) if columns else ""
        color = colors.get(label, COLORS[index % len(COLORS)])
        members = sorted(members, key=lambda s: dict(s.config)["learning_rate"])
        _mark_diverged(axis, members, color, with_text=len(ordered) <= _ANNOTATED_SERIES)
        members = [s for s in members if s.n > 0]
        if not members:
            continue
        x = np.array([dict(s.config)["learning_rate"] for s in members], dtype=np.float64)
        mean = np.array([s.t.mean for s in members])
        low = np.array([s.t.low for s in members])
        high = np.array([s.t.high for s in members])
        # n = 1 has no interval: draw the point without a bar rather than a zero-width one.
        error = np.nan_to_num(np.vstack([mean - low, high - mean]), nan=0.0)
        axis.errorbar(
            x,
            mean,
            yerr=error,
            color=color,
            marker="o",
            markersize=4,
            capsize=3,
            label=label or None,
        )
    if columns:
        title = "" if len(ordered) <= max_series else f"best {max_series} of {len(ordered)}"
        # Below the panel: inside it would hide points, and loc="best" is slow with many lines.
        axis.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            fontsize="small",
            title=title or None,
            title_fontsize="small",
        )


def _best_mean(summaries: Sequence[ConfigSummary]) -> float:
    means = [s.t.mean for s in summaries if s.n > 0]
    return max(means) if means else -math.inf


def _mark_diverged(
    axis: Any, summaries: Sequence[ConfigSummary], color: str, with_text: bool = True
) -> None:
    """Say at each learning rate how many seeds diverged (in text when ``with_text``; many
    series would overlap); a config whose seeds all diverged has no mean, so it gets an x at
    the bottom of the panel instead of vanishing."""
    transform = axis.get_xaxis_transform()  # x in data, y in axes fraction
    for summary in summaries:
        if not summary.n_diverged:
            continue
        lr = dict(summary.config)["learning_rate"]
        text = f"{summary.n_diverged}/{len(summary.rows)} diverged"
        if summary.n == 0:
            axis.plot([lr], [0.03], marker="x", color=color, transform=transform, clip_on=False)
            if with_text:
                axis.text(lr, 0.06, text, transform=transform, ha="center", fontsize="x-small")
        elif with_text:
            axis.annotate(
                text,
                (lr, summary.t.mean),
                xytext=(4, -10),
                textcoords="offset points",
                fontsize="x-small",
                color=color,
            )
