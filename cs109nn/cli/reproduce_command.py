"""``cs109nn reproduce RUN_DIR``: rerun a run folder's config and say whether it agrees."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="rerun a run folder's config into a new folder and compare, metric by metric",
        description="Rerun the config in RUN_DIR/manifest.json into a new folder and compare "
        "results.csv member by member: exactly (the same bits) when the platform is the same "
        "(versions, numerics flags, backend, devices, processes, CPU), else within 1e-5 "
        "absolute on final LL and accuracy; config columns and divergence always exactly; "
        "timings never. Exit code 1 on any mismatch.",
    )
    parser.add_argument("run_dir", help="a run folder written by cs109nn sweep")
    parser.add_argument("--out", help="folder of the reproduction (default: RUN_DIR-reproduce)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from cs109nn.cli.sweep_command import print_table, set_cpu_devices
    from cs109nn.sweep import RunFolderError, SpecError, from_config, run_sweep
    from cs109nn.sweep.results import CROSS_PLATFORM_TOLERANCE, compare_results
    from cs109nn.sweep.run_folder import NUMERICS_FIELDS, read_manifest, read_results

    run_dir = Path(args.run_dir)
    manifest = read_manifest(run_dir)
    if manifest is None:
        print(f"cs109nn reproduce: error: {run_dir} holds no manifest.json", file=sys.stderr)
        return 2
    if manifest.get("finished") is None:
        print(f"note: {run_dir} is unfinished; its missing members will count as mismatches")
    original = manifest.get("environment", {})
    if original.get("backend") == "cpu" and original.get("process_count", 1) == 1:
        # the same platform includes the device count: split the CPU as the original run did
        set_cpu_devices(int(original["device_count"]))
    out = Path(args.out) if args.out else run_dir.with_name(run_dir.name + "-reproduce")
    if out.resolve() == run_dir.resolve():
        print("cs109nn reproduce: error: --out must differ from RUN_DIR", file=sys.stderr)
        return 2
    try:
        spec = from_config(manifest["config"])
        run_sweep(spec, out, fresh=True)
    except (SpecError, RunFolderError) as error:
        print(f"cs109nn reproduce: error: {error}", file=sys.stderr)
        return 2

    original_env = manifest["environment"]
    new_env = read_manifest(out)["environment"]
    differences = [key for key in NUMERICS_FIELDS if original_env.get(key) != new_env.get(key)]
    tolerance = CROSS_PLATFORM_TOLERANCE if differences else 0.0
    if differences:
        print(f"platform differs in: {', '.join(differences)}")
        print(f"comparing final LL and accuracy within {tolerance:g} (absolute)")
    else:
        print("same platform: comparing exactly (equal bits)")
    if original_env.get("git_commit") != new_env.get("git_commit"):
        print(
            f"note: code at git commit {new_env.get('git_commit')}, "
            f"the run was made at {original_env.get('git_commit')}"
        )

    comparison = compare_results(read_results(run_dir), read_results(out), tolerance=tolerance)
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
    print(f"reproduction: {out}")
    if comparison.matches:
        print("full match")
        return 0
    print("MISMATCH")
    return 1
