"""What report.md says of a data set's selection: how configs were ranked (validation only),
the split sizes, and the selected configuration's test metrics with intervals that say what
they cover."""

from __future__ import annotations

from typing import Any

from cs109nn.report.configs import config_label
from cs109nn.report.drawing import METRIC_TITLES
from cs109nn.report.markdown import interval, number
from cs109nn.report.ranking import SELECTION_METRIC, ConfigSummary
from cs109nn.report.selected import (
    TEST_ACCURACY,
    count_test_examples,
    selected_result,
    split_sizes,
)


def percent(fraction: Any) -> str | None:
    if isinstance(fraction, int | float) and not isinstance(fraction, bool):
        if 0.0 < fraction < 1.0:
            return f"{100.0 * fraction:g}%"
    return None


def selection_line(metric: str, manifest: dict[str, Any]) -> str:
    """One line: what the configs were ranked by, and on which split."""
    config = manifest.get("config") or {}
    if metric == SELECTION_METRIC:
        share = percent(config.get("val_fraction"))
        seed = config.get("data_seed")
        seed_text = f"data seed {seed}" if seed is not None else "data seed not recorded"
        carved = (
            f"{share} of the training split"
            if share
            else "a share of the training split (its size is not recorded in the manifest's config)"
        )
        return (
            f"Selection: configs ranked by mean {METRIC_TITLES[metric]} over seeds (ties: mean "
            f"validation log-likelihood); validation = {carved} (stratified, {seed_text}); the "
            "test split is never used to choose."
        )
    return (
        "Selection: this data set has no validation split, so configs are ranked by train "
        f"accuracy (mean {METRIC_TITLES.get(metric, metric)} over seeds; ties: mean train "
        "log-likelihood). This is not a selection for generalisation: train accuracy rewards "
        "fitting the training examples, and the top-ranked config may simply overfit best. "
        "The test split is never used to choose."
    )


def splits_line(manifest: dict[str, Any], dataset: str) -> str:
    sizes = split_sizes(manifest, dataset)
    if not sizes:
        return "Split sizes: not recorded in the manifest."
    parts = [
        f"{sizes[key]} {name}"
        for key, name in (("n_train", "train"), ("n_val", "validation"), ("n_test", "test"))
        if key in sizes
    ]
    text = "Split sizes: " + ", ".join(parts) + " examples"
    if "num_classes" in sizes:
        text += f"; {sizes['num_classes']} classes"
    return text + "."


def selected_configuration(
    dataset: str,
    ranking: list[ConfigSummary],
    columns: list[str],
    manifest: dict[str, Any],
    confidence: float,
) -> list[str]:
    """The selected config: its selection metric, then its test metrics with an interval
    across seeds and one over test examples, each saying what it covers."""
    usable = [s for s in ranking if s.n > 0]
    lines = ["### Selected configuration", ""]
    if not usable:
        return lines + ["No config has a usable member: nothing is selected.", ""]
    best = usable[0]
    level = f"{confidence:.0%}"
    metric_name = METRIC_TITLES.get(best.metric, best.metric)
    by_validation = best.metric == SELECTION_METRIC
    diverged = ""
    if best.n_diverged:
        diverged = (
            f" ({best.n_diverged} of {len(best.rows)} diverged and are left out: every mean "
            "of this config is over the seeds that finished)"
        )
    chosen = (
        "selected configuration (best on validation)"
        if by_validation
        else "top-ranked configuration by train accuracy (not a selection for generalisation)"
    )
    lines.append(
        f"The {chosen} is **{config_label(best.config, columns)}**: mean "
        f"{metric_name} {number(best.t.mean)} over {best.n} seeds{diverged}."
        + (
            f" Being the best of {len(usable)} configs on validation, this validation score "
            "is optimistic; the test scores below are not, since the test split played no "
            "part in the choice."
            if by_validation and len(usable) > 1
            else ""
        )
    )
    lines.append("")
    n_test = count_test_examples(manifest, dataset)
    result = selected_result(best, n_test, confidence)
    accuracy = result.test_accuracy
    if accuracy.n == 0:
        no_split = (split_sizes(manifest, dataset) or {}).get("n_test") == 0
        reason = (
            "this data set has no test split"
            if no_split or not any(has_test(s) for s in ranking)
            else "none of its non-diverged members has a test accuracy"
        )
        return lines + [f"No test metric to report: {reason}.", ""]
    examples = f"the {n_test} test examples" if n_test else "the test examples"
    lines.append(
        f"Its **test accuracy**, mean over {accuracy.n} seeds: **{number(accuracy.mean)}**. "
        "Two intervals, for two different sources of error; neither includes the other's:"
    )
    lines.append("")
    lines.append(
        f"- {level} Student-t interval across seeds: {interval(accuracy.low, accuracy.high)}"
        f" (n = {accuracy.n} seeds). Covers training randomness (the seeds), with {examples} "
        "fixed: it says how much the mean would move with other seeds on this same test set, "
        "not how well this test set measures accuracy on new data."
    )
    if result.wilson is not None:
        wilson = result.wilson
        lines.append(
            f"- {level} Wilson score interval over the {n_test} test examples, at accuracy "
            f"{number(accuracy.mean)}: {interval(wilson.low, wilson.high)}. Covers test-set "
            f"sampling (which {n_test} examples the test set happened to hold), with training "
            "fixed: accuracy on new examples from the same distribution. It treats the mean "
            "over seeds as one classifier's accuracy on these examples; where seeds disagree "
            "on an example the true spread is smaller, so it errs wide."
        )
    else:
        lines.append(
            "- No interval over test examples: the manifest does not record how many test "
            f"examples `{dataset}` has (`data.{dataset}.n_test`), and n is not guessed."
        )
    lines.append("")
    ll = result.test_ll
    if ll.n:
        lines.append(
            f"Its test log-likelihood (mean per example), mean over {ll.n} seeds: "
            f"{number(ll.mean)}; {level} Student-t interval across seeds "
            f"{interval(ll.low, ll.high)} (training randomness, test examples fixed)."
        )
        lines.append("")
    return lines


def has_test(summary: ConfigSummary) -> bool:
    return any(row.get(TEST_ACCURACY) is not None for row in summary.rows)
