"""The opening of ``report.md``: the claim an experiment tests, and what the run measured.

One sentence per data set, of test accuracy -- each figure the mean over seeds of a config
chosen by validation (``rank_configs``), with its 95 % Student-t interval across seeds (training
randomness; the sections below add the interval over test examples) -- in the shape the sweep
asks:

- rows varying ``train_size`` (learning curves over n): each model at the smallest size and at
  the whole training split;
- rows varying ``noise_multiplier`` (DP-SGD): the non-private member, then each clip norm at
  the smallest and largest noise;
- otherwise: each model's selected config, best first (at most ``MAX_MODELS``: the best ones
  and the worst); a member's own width and depth, where they vary, are part of its model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cs109nn.report.dp_figure import dp_points
from cs109nn.report.intervals import Interval, wilson_interval
from cs109nn.report.ranking import rank_configs
from cs109nn.report.selected import (
    TEST_ACCURACY,
    count_test_examples,
    reported_interval,
    split_sizes,
)
from cs109nn.report.training_size_figure import training_size_points

MAX_MODELS = 4


def figure(test: Interval, n_test: int | None = None, confidence: float = 0.95) -> str:
    """``0.943 [0.905, 0.981]``; the interval left out where there is none (one seed). Where
    every seed scored the same (e.g. fitted on the same, whole split), the interval across
    seeds is a point, and the Wilson interval over the ``n_test`` test examples is given."""
    if test.n == 0 or math.isnan(test.mean):
        return "no test value"
    if math.isfinite(test.low) and math.isfinite(test.high) and test.n > 1:
        if test.low == test.high:
            text = f"{test.mean:.3f} (the same for every seed"
            if n_test:
                wilson = wilson_interval(test.mean, n_test, confidence)
                text += (
                    f"; Wilson [{wilson.low:.3f}, {wilson.high:.3f}] over {n_test} test examples"
                )
            return text + ")"
        return f"{test.mean:.3f} [{test.low:.3f}, {test.high:.3f}]"
    return f"{test.mean:.3f}"


def claim_section(run: Any, confidence: float = 0.95) -> list[str]:
    """The report's first lines: the spec's ``claim`` (when it has one) and one measured
    sentence per data set; [] for a run without test accuracy."""
    config = run.manifest.get("config") or {}
    datasets = list(dict.fromkeys(r.get("dataset") for r in run.rows))
    sentences = []
    for dataset in datasets:
        rows = [r for r in run.rows if r.get("dataset") == dataset]
        if all(r.get(TEST_ACCURACY) is None for r in rows):
            continue
        measured = measured_sentence(rows, str(dataset), run.manifest, confidence)
        if measured:
            sentences.append(f"- {dataset}: {measured}")
    claim = str(config.get("claim") or "").strip()
    if not claim and not sentences:
        return []
    lines = ["## Claim and result", ""]
    if claim:
        lines += [f"**Claim tested:** {claim}", ""]
    if sentences:
        lines += [
            f"**Measured** (test accuracy of the config chosen by validation: mean over seeds "
            f"and {confidence:.0%} t-interval across seeds):",
            "",
            *sentences,
            "",
        ]
    return lines


def measured_sentence(
    rows: Sequence[Mapping[str, Any]],
    dataset: str,
    manifest: Mapping[str, Any],
    confidence: float = 0.95,
) -> str:
    """The measured sentence of one data set's rows (see the module docstring)."""
    n_test = count_test_examples(manifest, dataset)
    if len({r.get("train_size") for r in rows}) > 1:
        n_train = (split_sizes(manifest, dataset) or {}).get("n_train")
        lines = training_size_points(rows, dataset, n_train, confidence)
        sizes = sorted({p.size for line in lines.values() for p in line})
        parts = []
        for size in (sizes[0], sizes[-1]) if len(sizes) > 1 else sizes:
            at = {m: p for m, line in lines.items() for p in line if p.size == size}
            label = f"n = {size}" + (" (all)" if size == n_train else "")
            parts.append(
                f"at {label}, "
                + " vs ".join(f"{m} {figure(p.test, n_test)}" for m, p in at.items())
            )
        return "; ".join(parts)
    if len({r.get("noise_multiplier") for r in rows}) > 1:
        points = dp_points(rows, dataset, confidence)
        parts = []
        baseline = points.get((math.inf, 0.0))
        if baseline is not None:
            parts.append(f"non-private {figure(baseline.test, n_test)}")
        for clip in sorted({c for c, _ in points if math.isfinite(c)}):
            sigmas = sorted(s for c, s in points if c == clip)
            ends = [sigmas[0], sigmas[-1]] if len(sigmas) > 1 else sigmas
            parts.append(
                f"C = {clip:g}: "
                + ", ".join(f"σ = {s:g} {figure(points[(clip, s)].test, n_test)}" for s in ends)
            )
        return "; ".join(parts)
    # a member's own architecture (the width / depth member axes) is part of its model
    own = [axis for axis in ("width", "depth") if len({r.get(axis) for r in rows}) > 1]
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        label = str(row.get("model")) + "".join(f" {axis} {row[axis]:g}" for axis in own)
        by_model.setdefault(label, []).append(row)
    chosen = [
        (
            model,
            reported_interval(
                rank_configs(model_rows, confidence=confidence)[0], TEST_ACCURACY, confidence
            ),
        )
        for model, model_rows in by_model.items()
        if rank_configs(model_rows, confidence=confidence)  # not only unselected members
    ]
    chosen.sort(key=lambda item: -item[1].mean if item[1].n else math.inf)
    shown = chosen if len(chosen) <= MAX_MODELS else chosen[: MAX_MODELS - 1] + chosen[-1:]
    text = " vs ".join(f"{model} {figure(test, n_test)}" for model, test in shown)
    if len(shown) < len(chosen):
        text += f" (the best {MAX_MODELS - 1} of {len(chosen)} models, and the worst)"
    return text
