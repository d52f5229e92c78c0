"""``cs109nn reproduce RUN_DIR``: rerun a run folder's config and say whether it agrees."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "rerun a run folder's config into a new folder and compare, metric by metric"
DESCRIPTION = (
    "Rerun the config in RUN_DIR/manifest.json into a new folder and compare results.csv "
    "member by member: exactly (the same bits) when the platform is the same (versions, "
    "numerics flags, backend, devices, processes, CPU), else within 1e-5 absolute on final LL "
    "and accuracy; config columns and divergence always exactly; timings never. Exit code 1 "
    "on any mismatch."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reproduce", help=HELP, description=DESCRIPTION)
    parser.add_argument("run_dir", help="a run folder written by cs109nn sweep")
    parser.add_argument("--out", help="folder of the reproduction (default: RUN_DIR-reproduce)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cs109nn.run_folder_schema import RunFolderFormatError, read_manifest

    run_dir = Path(args.run_dir)
    try:
        manifest = read_manifest(run_dir)
    except RunFolderFormatError as error:
        print(f"cs109nn reproduce: error: {error}", file=sys.stderr)
        return 2
    if manifest is None:
        print(f"cs109nn reproduce: error: {run_dir} holds no manifest.json", file=sys.stderr)
        return 2
    if manifest.get("finished") is None:
        print(f"note: {run_dir} is unfinished; its missing members will count as mismatches")

    from cs109nn.cli.sweep_command import set_cpu_devices
    from cs109nn.cli.terminal import print_table
    from cs109nn.sweep import RunFolderError, SpecError
    from cs109nn.sweep.results import reproduce, reproduction_cpu_devices

    devices = reproduction_cpu_devices(manifest)
    if devices is not None:
        set_cpu_devices(devices)  # before JAX starts: the same platform, the same devices
    try:
        found = reproduce(run_dir, args.out)
    except (SpecError, RunFolderError) as error:
        print(f"cs109nn reproduce: error: {error}", file=sys.stderr)
        return 2

    if found.platform_differences:
        print(f"platform differs in: {', '.join(found.platform_differences)}")
        print(f"comparing final LL and accuracy within {found.tolerance:g} (absolute)")
    else:
        print("same platform: comparing exactly (equal bits)")
    original_commit, new_commit = found.git_commits
    if original_commit != new_commit:
        print(f"note: code at git commit {new_commit}, the run was made at {original_commit}")

    comparison = found.comparison
    lines = [["column", "members", "mismatches", "max |diff|", "verdict"]]
    for column in comparison.columns:
        if column.mismatches:
            verdict = "MISMATCH"
        else:
            verdict = "exact" if column.tolerance == 0.0 else f"within {column.tolerance:g}"
        max_diff = "" if column.max_abs_diff is None else f"{column.max_abs_diff:.3g}"
        lines.append(
            [column.column, str(column.members), str(column.mismatches), max_diff, verdict]
        )
    print_table(lines)
    if comparison.missing:
        print(f"members missing from the reproduction: {len(comparison.missing)}")
    if comparison.extra:
        print(f"members only in the reproduction: {len(comparison.extra)}")
    print(f"reproduction: {found.out}")
    if comparison.matches:
        print("full match")
        return 0
    print("MISMATCH")
    return 1
