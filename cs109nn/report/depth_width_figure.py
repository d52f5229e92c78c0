"""``depth_width_<dataset>.png``: "a bigger neural network" as a depth × width heatmap.

For every data set whose models include MLPs of equal hidden widths (``mlp:WxWx...:ACT`` or
``softmax-mlp:WxWx...:ACT``) at two or more depths or widths: rows are depth (number of hidden
layers), columns are width (units per layer), one panel per family of such models (the same
output and activation, e.g. ``softmax-mlp:*:relu``). A config's cell is its model's depth and
width, or -- for members with their own architecture (the ``width`` / ``depth`` member axes,
``cs109nn.models.masked``) -- the member's. Each cell takes that cell's best config
by the report's selection rule (:mod:`cs109nn.report.ranking`: mean validation accuracy over
seeds, never test) and shows its mean TEST accuracy over the non-diverged seeds, coloured, with
the t-interval across seeds and the selected learning rate written in the cell. Specs with
unequal widths (``mlp:64x16``) are not a cell of any grid and are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from cs109nn.report.drawing import file_safe, save_figure
from cs109nn.report.intervals import Interval
from cs109nn.report.ranking import SELECTION_METRIC, ConfigSummary
from cs109nn.report.selected import reported_interval

TEST_METRIC = "final_test_acc"
_CMAP = colormaps["viridis"].with_extremes(bad="lightgrey")  # grey: a cell not run
_MLP_SPEC = re.compile(r"^(?P<head>(?:softmax-)?mlp):(?P<widths>\d+(?:x\d+)*)(?::(?P<rest>.*))?$")


class Cell(NamedTuple):
    """One (depth, width) cell: the model's selected config, its test accuracy over seeds
    (``test.n`` seeds; NaN mean when none has a test value), the seeds that diverged."""

    model: str
    selected: ConfigSummary
    test: Interval
    n_diverged: int
    n_seeds: int

    @property
    def learning_rate(self) -> Any:
        return dict(self.selected.config).get("learning_rate")


def parse_mlp_spec(model: Any) -> tuple[str, int, int] | None:
    """``(family, depth, width)`` of an equal-width MLP spec, e.g. ``"softmax-mlp:16x16:relu"``
    -> ``("softmax-mlp:*:relu", 2, 16)``; None for anything else (unequal widths included)."""
    match = _MLP_SPEC.match(str(model))
    if match is None:
        return None
    widths = [int(w) for w in match["widths"].split("x")]
    if len(set(widths)) != 1:
        return None
    rest = match["rest"]
    family = f"{match['head']}:*" + (f":{rest}" if rest else "")
    return family, len(widths), widths[0]


def config_architecture(config: Mapping[str, Any]) -> tuple[str, int, int] | None:
    """``(family, depth, width)`` of a config: its model spec's (:func:`parse_mlp_spec`), with
    the config's own finite ``width`` / ``depth`` (a masked member's) in their place; None
    when the member's live widths are not all equal."""
    match = _MLP_SPEC.match(str(config.get("model")))
    if match is None:
        return None
    widths = [int(w) for w in match["widths"].split("x")]
    depth = _finite(config.get("depth"))
    width = _finite(config.get("width"))
    if depth is not None:
        widths = widths[: int(depth)]
    if width is not None:
        widths = [min(int(width), w) for w in widths]
    if len(set(widths)) != 1:
        return None
    rest = match["rest"]
    family = f"{match['head']}:*" + (f":{rest}" if rest else "")
    return family, len(widths), widths[0]


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def depth_width_cells(
    ranking: Sequence[ConfigSummary], confidence: float = 0.95
) -> dict[str, dict[tuple[int, int], Cell]]:
    """Family -> (depth, width) -> :class:`Cell`, for the families of ``ranking`` (one data
    set's configs, best first) with at least two depths or two widths."""
    selected: dict[tuple[str, int, int], ConfigSummary] = {}
    for summary in ranking:  # best first: the first config seen of a cell is its selection
        cell = config_architecture(dict(summary.config))
        if cell is not None and cell not in selected:
            selected[cell] = summary
    families: dict[str, dict[tuple[int, int], Cell]] = {}
    for (family, depth, width), summary in selected.items():
        families.setdefault(family, {})[(depth, width)] = Cell(
            model=str(dict(summary.config).get("model")),
            selected=summary,
            test=reported_interval(summary, TEST_METRIC, confidence),
            n_diverged=summary.n_diverged,
            n_seeds=len(summary.rows),
        )
    return {
        family: cells
        for family, cells in families.items()
        if len({d for d, _ in cells}) >= 2 or len({w for _, w in cells}) >= 2
    }


