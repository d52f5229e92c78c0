"""Figures of a run folder, written as PNGs into ``RUN_DIR/figures/``.

- ``learning_curves_<dataset>.png``: per eval step, the mean over seeds with a t-interval band
  (training randomness), of every recorded split (train, validation, test), for the best
  configs of the dataset by the selection metric (:mod:`cs109nn.report.ranking`: validation
  accuracy where there is a validation split); diverged members left out. The test curves are
  shown for the configs the validation split chose, never used to choose them.
- ``accuracy_vs_learning_rate_<dataset>.png``: see :mod:`cs109nn.report.learning_rate_figure`.
- ``boundaries_<dataset>.png``: the decision-boundary gallery, when the sweep wrote boundary
  grids (``boundary_grid``); see :mod:`cs109nn.report.boundary_figure`.
- ``hidden_units_<dataset>.png``, ``misclassified_<dataset>.png``: first-layer weights as
  images and the test digits each model gets wrong, when the sweep wrote test predictions
  (``save_predictions``) of image data; see :mod:`cs109nn.report.digits_figure`.
- ``training_size_<dataset>.png``: test accuracy against training-set size per model, when the
  rows vary ``train_size``; see :mod:`cs109nn.report.training_size_figure`.
- ``halving_<group>.png``, ``pbt_<group>.png``: successive halving's rungs and PBT's
  hyperparameter schedules with the selected member's lineage, one per halving or PBT group;
  see :mod:`cs109nn.report.search_figures`.
- ``diverged.png``: diverged members per config, when any member diverged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cs109nn.report.boundary_figure import boundary_figure
from cs109nn.report.configs import config_label, label_columns
from cs109nn.report.depth_width_figure import depth_width_figures
from cs109nn.report.digits_figure import digits_figures
from cs109nn.report.dp_figure import dp_figures
from cs109nn.report.drawing import COLORS, METRIC_TITLES, file_safe, save_figure
from cs109nn.report.intervals import curve_t_interval
from cs109nn.report.learning_rate_figure import accuracy_vs_learning_rate_figure
from cs109nn.report.ranking import (
    SELECTION_METRIC,
    ConfigSummary,
    is_diverged,
    rank_by_dataset,
)
from cs109nn.report.read import Run
from cs109nn.report.search_figures import search_figures
from cs109nn.report.training_size_figure import training_size_figures
from cs109nn.run_folder_schema import CURVE_METRICS, FIGURES


def _member_curves(
    run: Run, summary: ConfigSummary, metric: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(eval_steps [T], curves [n, T])`` of a config's non-diverged members, or None."""
    eval_steps: np.ndarray | None = None
    stacked: list[np.ndarray] = []
    for row in summary.rows:
        if is_diverged(row):
            continue
        curves = run.curves.get(row["group"])
        curve = None if curves is None else curves.member_curve(row["member"], metric)
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


def _has_curve(run: Run, summary: ConfigSummary) -> bool:
    """Whether the config's group was evaluated at two steps or more (a config is one group)."""
    curves = run.curves.get(summary.rows[0]["group"]) if summary.rows else None
    return curves is not None and len(curves.eval_steps) >= 2


def learning_curves_figure(
    run: Run,
    dataset: str,
    ranking: Sequence[ConfigSummary],
    path: Path,
    confidence: float = 0.95,
    max_configs: int = 6,
) -> Path | None:
    """Mean ± t-interval band across seeds of every curve metric, for the best
    ``max_configs`` configs of ``ranking`` (one dataset's, best first by its selection
    metric) that have curves -- two evaluations or more: a fitted model (Naive Bayes) is
    evaluated once, after no steps, and is left out; None when no config has curves."""
    curved = [s for s in ranking if s.n > 0 and _has_curve(run, s)]
    shown = curved[:max_configs]
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
            color = COLORS[index % len(COLORS)]
            axis.plot(eval_steps, mean, color=color, linewidth=1.6)
            axis.fill_between(eval_steps, low, high, color=color, alpha=0.2, linewidth=0)
        axis.set_title(METRIC_TITLES.get(metric, metric))
        axis.set_xlabel("step")
        axis.grid(True, alpha=0.3)
    for axis in axes[len(metrics) :]:
        axis.set_visible(False)
    handles = [
        Line2D([], [], color=COLORS[i % len(COLORS)], linewidth=1.6) for i in range(len(shown))
    ]
    labels = [
        f"#{rank} {config_label(s.config, columns)}  (n={s.n} seeds)"
        for rank, s in enumerate(shown, start=1)
    ]
    figure.legend(handles, labels, loc="outside lower center", ncols=1, fontsize="small")
    selected_by = METRIC_TITLES.get(ranking[0].metric, ranking[0].metric)
    which = f"all {len(shown)} configs, ranked by mean {selected_by}"
    if len(curved) > len(shown):
        which = f"best {len(shown)} of {len(curved)} configs by mean {selected_by}"
    if len(curved) < len([s for s in ranking if s.n > 0]):
        which += " (fitted models, evaluated once, left out)"
    note = "; test curves reported, not used to choose" if "test_acc" in metrics else ""
    if ranking[0].metric != SELECTION_METRIC:
        note = " (no validation split)" + note
    figure.suptitle(
        f"{dataset}: learning curves, mean and {confidence:.0%} t-interval over seeds "
        f"(training randomness)\n{which}{note}"
    )
    return save_figure(figure, path)


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
    out = run.path / FIGURES
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
        if run.boundaries:
            written.append(boundary_figure(run, dataset, ranking, out / f"boundaries_{name}.png"))
    # depth x width heatmaps, for data sets whose models form an equal-width MLP grid
    written.extend(depth_width_figures(run, rankings, out, confidence))
    # test accuracy against training-set size, for data sets whose rows vary train_size
    written.extend(training_size_figures(run, out, confidence))
    # DP-SGD: test accuracy against the noise multiplier, one line per clip norm
    written.extend(dp_figures(run, rankings, out, confidence))
    # digits: first-layer weights as images and the test digits each model gets wrong
    written.extend(digits_figures(run, rankings, out))
    # searches: successive halving's rungs, PBT's schedules and the selected member's lineage
    written.extend(search_figures(run, out))
    written.append(diverged_figure(rankings, out / "diverged.png"))
    return [path for path in written if path is not None]
