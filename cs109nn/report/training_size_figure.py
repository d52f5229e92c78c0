"""``training_size_<dataset>.png``: test accuracy against the training-set size, one line a model.

For every data set whose rows vary ``train_size`` (the generative-vs-discriminative experiment:
Naive Bayes against logistic regression, Ng & Jordan's learning curves): x the number of
training examples each member saw -- ``train_size``, or the training split's size where the
size asks for more (those points are one point, "all"), on a log scale -- and y the mean final
test accuracy over the non-diverged seeds with its t-interval across seeds (each seed is a
different random training subset, so the interval covers the choice of subset, on this one test
split). At each (model, size) the rest of the config is chosen by the ranking's rule
(``rank_configs``: mean validation accuracy), never by test.
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
from cs109nn.report.selected import TEST_ACCURACY, reported_interval, split_sizes


class SizePoint(NamedTuple):
    """One (model, size): the examples its members saw, the selected config's test accuracy
    (mean and t-interval over the non-diverged seeds), and how many seeds there were."""

    model: str
    size: int
    test: Interval
    n_seeds: int


def effective_size(train_size: float, n_train: int | None) -> float:
    """The examples a member with ``train_size`` sees: all ``n_train`` where it asks for more."""
    if n_train is None:
        return train_size
    return float(n_train) if train_size >= n_train else float(round(train_size))


def training_size_points(
    rows: Sequence[Mapping[str, Any]],
    dataset: str,
    n_train: int | None,
    confidence: float = 0.95,
) -> dict[str, list[SizePoint]]:
    """Per model (in order of first appearance), its points by increasing size: at each size
    the config the ranking selects among that (model, size)'s configs, and its test accuracy.
    Sizes that all mean "the whole split" are one point: the smallest ``train_size`` asking
    for it stands for them."""
    cells: dict[tuple[str, float], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("dataset") == dataset:
            size = effective_size(float(row["train_size"]), n_train)
            cells.setdefault((str(row["model"]), size), []).append(row)
    points: dict[str, list[SizePoint]] = {}
    for (model, size), cell_rows in cells.items():
        # the same examples whatever the train_size (all of them): one point, from the rows
        # of the first train_size that asks for all, not a pool of duplicate members
        first = min(float(r["train_size"]) for r in cell_rows)
        cell_rows = [r for r in cell_rows if float(r["train_size"]) == first]
        ranked = rank_configs(cell_rows, confidence=confidence)
        if not ranked:  # a cell of a search's unselected members only
            continue
        best = ranked[0]
        if not math.isfinite(size):
            continue  # no n_train recorded: "all" has no place on the axis
        points.setdefault(model, []).append(
            SizePoint(
                model, int(size), reported_interval(best, TEST_ACCURACY, confidence), len(best.rows)
            )
        )
    return {model: sorted(line, key=lambda p: p.size) for model, line in points.items()}


def training_size_figures(run: Any, out_dir: Path, confidence: float = 0.95) -> list[Path]:
    """``training_size_<dataset>.png`` in ``out_dir`` for each data set of ``run`` whose rows
    vary ``train_size``; [] when none does."""
    written: list[Path] = []
    for dataset in dict.fromkeys(r.get("dataset") for r in run.rows):
        rows = [r for r in run.rows if r.get("dataset") == dataset]
        if len({r.get("train_size") for r in rows}) < 2:
            continue
        n_train = (split_sizes(run.manifest, str(dataset)) or {}).get("n_train")
        points = training_size_points(rows, str(dataset), n_train, confidence)
        path = Path(out_dir) / f"training_size_{file_safe(str(dataset))}.png"
        written.append(_figure(str(dataset), points, n_train, path))
    return written


def _figure(
    dataset: str, points: dict[str, list[SizePoint]], n_train: int | None, path: Path
) -> Path:
    figure = Figure(figsize=(7.5, 5.2), layout="constrained")
    axis = figure.subplots()
    sizes = sorted({p.size for line in points.values() for p in line})
    for index, (model, line) in enumerate(points.items()):
        drawn = [p for p in line if p.test.n > 0]
        if not drawn:
            continue
        x = np.array([p.size for p in drawn], dtype=np.float64)
        mean = np.array([p.test.mean for p in drawn])
        low = np.array([p.test.low for p in drawn])
        high = np.array([p.test.high for p in drawn])
        color = COLORS[index % len(COLORS)]
        axis.plot(x, mean, marker="o", markersize=4, color=color, label=model)
        # one seed (or identical seeds, as at "all"): no spread to draw
        band = np.isfinite(low) & np.isfinite(high)
        axis.fill_between(
            x, np.where(band, low, mean), np.where(band, high, mean), color=color, alpha=0.2, lw=0
        )
    axis.set_xscale("log", base=2)
    labels = [f"{s}" if s != n_train else f"{s}\n(all)" for s in sizes]
    axis.set_xticks(sizes, labels)
    axis.minorticks_off()
    axis.set_xlabel("training examples seen (a stratified random subset of the training split)")
    axis.set_ylabel("test accuracy (mean over subsets)")
    axis.grid(True, alpha=0.3)
    axis.legend(loc="lower right", fontsize="small", title="model (band: 95% t-interval)")
    n_seeds = max((p.n_seeds for line in points.values() for p in line), default=0)
    figure.suptitle(
        f"{dataset}: test accuracy against training-set size\n"
        f"(mean and 95% t-interval over {n_seeds} random training subsets per size; other "
        "settings chosen by validation)",
        fontsize="medium",
    )
    return save_figure(figure, path)
