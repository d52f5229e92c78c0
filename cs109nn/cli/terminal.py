"""What the commands show on a terminal: a progress bar over a sweep's member-steps, tables,
the summary of a finished sweep (the report's own ranking, printed)."""

from __future__ import annotations

import sys
from pathlib import Path


class ProgressBar:
    """A tqdm bar over the sweep's member-steps (ETA from this session's rate), with a line
    per finished group; reads the runner's ``SweepEvent``s."""

    def __init__(self) -> None:
        self.bar = None
        self.work: dict[str, int] = {}

    def __call__(self, event) -> None:
        from tqdm import tqdm

        plan = event.plan
        if event.kind == "planned":
            self.work = {g.group_id: len(plan.members) * g.steps for g in plan.groups}
            groups, members = len(plan.groups), len(plan.members)
            print(
                f"sweep {event.run_dir}: {groups} groups x {members} members = "
                f"{plan.num_models} models"
                + (f"; resuming, {len(event.done)} groups already done" if event.done else ""),
                file=sys.stderr,
            )
            self.bar = tqdm(
                total=sum(self.work.values()),
                initial=sum(self.work[g] for g in event.done),
                unit=" member-steps",
                unit_scale=True,
                dynamic_ncols=True,
            )
        elif event.kind == "note":
            self.bar.write(event.message, file=sys.stderr)
        elif event.kind == "group_started":
            self.bar.set_description(f"group {event.group.index + 1}/{len(plan.groups)}")
        elif event.kind == "group_finished":
            self.bar.update(self.work[event.group.group_id])
            self.bar.write(
                f"  {event.group.group_id}: compile {event.compile_seconds:.1f} s, "
                f"total {event.wall_seconds:.1f} s, diverged {event.diverged}/"
                f"{len(plan.members)}",
                file=sys.stderr,
            )
        elif event.kind == "finished":
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def print_table(lines: list[list[str]]) -> None:
    """Rows of cells as left-aligned columns, indented; the first row is the header."""
    widths = [max(len(line[k]) for line in lines) for k in range(len(lines[0]))]
    for line in lines:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def print_summary(run_dir: Path, *, max_diverged: int = 10) -> None:
    """The best hyperparameters of each group (the report's ranking: by validation, see
    ``selection_metric``), each with its test accuracy as a reported, not selecting, column;
    and the diverged members."""
    from cs109nn.hyperparameters import HPARAM_NAMES
    from cs109nn.report.configs import config_key, display_value, varying_columns
    from cs109nn.report.drawing import METRIC_TITLES
    from cs109nn.report.ranking import SELECTION_METRIC, best_by_group, diverged_members
    from cs109nn.report.selected import TEST_ACCURACY, reported_interval
    from cs109nn.run_folder_schema import read_typed_results

    columns, rows = read_typed_results(run_dir)
    best = best_by_group(rows, columns)
    if not best:
        print("no results")
        return
    swept = varying_columns(config_key(row, HPARAM_NAMES) for row in rows)
    # The metric comes from the ranking (selection_metric, per data set): validation accuracy,
    # or train accuracy for a data set without a validation split.
    metrics = list(dict.fromkeys(summary.metric for summary in best.values()))
    named = " / ".join(METRIC_TITLES.get(metric, metric) for metric in metrics)
    print(f"\nbest per group, chosen by mean {named}")
    print("  over non-diverged seeds (ties: mean log-likelihood of the same split)")
    if any(metric != SELECTION_METRIC for metric in metrics):
        print("  (train accuracy where a data set has no validation split: not a selection for")
        print("  generalisation)")
    print("  test_acc (reported): the chosen config's mean test accuracy, never used to choose")
    header = ["group", "chosen by", "mean", "mean LL", "seeds", "diverged", *swept]
    table = [[*header, "test_acc (reported)"]]
    for group, summary in best.items():
        config = dict(summary.config)
        test = reported_interval(summary, TEST_ACCURACY)
        table.append(
            [
                group,
                summary.metric.removeprefix("final_"),
                f"{summary.mean:.4f}",
                f"{summary.mean_ll:.4f}",
                str(summary.n),
                str(summary.n_diverged),
                *(display_value(config[name]) for name in swept),
                f"{test.mean:.4f}" if test.n else "n/a",
            ]
        )
    print_table(table)

    diverged = diverged_members(rows)
    print(f"\ndiverged members: {len(diverged)} of {len(rows)}")
    for row in diverged[:max_diverged]:
        hparams = ", ".join(f"{name}={display_value(row[name])}" for name in swept)
        print(
            f"  {row['group']} member {row['member']} (seed {row['seed']}"
            + (f", {hparams}" if hparams else "")
            + f") at step {row['diverged_step']}"
        )
    if len(diverged) > max_diverged:
        print(f"  ... and {len(diverged) - max_diverged} more (results.csv, column diverged)")
