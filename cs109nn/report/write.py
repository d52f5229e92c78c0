"""``report.md`` for a run folder: what ran, which config was selected (on validation) and by
how much, its test metrics with intervals that say what they cover, what each search (successive
halving, PBT, ...) selected and at what cost, what diverged.

Everything is computed from the run folder alone (``manifest.json``, ``results.csv``,
``curves/``), so a report can be regenerated at any time, also for a sweep still running.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cs109nn.atomic_files import write_atomic
from cs109nn.report.claim import claim_section
from cs109nn.report.configs import config_label, label_columns
from cs109nn.report.drawing import METRIC_TITLES
from cs109nn.report.figures import write_figures
from cs109nn.report.intervals import BOOTSTRAP_RESAMPLES
from cs109nn.report.markdown import interval, number, p_value, table
from cs109nn.report.ranking import (
    SELECTION_METRIC,
    ConfigSummary,
    diverged_members,
    rank_by_dataset,
)
from cs109nn.report.read import Run, read_run, summarize_manifest
from cs109nn.report.search_section import search_section
from cs109nn.report.selection_text import selected_configuration, selection_line, splits_line
from cs109nn.report.significance import SIGN_FLIP_EXACT_UP_TO, compare_configs
from cs109nn.run_folder_schema import REPORT


def write_report(run_dir: str | Path, confidence: float = 0.95, figures: bool = True) -> Path:
    """Regenerate ``RUN_DIR/report.md`` (and, with ``figures``, ``RUN_DIR/figures/*.png``).

    Returns the report's path. The file is replaced atomically.
    """
    run = read_run(run_dir)
    rankings = rank_by_dataset(run.rows, run.columns, confidence)
    figure_paths = write_figures(run, confidence, rankings) if figures else []
    text = render_report(run, rankings, figure_paths, confidence)
    return write_atomic(run.path / REPORT, text)


def render_report(
    run: Run,
    rankings: dict[str, list[ConfigSummary]],
    figure_paths: Sequence[Path] = (),
    confidence: float = 0.95,
) -> str:
    """The Markdown text of the report."""
    lines = [f"# Report: {run.path.resolve().name}", ""]
    lines += claim_section(run, confidence)
    lines += _run_summary(run, rankings)
    for dataset, ranking in rankings.items():
        lines += _dataset_section(dataset, ranking, run.manifest, confidence)
    lines += search_section(run, confidence)  # empty unless some group searched
    lines += _diverged_section(rankings, run.rows)
    lines += _figures_section(run, figure_paths)
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------


def _run_summary(run: Run, rankings: dict[str, list[ConfigSummary]]) -> list[str]:
    facts = summarize_manifest(run.manifest)
    diverged = len(diverged_members(run.rows))
    seeds = {row.get("seed") for row in run.rows if row.get("seed") is not None}
    groups = {row.get("group") for row in run.rows if row.get("group") is not None}
    num_configs = sum(len(ranking) for ranking in rankings.values())
    commit = "none"
    if facts.git_commit:
        commit = f"`{facts.git_commit}`" + (
            " (with uncommitted changes)" if facts.git_dirty else ""
        )

    def of_planned(count: int, planned: int | None) -> str:
        return f"{count} of {planned} planned" if planned is not None else str(count)

    summary = [
        ("experiment", facts.experiment or "unnamed"),
        ("config hash", f"`{facts.config_hash}`" if facts.config_hash else "unknown"),
        ("git commit", commit),
        ("started", facts.started or "unknown"),
        ("ended", facts.finished or "not finished (no end time in the manifest)"),
        ("backend", facts.backend or "unknown"),
        ("devices", facts.devices or "unknown"),
        ("processes", facts.process_count if facts.process_count is not None else "unknown"),
        ("datasets", ", ".join(rankings) or "none"),
        ("members", of_planned(len(run.rows), facts.planned_members)),
        ("diverged members", diverged),
        ("groups", of_planned(len(groups), facts.planned_groups)),
        ("configs", num_configs),
        ("seeds", len(seeds)),
    ]
    summary = [(name, value if value != "" else "unknown") for name, value in summary]
    lines = ["## Run", ""] + table(["", ""], summary) + [""]
    if facts.versions:
        lines += ["Versions: " + ", ".join(f"{k} {v}" for k, v in facts.versions.items()) + ".", ""]
    if not run.rows:
        lines += ["No results yet: `results.csv` is absent or empty.", ""]
    return lines


def _dataset_section(
    dataset: str, ranking: list[ConfigSummary], manifest: dict[str, Any], confidence: float
) -> list[str]:
    if not ranking:
        return []
    metric = ranking[0].metric
    metric_name = METRIC_TITLES.get(metric, metric)
    level = f"{confidence:.0%}"
    split = "validation" if metric == SELECTION_METRIC else "train"
    columns = label_columns([s.config for s in ranking])
    lines = [f"## Dataset: {dataset}", "", selection_line(metric, manifest), ""]
    lines += [splits_line(manifest, dataset), ""]
    lines.append(
        f"Intervals in this table are {level} confidence intervals for the mean over seeds: "
        f"they cover training randomness (the seeds), with the {split} examples fixed, and "
        f"say nothing about which examples the {split} split happened to hold. Student-t, "
        f"and percentile bootstrap over seeds ({BOOTSTRAP_RESAMPLES:,} resamples, seeded). "
        "Diverged members are left out of the mean and counted apart; n is the number of "
        "seeds the mean is over. Test metrics are not tabulated for every config: only the "
        "selected one's, below."
    )
    lines.append("")
    header = [
        "rank",
        *columns,
        f"mean {metric_name}",
        f"{level} t-CI (seeds)",
        f"{level} bootstrap CI (seeds)",
        "n",
        "diverged",
    ]
    rows = [
        [
            rank if summary.n else "—",
            *[dict(summary.config).get(column) for column in columns],
            number(summary.t.mean),
            interval(summary.t.low, summary.t.high),
            interval(summary.bootstrap.low, summary.bootstrap.high),
            summary.n,
            summary.n_diverged,
        ]
        for rank, summary in enumerate(ranking, start=1)
    ]
    lines += table(header, rows) + [""]
    missing = sum(s.n_missing for s in ranking)
    if missing:
        lines += [f"{missing} member(s) finished without a value for `{metric}`: not counted.", ""]
    lines += selected_configuration(dataset, ranking, columns, manifest, confidence)
    lines += _best_vs_runner_up(ranking, columns, confidence)
    return lines


def _best_vs_runner_up(
    ranking: list[ConfigSummary], columns: list[str], confidence: float
) -> list[str]:
    usable = [s for s in ranking if s.n > 0]
    lines = ["### Best vs runner-up", ""]
    if len(usable) < 2:
        return lines + ["Fewer than two configs have a usable member: nothing to compare.", ""]
    best, runner_up = usable[0], usable[1]
    metric_name = METRIC_TITLES.get(best.metric, best.metric)
    split = "validation" if best.metric == SELECTION_METRIC else "train"
    comparison = compare_configs(best, runner_up, confidence)
    test = comparison.test
    lines += [
        f"On the ranking's own metric, {metric_name} (how clear-cut the choice was; no test "
        "metric here):",
        "",
        f"- best: {config_label(best.config, columns)} (mean {number(best.t.mean)}, n={best.n})",
        f"- runner-up: {config_label(runner_up.config, columns)} "
        f"(mean {number(runner_up.t.mean)}, n={runner_up.n})",
    ]
    if test.n < 2:
        lines += [
            f"- shared seeds (both finished): {test.n}; a paired test needs at least 2.",
            "",
        ]
        return lines
    lines += [
        f"- paired over {test.n} shared seeds: mean difference (best − runner-up) "
        f"{test.mean_difference:+.4f}, {confidence:.0%} paired t-interval "
        f"{interval(test.low, test.high)}; it covers training randomness (the seeds), with "
        f"the {split} examples fixed",
        f"- paired t-test: t = {test.t_statistic:.3f}, two-sided p = {p_value(test.p_value)}; "
        f"sign-flip permutation p = {p_value(comparison.sign_flip_p_value)}"
        # With n seeds an exact sign-flip test cannot go below 2 / 2^n: say so, so a large p
        # from few seeds reads as "too few seeds", not as "no difference".
        + (
            f" (the smallest attainable with {test.n} seeds is {2.0 / 2**test.n:.3g})"
            if test.n <= SIGN_FLIP_EXACT_UP_TO
            else ""
        ),
        "",
    ]
    return lines


def _diverged_section(
    rankings: dict[str, list[ConfigSummary]], all_rows: Sequence[dict[str, Any]] = ()
) -> list[str]:
    lines = ["## Diverged members", ""]
    rows = []
    listed = set()
    for dataset, ranking in rankings.items():
        columns = label_columns([s.config for s in ranking])
        for summary in ranking:
            label = config_label(summary.config, columns)
            for row in diverged_members(summary.rows):
                listed.add((row["group"], row["member"]))
                rows.append(
                    [dataset, label, row["group"], row["member"], row["seed"], row["diverged_step"]]
                )
    # members of a halving or PBT group its search did not select are in no ranking
    for row in diverged_members(all_rows):
        if (row["group"], row["member"]) not in listed:
            label = f"{row.get('search')} member, not ranked"
            rows.append(
                [row.get("dataset"), label, row["group"], row["member"], row["seed"],
                 row["diverged_step"]]
            )  # fmt: skip
    if not rows:
        return lines + ["No member diverged.", ""]
    lines.append(
        f"{len(rows)} member(s) turned non-finite and were frozen; "
        "they are excluded from every mean above."
    )
    lines.append("")
    header = ["dataset", "config", "group", "member", "seed", "diverged at step"]
    return lines + table(header, rows) + [""]


def _figures_section(run: Run, figure_paths: Sequence[Path]) -> list[str]:
    if not figure_paths:
        return []
    lines = ["## Figures", ""]
    for path in figure_paths:
        relative = path.relative_to(run.path).as_posix()
        title = path.stem.replace("_", " ")
        lines += [f"- [{title}]({relative})", "", f"  ![{title}]({relative})", ""]
    return lines
