"""``cs109nn sweep EXPERIMENT.py``: train a sweep into a run folder, resuming when rerun."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cs109nn.cli.terminal import ProgressBar, print_summary


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

    from cs109nn.sweep import apply_overrides, config_hash, run_sweep
    from cs109nn.sweep.spec import load_experiment

    spec = apply_overrides(load_experiment(args.experiment), args.overrides)
    out = Path(args.out) if args.out else Path("runs") / f"{spec.name}-{config_hash(spec)[:8]}"
    writer = is_writer()
    bar = ProgressBar() if writer else None
    try:
        run_dir = run_sweep(spec, out, fresh=args.fresh, progress=bar)
    finally:
        if bar is not None:
            bar.close()  # before an error's line, so that the line is not inside the bar
    if not writer:
        return 0
    print_summary(run_dir)
    if not args.no_report:
        from cs109nn.report import write_report

        print(f"report: {write_report(run_dir)}")
    print(f"run folder: {run_dir}")
    return 0
