"""The decision-boundary gallery of a 2-D data set, ``boundaries_<dataset>.png`` (ConvNetJS's
classify2d, for a sweep): one column per model, its config chosen by the selection metric
(:mod:`cs109nn.report.ranking`); P(Y=1|x) shaded over the plane with the training points on
top and the P = 0.5 contour (the decision boundary) drawn. Top row: the config's seed with the
best validation accuracy (the representative seed); bottom row: the mean probability over the
config's non-diverged seeds.

It draws the sweep's arrays (``boundaries/<group>.npz``, see ``cs109nn.sweep.boundaries``)
and computes nothing that needs the model: no JAX here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cs109nn.report.configs import config_label, label_columns
from cs109nn.report.drawing import METRIC_TITLES, save_figure
from cs109nn.report.ranking import ConfigSummary, is_diverged, metric_value
from cs109nn.report.read import Run
from cs109nn.report.selected import reported_interval

SHORT_NAMES = {"final_val_acc": "val acc", "final_train_acc": "train acc"}
CMAP = "RdBu_r"  # diverging: blue for P(Y=1|x) near 0, white at 0.5, red near 1
CLASS_COLORS = ("#4393c3", "#d6604d")  # class 0, class 1: the colormap's two sides


def best_config_per_model(ranking: Sequence[ConfigSummary]) -> list[ConfigSummary]:
    """Each model's best config of ``ranking`` (best first); models in the order their rows
    first appear (the sweep's order), configs with no usable member left out."""
    best: dict[str, ConfigSummary] = {}
    for summary in ranking:
        model = str(dict(summary.config).get("model"))
        if summary.n > 0 and model not in best:
            best[model] = summary
    first_row = {
        model: min(
            (
                (str(row.get("group")), int(row.get("member", 0)))
                for s in ranking
                if str(dict(s.config).get("model")) == model
                for row in s.rows
            ),
            default=("", 0),
        )
        for model in best
    }
    return [best[model] for model in sorted(best, key=first_row.__getitem__)]


def _member_grids(run: Run, summary: ConfigSummary) -> tuple[dict, list[tuple[dict, np.ndarray]]]:
    """The boundary file of the config's group (None when absent) and, per non-diverged member
    with a finite grid, ``(row, probability [G, G])`` in row order."""
    arrays: dict = {}
    members = []
    for row in summary.rows:
        found = run.boundaries.get(row["group"])
        if found is None or is_diverged(row):
            continue
        grid = np.asarray(found["probability"][int(row["member"])], dtype=np.float64)
        if np.isfinite(grid).all():
            arrays = found
            members.append((row, grid))
    return arrays, members


def _draw_panel(axis, arrays: dict, probability: np.ndarray):
    xs, ys = arrays["xs"], arrays["ys"]
    mesh = axis.pcolormesh(xs, ys, probability, cmap=CMAP, vmin=0.0, vmax=1.0, shading="auto")
    if probability.min() < 0.5 < probability.max():
        axis.contour(xs, ys, probability, levels=[0.5], colors="black", linewidths=1.2)
    x, y = arrays["x_train"], arrays["y_train"]
    for label, color in enumerate(CLASS_COLORS):
        chosen = y == label
        axis.scatter(x[chosen, 0], x[chosen, 1], s=11, c=color, edgecolors="black", linewidths=0.5)
    axis.set_xlim(xs[0], xs[-1])
    axis.set_ylim(ys[0], ys[-1])
    axis.set_aspect("equal", adjustable="box")
    axis.set_xlabel("x₁")
    axis.set_ylabel("x₂")
    return mesh


def boundary_figure(
    run: Run, dataset: str, ranking: Sequence[ConfigSummary], path: Path
) -> Path | None:
    """The gallery for ``dataset`` (``ranking``: its configs, best first by the selection
    metric); None when the run has no boundary grids for it."""
    panels = []
    for summary in best_config_per_model(ranking):
        arrays, members = _member_grids(run, summary)
        if members:
            panels.append((summary, arrays, members))
    if not panels:
        return None
    metric = ranking[0].metric
    metric_title = METRIC_TITLES.get(metric, metric).removeprefix("final ")
    columns = label_columns([s.config for s in ranking])
    hyper = [c for c in columns if c != "model"]
    figure = Figure(figsize=(3.4 * len(panels) + 1.0, 7.4), layout="constrained")
    axes = figure.subplots(2, len(panels), squeeze=False)
    mesh = None
    for column, (summary, arrays, members) in enumerate(panels):
        config = dict(summary.config)
        scored = [(metric_value(row, metric), index) for index, (row, _) in enumerate(members)]
        best = min(
            (index for value, index in scored if value is not None),
            key=lambda i: (-scored[i][0], i),
            default=0,
        )
        row, grid = members[best]
        settings = config_label(summary.config, hyper) if hyper else ""
        test = reported_interval(summary, "final_test_acc").mean
        short = SHORT_NAMES.get(metric, metric)
        scores = f"mean {short} {summary.mean:.3f}"
        if not math.isnan(test):
            scores += f" · test acc {test:.3f}"
        axes[0, column].set_title(
            f"{config.get('model')}\n{settings}\n{scores}\n"
            f"top: seed {row.get('seed')} ({short} {scored[best][0]:.3f})",
            fontsize="medium",
        )
        mesh = _draw_panel(axes[0, column], arrays, grid)
        mean = np.mean([g for _, g in members], axis=0)
        axes[1, column].set_title(f"mean P over {len(members)} seeds", fontsize="medium")
        _draw_panel(axes[1, column], arrays, mean)
    colorbar = figure.colorbar(mesh, ax=axes, shrink=0.6, location="right")
    colorbar.set_label("P(Y = 1 | x)")
    handles = [
        Line2D([], [], linestyle="", marker="o", markersize=5, color=color, markeredgecolor="black")
        for color in CLASS_COLORS
    ] + [Line2D([], [], color="black", linewidth=1.2)]
    labels = ["training point, y = 0", "training point, y = 1", "decision boundary P = 0.5"]
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    figure.suptitle(
        f"{dataset}: P(Y = 1 | x) per model, its config chosen by mean {metric_title}\n"
        f"top: its seed with the best {metric_title} · bottom: mean over its "
        "non-diverged seeds"
    )
    return save_figure(figure, path)