def depth_width_figures(
    run: Any,
    rankings: Mapping[str, Sequence[ConfigSummary]],
    out_dir: str | Path,
    confidence: float = 0.95,
) -> list[Path]:
    """Write ``out_dir/depth_width_<dataset>.png`` for each data set of ``rankings`` (see
    :func:`cs109nn.report.ranking.rank_by_dataset`) that has a depth × width grid of MLPs;
    returns the paths written. ``run`` (a :class:`cs109nn.report.read.Run`) is not needed
    beyond the rankings; it is taken so that the call reads like the report's other figures."""
    del run
    written = []
    for dataset, ranking in rankings.items():
        families = depth_width_cells(ranking, confidence)
        if not families:
            continue
        path = Path(out_dir) / f"depth_width_{file_safe(dataset)}.png"
        written.append(_draw(dataset, families, ranking[0].metric, confidence, path))
    return written


def _draw(
    dataset: str,
    families: dict[str, dict[tuple[int, int], Cell]],
    metric: str,
    confidence: float,
    path: Path,
) -> Path:
    shapes = []
    for cells in families.values():
        depths = sorted({d for d, _ in cells})
        widths = sorted({w for _, w in cells})
        shapes.append((depths, widths))
    means = [c.test.mean for cells in families.values() for c in cells.values()]
    finite = [m for m in means if math.isfinite(m)]
    vmin, vmax = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if vmax - vmin < 0.02:  # a near-constant grid: do not stretch noise over the colour map
        vmin, vmax = max(0.0, vmax - 0.02), min(1.0, vmin + 0.02)
    ncols = len(families)
    max_w = max(len(w) for _, w in shapes)
    max_d = max(len(d) for d, _ in shapes)
    figure = Figure(figsize=(1.9 * max_w * ncols + 1.6, 1.25 * max_d + 1.9), layout="constrained")
    axes = figure.subplots(1, ncols, squeeze=False).ravel()
    image = None
    for axis, (family, cells), (depths, widths) in zip(axes, families.items(), shapes, strict=True):
        grid = np.full((len(depths), len(widths)), np.nan)
        for (depth, width), cell in cells.items():
            grid[depths.index(depth), widths.index(width)] = cell.test.mean
        image = axis.imshow(
            np.ma.masked_invalid(grid), cmap=_CMAP, vmin=vmin, vmax=vmax, aspect="auto"
        )
        for row, depth in enumerate(depths):
            for column, width in enumerate(widths):
                if (depth, width) not in cells:
                    axis.text(column, row, "not run", ha="center", va="center", fontsize="small")
        for (depth, width), cell in cells.items():
            value = cell.test.mean
            shade = (value - vmin) / (vmax - vmin) if math.isfinite(value) else 1.0
            axis.text(
                widths.index(width),
                depths.index(depth),
                _cell_text(cell),
                ha="center",
                va="center",
                fontsize="medium",
                color="black" if shade > 0.6 else "white",
            )
        axis.set_xticks(range(len(widths)), [str(w) for w in widths])
        axis.set_yticks(range(len(depths)), [str(d) for d in depths])
        axis.set_xlabel("width (units per hidden layer)")
        axis.set_ylabel("depth (hidden layers)")
        axis.set_title(f"model={family}", fontsize="medium")
    figure.colorbar(image, ax=list(axes), label="mean test accuracy over seeds", shrink=0.9)
    if metric == SELECTION_METRIC:
        selected, note = "validation-selected", ""
    else:
        selected, note = "train-selected", " (no validation split)"
    figure.suptitle(
        f"{dataset}: test accuracy of the {selected} learning rate per cell,\n"
        f"mean and {confidence:.0%} t-interval over seeds{note}",
        fontsize="medium",
    )
    return save_figure(figure, path)


def _cell_text(cell: Cell) -> str:
    if cell.test.n == 0:
        return "all diverged" if cell.n_diverged else "no test split"
    lines = [f"{cell.test.mean:.2f}"]
    if cell.test.n >= 2:
        lines.append(f"[{cell.test.low:.2f}, {cell.test.high:.2f}]")
    else:
        lines.append("(1 seed)")
    if cell.learning_rate is not None:
        lines.append(f"lr {cell.learning_rate:g}")
    if cell.n_diverged:
        lines.append(f"{cell.n_diverged}/{cell.n_seeds} diverged")
    return "\n".join(lines)
