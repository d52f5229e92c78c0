"""Figures of a run folder, written as PNGs into ``RUN_DIR/figures/``.

- ``learning_curves_<dataset>.png``: per eval step, the mean over seeds with a t-interval band,
  for the best configs of the dataset (diverged members left out).
- ``accuracy_vs_learning_rate_<dataset>.png``: final test accuracy (train accuracy where the
  dataset has no test split), mean and t-interval over seeds, against learning rate on a log
  axis, one panel per model.
- ``diverged.png``: diverged members per config, when any member diverged.

Figures are drawn with matplotlib's object API on an Agg canvas: no pyplot, so nothing global
(backend, open-figure list) is touched and a notebook's own backend is left alone.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cs109nn.atomic_files import write_atomic
from cs109nn.report.configs import ConfigKey, config_label, label_columns, varying_columns
from cs109nn.report.read import CURVE_METRICS, Run
from cs109nn.report.statistics import (
    ConfigSummary,
    curve_t_interval,
    is_diverged,
    rank_by_dataset,
)

FIGURES_DIR = "figures"
METRIC_TITLES = {
    "train_ll": "train log-likelihood (mean per example)",
    "test_ll": "test log-likelihood (mean per example)",
    "train_acc": "train accuracy",
    "test_acc": "test accuracy",
    "final_test_acc": "final test accuracy",
    "final_train_acc": "final train accuracy",
}
_COLORS = [f"C{i}" for i in range(10)]
_ANNOTATED_SERIES = 3  # beyond this many lines per panel, "k/n diverged" labels would overlap


def file_safe(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "unnamed"


def save_figure(figure: Figure, path: Path, dpi: int = 120) -> Path:
    """Write ``figure`` as a PNG at ``path``, atomically."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_atomic(path, buffer.getvalue())


