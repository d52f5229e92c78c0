"""``cs109nn sweep EXPERIMENT.py``: train a sweep into a run folder, resuming when rerun."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train a sweep (seeds x hyperparameters x architectures) into a run folder",
        description="Train every group of an experiment's sweep (one compile per group, all "
        "its members in one program) into a run folder. Rerunning the same command resumes "
        "after a crash; a different config is refused unless --fresh.",
    )
    parser.add_argument("experiment", help="experiment file whose get_config() returns a spec")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a spec field, e.g. --set seeds=0,1,2 --set steps=200 (repeatable)",
    )
    parser.add_argument(
        "--out", help="run folder (default: runs/<name>-<first 8 hex of the config hash>)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start over, deleting the run in the folder"
    )
    parser.add_argument("--no-report", action="store_true", help="skip report.md and figures")
    parser.add_argument(
        "--cpu-devices",
        type=int,
        metavar="N",
        help="on a CPU, split it into N JAX devices to shard members over (default: one per "
        "core, unless JAX_NUM_CPU_DEVICES or XLA_FLAGS already set a count)",
    )
    multi = parser.add_argument_group(
        "many processes",
        "join a jax.distributed run (or set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, "
        "JAX_PROCESS_ID); every process runs the same command, process 0 writes the folder",
    )
    multi.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
    multi.add_argument("--num-processes", type=int)
    multi.add_argument("--process-id", type=int)
    parser.set_defaults(run=run)


def set_cpu_devices(count: int | None) -> None:
    """One JAX CPU device per core by default: XLA:CPU runs one device's small ops on about
    one core, so members sharded over per-core devices train up to cores-times faster."""
    configured = "JAX_NUM_CPU_DEVICES" in os.environ or "device_count" in os.environ.get(
        "XLA_FLAGS", ""
    )
    if count is None and configured:
        return
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", count or os.cpu_count() or 1)
    except RuntimeError:
        # JAX already ran something in this process (e.g. `main` called from Python): its
        # devices are fixed, and the sweep uses them as they are.
        if count is not None and count != jax.device_count():
            raise RuntimeError(
                f"cannot split the CPU into {count} devices: JAX already started with "
                f"{jax.device_count()} in this process"
            ) from None


def run(args: argparse.Namespace) -> int:
    set_cpu_devices(args.cpu_devices)
    # jax.distributed must start before any JAX computation, so before the heavier imports
    from cs109nn.sweep.distributed import is_writer, maybe_initialize_distributed

    maybe_initialize_distributed(args.coordinator, args.num_processes, args.process_id)

    from cs109nn.sweep import SpecError, apply_overrides, config_hash, run_sweep
    from cs109nn.sweep.runner import RunFolderError
    from cs109nn.sweep.spec import load_experiment

    try:
        spec = apply_overrides(load_experiment(args.experiment), args.overrides)
    except SpecError as error:
        print(f"cs109nn sweep: error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / f"{spec.name}-{config_hash(spec)[:8]}"
    writer = is_writer()
    bar = ProgressBar() if writer else None
    try:
        run_dir = run_sweep(spec, out, fresh=args.fresh, progress=bar)
    except (SpecError, RunFolderError) as error:
        if bar is not None:
            bar.close()
        print(f"cs109nn sweep: error: {error}", file=sys.stderr)
        return 2
    if not writer:
        return 0
    print_summary(run_dir)
    if not args.no_report:
        from cs109nn.report import write_report

        print(f"report: {write_report(run_dir)}")
    print(f"run folder: {run_dir}")
    return 0


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


def print_summary(run_dir: Path, *, max_diverged: int = 10) -> None:
    """The best hyperparameters of each group (mean over seeds) and the diverged members."""
    from cs109nn.sweep.results import best_configs, diverged_members
    from cs109nn.sweep.run_folder import read_results
    from cs109nn.train import HPARAM_NAMES

    header, rows = read_results(run_dir)
    best = best_configs(header, rows, HPARAM_NAMES)
    if not best:
        print("no results")
        return
    metric = best[0].metric.removeprefix("final_").replace("_", " ")
    swept = list(best[0].hparams)
    print(f"\nbest per group, by mean final {metric} over seeds:")
    table = [["group", metric, metric.replace("acc", "LL"), "seeds", "diverged", *swept]]
    for score in best:
        table.append(
            [
                score.group,
                f"{score.mean:.4f}",
                f"{score.mean_ll:.4f}",
                str(score.seeds),
                str(score.diverged),
                *score.hparams.values(),
            ]
        )
    print_table(table)

    diverged = diverged_members(header, rows, HPARAM_NAMES)
    print(f"\ndiverged members: {len(diverged)} of {len(rows)}")
    for member in diverged[:max_diverged]:
        hparams = ", ".join(f"{name}={value}" for name, value in member.hparams.items())
        print(
            f"  {member.group} member {member.member} (seed {member.seed}"
            + (f", {hparams}" if hparams else "")
            + f") at step {member.step}"
        )
    if len(diverged) > max_diverged:
        print(f"  ... and {len(diverged) - max_diverged} more (results.csv, column diverged)")


def print_table(lines: list[list[str]]) -> None:
    """Rows of cells as left-aligned columns, indented; the first row is the header."""
    widths = [max(len(line[k]) for line in lines) for k in range(len(lines[0]))]
    for line in lines:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
