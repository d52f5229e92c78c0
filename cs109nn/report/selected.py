"""What is reported about a selected config: its test metrics, never used to choose it.

A config is selected by :mod:`cs109nn.report.ranking` (validation, or train where there is no
validation split). Its test accuracy then carries two intervals, each over one source of
randomness:

- across seeds (Student-t): training randomness, with the test examples fixed;
- over test examples (Wilson, at the mean accuracy over seeds): test-set sampling, with
  training fixed. The mean over seeds of accuracies on the same n examples is the mean over
  examples of each example's share of seeds that got it right, a value c in [0, 1] with
  Var(c) <= p(1 - p); so the binomial spread the Wilson interval assumes is an upper bound on
  the spread of that mean over test draws (equality when all seeds agree on every example),
  and the interval errs wide, not narrow.

The test-set size comes from the manifest (``manifest["data"][dataset]["n_test"]``); where the
manifest does not say, there is no interval over test examples rather than a guessed n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from cs109nn.report.intervals import Interval, t_interval, wilson_interval
from cs109nn.report.ranking import ConfigSummary, is_diverged, metric_value

TEST_ACCURACY = "final_test_acc"
TEST_LL = "final_test_ll"


def split_sizes(manifest: Mapping[str, Any], dataset: str) -> dict[str, int] | None:
    """``manifest["data"][dataset]`` (n_train, n_val, n_test, num_classes; whole numbers
    only), or None when the manifest does not record the data set."""
    data = manifest.get("data")
    entry = data.get(dataset) if isinstance(data, Mapping) else None
    if not isinstance(entry, Mapping):
        return None
    return {
        str(key): int(value)
        for key, value in entry.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }


# Not named test_*: pytest would collect it from a test module that imports it.
def count_test_examples(manifest: Mapping[str, Any], dataset: str) -> int | None:
    """The number of test examples of ``dataset`` per the manifest: positive, or None (not
    recorded, or the data set has no test split)."""
    n_test = (split_sizes(manifest, dataset) or {}).get("n_test")
    return n_test if n_test is not None and n_test > 0 else None


def reported_interval(summary: ConfigSummary, metric: str, confidence: float = 0.95) -> Interval:
    """Mean and Student-t interval across seeds of ``metric`` (e.g. a test metric) over the
    config's non-diverged members that have a finite value for it: reported, not ranked by."""
    values = [
        value
        for row in summary.rows
        if not is_diverged(row) and (value := metric_value(row, metric)) is not None
    ]
    return t_interval(values, confidence)


class SelectedResult(NamedTuple):
    """The selected config's test metrics.

    ``test_accuracy``/``test_ll``: mean and t-interval across seeds (training randomness, test
    set fixed); n is the number of seeds, 0 when no member has a test value. ``n_test``: test
    examples per the manifest, None where it does not say. ``wilson``: the Wilson interval
    over the ``n_test`` examples at the mean test accuracy (test-set sampling, training fixed),
    None without a mean or without ``n_test``.
    """

    summary: ConfigSummary
    test_accuracy: Interval
    test_ll: Interval
    n_test: int | None
    wilson: Interval | None


def selected_result(
    summary: ConfigSummary, n_test: int | None, confidence: float = 0.95
) -> SelectedResult:
    """The test metrics of ``summary``'s config, with both kinds of interval."""
    accuracy = reported_interval(summary, TEST_ACCURACY, confidence)
    wilson = None
    if n_test is not None and accuracy.n > 0 and not math.isnan(accuracy.mean):
        wilson = wilson_interval(accuracy.mean, n_test, confidence)
    return SelectedResult(
        summary=summary,
        test_accuracy=accuracy,
        test_ll=reported_interval(summary, TEST_LL, confidence),
        n_test=n_test,
        wilson=wilson,
    )