def _member_curves(
    run: Run, summary: ConfigSummary, metric: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(eval_steps [T], curves [n, T])`` of a config's non-diverged members, or None."""
    eval_steps: np.ndarray | None = None
    stacked: list[np.ndarray] = []
    for row in summary.rows:
        if is_diverged(row):
            continue
        curves = run.curves.get(str(row.get("group")))
        if curves is None or row.get("member") is None:
            continue
        curve = curves.member_curve(int(row["member"]), metric)
        if curve is None:
            continue
        if eval_steps is None:
            eval_steps = curves.eval_steps
        if curve.shape != eval_steps.shape:
            continue  # a member evaluated on another schedule cannot share a band
        stacked.append(np.asarray(curve, dtype=np.float64))
    if eval_steps is None or not stacked:
        return None
    return eval_steps, np.stack(stacked)


def learning_curves_figure(
    run: Run,
    dataset: str,
    ranking: Sequence[ConfigSummary],
    path: Path,
    confidence: float = 0.95,
    max_configs: int = 6,
) -> Path | None:
    """Mean ± t-interval band across seeds of every curve metric, for the best
    ``max_configs`` configs of ``ranking`` (one dataset's, best first); None when the run has
    no curves for them."""
    shown = [s for s in ranking if s.n > 0][:max_configs]
    if not shown:
        return None
    metrics = [
        metric
        for metric in CURVE_METRICS
        if any(
            (found := _member_curves(run, s, metric)) is not None and np.isfinite(found[1]).any()
            for s in shown
        )
    ]
    if not metrics:
        return None
    columns = label_columns([s.config for s in ranking])
    ncols = 2 if len(metrics) > 1 else 1
    nrows = math.ceil(len(metrics) / ncols)
    figure = Figure(figsize=(6.0 * ncols, 3.6 * nrows + 0.4 * len(shown)), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for axis, metric in zip(axes, metrics, strict=False):
        for index, summary in enumerate(shown):
            found = _member_curves(run, summary, metric)
            if found is None:
                continue
            eval_steps, curves = found
            mean, low, high = curve_t_interval(curves, confidence)
            color = _COLORS[index % len(_COLORS)]
            axis.plot(eval_steps, mean, color=color, linewidth=1.6)
            axis.fill_between(eval_steps, low, high, color=color, alpha=0.2, linewidth=0)
        axis.set_title(METRIC_TITLES.get(metric, metric))
        axis.set_xlabel("step")
        axis.grid(True, alpha=0.3)
    for axis in axes[len(metrics) :]:
        axis.set_visible(False)
    handles = [
        Line2D([], [], color=_COLORS[i % len(_COLORS)], linewidth=1.6) for i in range(len(shown))
    ]
    labels = [f"{config_label(s.config, columns)}  (n={s.n})" for s in shown]
    figure.legend(handles, labels, loc="outside lower center", ncols=1, fontsize="small")
    which = f"{len(shown)} configs"
    if len(ranking) > len(shown):
        which = f"best {len(shown)} of {len(ranking)} configs"
    figure.suptitle(
        f"{dataset}: learning curves, mean and {confidence:.0%} t-interval over seeds ({which})"
    )
    return save_figure(figure, path)


def accuracy_vs_learning_rate_figure(
    dataset: str,
    ranking: Sequence[ConfigSummary],
    path: Path,
    confidence: float = 0.95,
    max_series: int = 6,
) -> Path | None:
    """Final accuracy (mean, t-interval over seeds) against learning rate, log x, one panel per
    model; None when the dataset has fewer than two positive learning rates."""
    if not ranking:
        return None
    metric = ranking[0].metric
    ranking = [s for s in ranking if _positive(dict(s.config).get("learning_rate"))]
    if len({dict(s.config)["learning_rate"] for s in ranking}) < 2:
        return None
    by_model: dict[Any, list[ConfigSummary]] = {}
    for summary in ranking:
        by_model.setdefault(dict(summary.config).get("model"), []).append(summary)
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
    colors = {label: _COLORS[i % len(_COLORS)] for i, label in enumerate(labels)}
    for axis, (model, summaries) in zip(axes, by_model.items(), strict=False):
        _plot_learning_rate_series(axis, summaries, max_series, colors)
        axis.set_title(f"model={model}")
        axis.set_xscale("log")
        axis.set_xlabel("learning rate")
        axis.grid(True, alpha=0.3)
    for axis in axes[::ncols]:
        axis.set_ylabel(METRIC_TITLES.get(metric, metric))
    for axis in axes[len(by_model) :]:
        axis.set_visible(False)
    figure.suptitle(f"{dataset}: mean and {confidence:.0%} t-interval over seeds")
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
        color = colors.get(label, _COLORS[index % len(_COLORS)])
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


def diverged_figure(
    rankings: dict[str, list[ConfigSummary]], path: Path, max_bars: int = 40
) -> Path | None:
    """Horizontal bars: diverged members out of all members, per config that had any; None
    when nothing diverged. ``rankings``: per dataset, its configs' summaries."""
    counts: list[tuple[str, int, int]] = []
    for dataset, summaries in rankings.items():
        columns = label_columns([s.config for s in summaries])
        for summary in summaries:
            if summary.n_diverged:
                label = f"{dataset} · {config_label(summary.config, columns)}"
                counts.append((label, summary.n_diverged, len(summary.rows)))
    if not counts:
        return None
    counts.sort(key=lambda item: (-item[1], item[0]))
    shown = counts[:max_bars][::-1]  # barh draws bottom-up; keep the largest on top
    figure = Figure(figsize=(9.0, 1.6 + 0.35 * len(shown)), layout="constrained")
    axis = figure.subplots()
    positions = np.arange(len(shown))
    axis.barh(positions, [total for _, _, total in shown], height=0.6, color="0.85")
    axis.barh(positions, [count for _, count, _ in shown], height=0.6, color="C3")
    axis.set_yticks(positions, [label for label, _, _ in shown], fontsize="small")
    for position, (_, count, total) in zip(positions, shown, strict=True):
        axis.text(total, position, f" {count}/{total} diverged", va="center", fontsize="small")
    axis.set_xlim(0, 1.3 * max(total for _, _, total in shown))
    axis.set_ylim(-0.6, len(shown) - 0.4)
    axis.set_xlabel("members (seeds): diverged in red, all in grey")
    title = "diverged members per config"
    if len(counts) > len(shown):
        title += f" (top {len(shown)} of {len(counts)})"
    axis.set_title(title)
    return save_figure(figure, path)


def write_figures(
    run: Run,
    confidence: float = 0.95,
    rankings: dict[str, list[ConfigSummary]] | None = None,
) -> list[Path]:
    """Every figure for ``run`` into ``RUN_DIR/figures/``; returns the paths written.

    ``rankings``: per dataset, its configs ranked (:func:`rank_by_dataset`); computed from
    ``run`` when not given.
    """
    if rankings is None:
        rankings = rank_by_dataset(run.rows, run.columns, confidence)
    out = run.path / FIGURES_DIR
    written: list[Path | None] = []
    for dataset, ranking in rankings.items():
        name = file_safe(dataset)
        written.append(
            learning_curves_figure(
                run, dataset, ranking, out / f"learning_curves_{name}.png", confidence
            )
        )
        written.append(
            accuracy_vs_learning_rate_figure(
                dataset, ranking, out / f"accuracy_vs_learning_rate_{name}.png", confidence
            )
        )
    written.append(diverged_figure(rankings, out / "diverged.png"))
    return [path for path in written if path is not None]
