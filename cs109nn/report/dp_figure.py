"""``dp_<dataset>.png``: DP-SGD's price, mean TEST accuracy against the noise multiplier σ.

For every data set whose rows vary ``noise_multiplier``: one line per clip norm C (C = inf is
"no clipping"), x the grid's σ values (evenly spaced, one tick each), y the mean final test
accuracy over the non-diverged seeds with its t-interval across seeds. At each (C, σ) the rest
of the config (the learning rate, and any other swept setting) is chosen by mean validation
accuracy over seeds (train accuracy where the data set has no validation split), never by
test. The non-private member (C = inf, σ = 0: plain SGD) is drawn as a horizontal band across
the panel. A (C, σ) whose seeds all diverged (C = inf with σ > 0 adds noise σ·C = ∞) gets an x
at the bottom of the panel instead of a point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from cs109nn.report.drawing import COLORS, file_safe, save_figure
from cs109nn.report.intervals import Interval
from cs109nn.report.ranking import rank_configs
from cs109nn.report.selected import reported_interval

TEST_METRIC = "final_test_acc"
NON_PRIVATE_LABEL = "non-private (C = ∞, σ = 0)"


class DPPoint(NamedTuple):
    """One (C, σ) of a data set: the selected config's learning rate, its validation
    (selection) mean, its test accuracy over the non-diverged seeds, how many seeds diverged
    out of how many."""

    clip_norm: float
    noise_multiplier: float
    learning_rate: float | None
    selection: float
    test: Interval
    n_diverged: int
    n_seeds: int


def dp_points(
    rows: Sequence[Mapping[str, Any]], dataset: str, confidence: float = 0.95
) -> dict[tuple[float, float], DPPoint]:
    """Per (C, σ) of ``dataset``'s rows, the config the ranking selects among that cell's
    configs (``rank_configs``: the selection metric, validation where there is one) and its
    test accuracy (mean, t-interval over the non-diverged seeds)."""
    cells: dict[tuple[float, float], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("dataset") == dataset:
            key = (float(row["clip_norm"]), float(row["noise_multiplier"]))
            cells.setdefault(key, []).append(row)
    points: dict[tuple[float, float], DPPoint] = {}
    for (clip_norm, sigma), cell_rows in cells.items():
        ranked = rank_configs(cell_rows, confidence=confidence)
        if not ranked:  # a cell of a search's unselected members only
            continue
        best = ranked[0]
        lr = dict(best.config).get("learning_rate")
        points[(clip_norm, sigma)] = DPPoint(
            clip_norm=clip_norm,
            noise_multiplier=sigma,
            learning_rate=float(lr) if isinstance(lr, int | float) else None,
            selection=best.mean if best.n else -math.inf,
            test=reported_interval(best, TEST_METRIC, confidence),
            n_diverged=best.n_diverged,
            n_seeds=len(best.rows),
        )
    return points


def dp_figures(
    run: Any,
    rankings: Mapping[str, Any] | None,
    out_dir: Path,
    confidence: float = 0.95,
) -> list[Path]:
    """``dp_<dataset>.png`` in ``out_dir`` for each data set of ``run`` whose rows vary
    ``noise_multiplier``; [] when none does. ``rankings`` is not needed (accepted so that
    the call reads like the other figures')."""
    del rankings
    datasets = list(dict.fromkeys(r.get("dataset") for r in run.rows))
    written: list[Path] = []
    for dataset in datasets:
        rows = [r for r in run.rows if r.get("dataset") == dataset]
        sigmas = {r.get("noise_multiplier") for r in rows}
        if len(sigmas) < 2 or any(r.get("clip_norm") is None for r in rows):
            continue
        path = Path(out_dir) / f"dp_{file_safe(str(dataset))}.png"
        written.append(_dp_figure(str(dataset), dp_points(rows, dataset, confidence), path))
    return written


def _clip_label(clip_norm: float) -> str:
    return "no clipping (C = ∞)" if math.isinf(clip_norm) else f"C = {clip_norm:g}"


def _dp_figure(dataset: str, points: dict[tuple[float, float], DPPoint], path: Path) -> Path:
    sigmas = sorted({s for _, s in points})
    clips = sorted({c for c, _ in points})
    position = {s: i for i, s in enumerate(sigmas)}
    several_lr = len({p.learning_rate for p in points.values()}) > 1
    figure = Figure(figsize=(8.0, 5.8), layout="constrained")
    axis = figure.subplots()
    baseline = points.get((math.inf, 0.0))
    if baseline is not None and baseline.test.n > 0:
        low, high = baseline.test.low, baseline.test.high
        if math.isfinite(low) and math.isfinite(high):
            axis.axhspan(low, high, color="grey", alpha=0.2, lw=0)
        axis.axhline(
            baseline.test.mean,
            color="black",
            ls="--",
            lw=1.2,
            label=f"{NON_PRIVATE_LABEL}: {baseline.test.mean:.3f} (band: its interval)",
        )
    transform = axis.get_xaxis_transform()  # x in data, y in axes fraction
    for index, clip in enumerate(clips):
        color = COLORS[index % len(COLORS)]
        line = [points[(clip, s)] for s in sigmas if (clip, s) in points]
        drawn = [p for p in line if p.test.n > 0]
        for p in line:
            if p.test.n == 0:  # every seed diverged: no mean to draw
                x = position[p.noise_multiplier]
                axis.plot([x], [0.03], marker="x", color=color, transform=transform)
        if not drawn:
            continue
        x = np.array([position[p.noise_multiplier] for p in drawn], dtype=np.float64)
        mean = np.array([p.test.mean for p in drawn])
        error = np.vstack(
            [mean - np.array([p.test.low for p in drawn]), [p.test.high for p in drawn] - mean]
        )
        label = _clip_label(clip)
        if any(p.test.n == 0 for p in line):
            label += "; x: every seed diverged"
        axis.errorbar(
            x,
            mean,
            yerr=np.nan_to_num(error, nan=0.0),  # one seed: a point without a bar
            color=color,
            marker="o",
            markersize=4,
            capsize=3,
            label=label,
        )
        if several_lr:
            for p, xi, yi in zip(drawn, x, mean, strict=True):
                axis.annotate(
                    f"η={p.learning_rate:g}",
                    (xi, yi),
                    xytext=(5, 7 - 9 * (index % 3)),  # apart, line by line
                    textcoords="offset points",
                    fontsize="x-small",
                    color=color,
                )
    axis.set_xticks(range(len(sigmas)), [f"{s:g}" for s in sigmas])
    axis.set_xlabel("noise multiplier σ (noise std σ·C on the summed clipped gradient)")
    axis.set_ylabel("test accuracy (mean over seeds)")
    axis.set_ylim(0.0, 1.02)
    axis.grid(True, alpha=0.3)
    # Below the panel: inside it would hide the x marks at its bottom.
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize="small")
    chosen = "learning rate η chosen per (C, σ) by mean validation accuracy; " if several_lr else ""
    n_seeds = max(p.n_seeds for p in points.values())
    figure.suptitle(
        f"{dataset}: DP-SGD test accuracy against noise σ, one line per clip norm C\n"
        f"({chosen}mean and 95% t-interval over {n_seeds} seeds)",
        fontsize="medium",
    )
    return save_figure(figure, path)
