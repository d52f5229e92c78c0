"""Digit figures of a run whose sweep saved test predictions of image data (``save_predictions``):

- ``hidden_units_<dataset>.png``, the slides' "look at a single hidden neuron": for each model
  whose first layer is a Dense over the pixels, the input weights of its first units drawn as
  images (a diverging colormap centred at 0: red pixels push the unit up, blue down). For an
  MLP these are hidden units; for logistic / softmax regression, whose only layer is the
  output, they are the classes' weight templates.
- ``misclassified_<dataset>.png``: for each model, the test digits it gets wrong (the ones it
  is surest of first), each labelled "true → predicted" with the probability it gave its
  answer, and the count wrong out of the test split's size.

Each model's config is the one the ranking selects (:mod:`cs109nn.report.ranking`: mean
validation accuracy over seeds; never the test split), and of it the seed with the best
validation accuracy is drawn (the representative seed, as in the boundary gallery). The
figures draw the sweep's arrays (``predictions/<group>.npz``, see
``cs109nn.sweep.predictions``) and compute nothing that needs the model: no JAX here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from cs109nn.report.boundary_figure import best_config_per_model
from cs109nn.report.configs import Row, config_label, label_columns
from cs109nn.report.drawing import METRIC_TITLES, file_safe, save_figure
from cs109nn.report.ranking import ConfigSummary, is_diverged, metric_value
from cs109nn.report.read import Run

MAX_UNITS = 16  # units drawn per model: the first ones, in the layer's own order
UNITS_PER_ROW = 8
MAX_WRONG = 12  # misclassified digits drawn per model
WEIGHT_CMAP = "RdBu_r"  # diverging: blue negative, white 0, red positive
DIGIT_CMAP = "gray_r"  # ink dark on white, as the digits were written
SHORT_NAMES = {"final_val_acc": "val acc", "final_train_acc": "train acc"}


class SelectedMember(NamedTuple):
    """A model's selected config and, of it, the seed drawn: its row of results.csv, its
    group's predictions file (name -> array) and its index in that file's member axis."""

    summary: ConfigSummary
    row: Row
    arrays: Mapping[str, np.ndarray]
    member: int


def image_side(feature_shape: Sequence[int]) -> int | None:
    """s when features of ``feature_shape`` are an s×s grey image (``[s*s]``, ``[s, s]`` or
    ``[s, s, 1]``), else None."""
    shape = tuple(feature_shape)
    if len(shape) == 3 and shape[2] == 1:
        shape = shape[:2]
    if len(shape) == 2 and shape[0] == shape[1]:
        return shape[0]
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        return side if side > 1 and side * side == shape[0] else None
    return None


def selected_member(run: Run, summary: ConfigSummary) -> SelectedMember | None:
    """``summary``'s seed with the best selection metric (validation accuracy where there is
    a validation split; ties to the first row) among its non-diverged members whose group has
    a predictions file; None when none has one."""
    best: tuple[float, int] | None = None
    chosen: SelectedMember | None = None
    for index, row in enumerate(summary.rows):
        arrays = run.predictions.get(str(row.get("group")))
        if arrays is None or is_diverged(row):
            continue
        value = metric_value(row, summary.metric)
        key = (-math.inf if value is None else value, -index)
        if best is None or key > best:
            best = key
            chosen = SelectedMember(summary, row, arrays, int(row["member"]))
    return chosen


def selected_members(run: Run, ranking: Sequence[ConfigSummary]) -> list[SelectedMember]:
    """Per model of ``ranking`` (one data set's configs, best first), in the sweep's order:
    its best config's :func:`selected_member`, for models whose predictions are images."""
    members = []
    for summary in best_config_per_model(ranking):
        found = selected_member(run, summary)
        if found is not None and image_side(found.arrays["x_test"].shape[1:]) is not None:
            members.append(found)
    return members


def _member_title(selected: SelectedMember, hyper: Sequence[str]) -> str:
    """``model (settings) · seed s (val acc v)``: which model, config and seed a block shows."""
    config = dict(selected.summary.config)
    settings = config_label(selected.summary.config, hyper) if hyper else ""
    short = SHORT_NAMES.get(selected.summary.metric, selected.summary.metric)
    value = metric_value(selected.row, selected.summary.metric)
    score = f" ({short} {value:.3f})" if value is not None else ""
    where = f" ({settings})" if settings else ""
    return f"{config.get('model')}{where} · seed {selected.row.get('seed')}{score}"


def _class_name(arrays: Mapping[str, np.ndarray], k: int) -> str:
    """Class ``k`` as the predictions file names it (``class_names``), else its number."""
    names = [str(name) for name in arrays.get("class_names", [])]
    return names[k] if 0 <= k < len(names) else str(k)


def _hide_ticks(axis) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def _selection_note(ranking: Sequence[ConfigSummary]) -> str:
    metric = METRIC_TITLES.get(ranking[0].metric, ranking[0].metric).removeprefix("final ")
    return f"each model's config: best mean {metric} over seeds · seed: its best {metric}"


def _unit_label(arrays: Mapping[str, np.ndarray], unit: int, units: int) -> str:
    """A unit's panel title: a hidden unit's index, or the class an output unit scores."""
    if not bool(arrays.get("first_layer_is_output", False)):
        return f"unit {unit}"
    if units == 1:  # a binary head's one logit, for class 1
        return f"logit of {_class_name(arrays, 1)}"
    return f"class {_class_name(arrays, unit)}"


def _draw_units(subfigure, selected: SelectedMember, nrows: int, title: str) -> int:
    """One model's block of the hidden-units figure; returns the image side."""
    arrays = selected.arrays
    weights = np.asarray(arrays["first_layer_weights"][selected.member], dtype=np.float64)
    side = image_side(weights.shape[1:]) or 1
    shown = weights[:MAX_UNITS].reshape(-1, side, side)
    scale = float(np.max(np.abs(shown))) or 1.0  # one scale per model: its units compare
    axes = subfigure.subplots(nrows, UNITS_PER_ROW, squeeze=False)
    image = None
    for unit, axis in enumerate(axes.ravel()):
        _hide_ticks(axis)
        if unit >= len(shown):
            axis.set_axis_off()
            continue
        image = axis.imshow(shown[unit], cmap=WEIGHT_CMAP, vmin=-scale, vmax=scale)
        axis.set_title(_unit_label(arrays, unit, len(weights)), fontsize="small")
    for axis in axes[:, 0]:  # the images' axes are the pixel grid's, as the digits'
        axis.set_ylabel("pixel row", fontsize="small")
    axes[-1, 0].set_xlabel("pixel column", fontsize="small")
    colorbar = subfigure.colorbar(image, ax=axes, shrink=0.9, location="right")
    colorbar.set_label("input weight", fontsize="small")
    is_output = bool(arrays.get("first_layer_is_output", False))
    what = (
        "its only layer (the output): each class's weights" if is_output else "first hidden layer"
    )
    if len(weights) > len(shown):
        count = f"units 0-{len(shown) - 1} of {len(weights)}"
    else:
        count = f"all {len(weights)} unit" + ("s" if len(weights) > 1 else "")
    subfigure.suptitle(f"{title}\n{what}, {count}", fontsize="medium")
    return side


def hidden_units_figure(
    run: Run, dataset: str, ranking: Sequence[ConfigSummary], path: Path
) -> Path | None:
    """``hidden_units_<dataset>.png`` (see the module docstring); None when no selected model
    of ``dataset`` has first-layer weights."""
    blocks = [m for m in selected_members(run, ranking) if "first_layer_weights" in m.arrays]
    if not blocks:
        return None
    hyper = [c for c in label_columns([s.config for s in ranking]) if c != "model"]
    rows_of = [
        math.ceil(min(MAX_UNITS, len(m.arrays["first_layer_weights"][m.member])) / UNITS_PER_ROW)
        for m in blocks
    ]
    height = 1.2 + sum(1.35 * rows + 0.8 for rows in rows_of)
    figure = Figure(figsize=(1.3 * UNITS_PER_ROW + 1.2, height), layout="constrained")
    subfigures = figure.subfigures(
        len(blocks), 1, squeeze=False, height_ratios=[rows + 0.6 for rows in rows_of]
    )
    side = 0
    for subfigure, selected, nrows in zip(subfigures[:, 0], blocks, rows_of, strict=True):
        side = _draw_units(subfigure, selected, nrows, _member_title(selected, hyper))
    figure.suptitle(
        f"{dataset}: input weights of the first layer's units as {side}×{side} images\n"
        "(red: a bright pixel raises the unit, blue: lowers it)\n"
        f"{_selection_note(ranking)}"
    )
    return save_figure(figure, path)


def wrong_examples(selected: SelectedMember) -> np.ndarray:
    """Indices of the test examples the selected seed gets wrong, the surest mistakes (highest
    probability of the wrong answer) first: [n_wrong] int."""
    arrays = selected.arrays
    predicted = np.asarray(arrays["test_predicted"][selected.member])
    wrong = np.flatnonzero(predicted != np.asarray(arrays["y_test"]))
    confidence = np.asarray(arrays["test_probability"][selected.member])[wrong]
    return wrong[np.argsort(-confidence, kind="stable")]


def _draw_wrong(subfigure, selected: SelectedMember, nrows: int, ncols: int, title: str) -> None:
    """One model's block of the misclassified figure."""
    arrays = selected.arrays
    x_test, y_test = np.asarray(arrays["x_test"]), np.asarray(arrays["y_test"])
    predicted = np.asarray(arrays["test_predicted"][selected.member])
    probability = np.asarray(arrays["test_probability"][selected.member])
    side = image_side(x_test.shape[1:]) or 1
    wrong = wrong_examples(selected)
    ink = max(1.0, float(np.max(x_test)))
    count = f"{len(wrong)} of {len(y_test)} test digits wrong"
    if len(wrong) > MAX_WRONG:
        count += f"; its {MAX_WRONG} surest shown"
    subfigure.suptitle(f"{title}\n{count}", fontsize="medium")
    if not nrows:  # nothing wrong: a line that says so instead of an empty grid
        axis = subfigure.subplots()
        axis.set_axis_off()
        axis.text(0.5, 0.5, "(no test digit wrong)", ha="center", va="center")
        return
    axes = subfigure.subplots(nrows, ncols, squeeze=False)
    for cell, axis in enumerate(axes.ravel()):
        _hide_ticks(axis)
        if cell >= min(MAX_WRONG, len(wrong)):
            axis.set_axis_off()
            continue
        i = int(wrong[cell])
        digit = np.asarray(x_test[i], dtype=np.float64).reshape(side, side)
        axis.imshow(digit, cmap=DIGIT_CMAP, vmin=0.0, vmax=ink)
        true, said = _class_name(arrays, int(y_test[i])), _class_name(arrays, int(predicted[i]))
        axis.set_title(f"{true} → {said}", fontsize="medium")
        axis.set_xlabel(f"p = {probability[i]:.2f}", fontsize="small")


def misclassified_figure(
    run: Run, dataset: str, ranking: Sequence[ConfigSummary], path: Path
) -> Path | None:
    """``misclassified_<dataset>.png`` (see the module docstring); None when no selected model
    of ``dataset`` has predictions."""
    blocks = selected_members(run, ranking)
    if not blocks:
        return None
    hyper = [c for c in label_columns([s.config for s in ranking]) if c != "model"]
    ncols = MAX_WRONG // 2
    rows_of = [math.ceil(min(MAX_WRONG, len(wrong_examples(m))) / ncols) for m in blocks]
    # rows taller than the cells are wide: room for each digit's title and label
    height = 1.2 + sum(1.95 * max(rows, 0.3) + 0.75 for rows in rows_of)
    figure = Figure(figsize=(1.35 * ncols + 1.0, height), layout="constrained")
    subfigures = figure.subfigures(
        len(blocks), 1, squeeze=False, height_ratios=[max(rows, 0.3) + 0.5 for rows in rows_of]
    )
    for subfigure, selected, nrows in zip(subfigures[:, 0], blocks, rows_of, strict=True):
        _draw_wrong(subfigure, selected, nrows, ncols, _member_title(selected, hyper))
    figure.suptitle(
        f"{dataset}: the test digits each model gets wrong\n"
        "labelled true → predicted; p = the probability the model gave its answer\n"
        f"{_selection_note(ranking)}"
    )
    return save_figure(figure, path)


def digits_figures(
    run: Run, rankings: Mapping[str, Sequence[ConfigSummary]], out_dir: Path
) -> list[Path]:
    """``hidden_units_<dataset>.png`` and ``misclassified_<dataset>.png`` in ``out_dir`` for
    every data set of ``rankings`` with image predictions; [] when the run saved none."""
    if not run.predictions:
        return []
    written: list[Path | None] = []
    for dataset, ranking in rankings.items():
        if not ranking:
            continue
        name = file_safe(dataset)
        written.append(
            hidden_units_figure(run, dataset, ranking, out_dir / f"hidden_units_{name}.png")
        )
        written.append(
            misclassified_figure(run, dataset, ranking, out_dir / f"misclassified_{name}.png")
        )
    return [path for path in written if path is not None]
