"""``cs109nn report RUN_DIR``: regenerate a run folder's report.md and figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="regenerate report.md and figures of a run folder",
        description=(
            "Read RUN_DIR (manifest.json, results.csv, curves/) and write RUN_DIR/report.md "
            "and RUN_DIR/figures/*.png: configs ranked by mean final validation accuracy with "
            "confidence intervals across seeds, the selected config's test accuracy with an "
            "interval over seeds and one over test examples, best vs runner-up paired test, "
            "diverged members."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a sweep's run folder")
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence level of the intervals (default: 0.95)",
    )
    parser.add_argument(
        "--no-figures", action="store_true", help="write report.md only, no PNG figures"
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path; exit status 2 when RUN_DIR is not a folder or one
    of its files is not as the sweep writes it."""
    if not args.run_dir.is_dir():
        print(f"cs109nn report: error: no run folder at {args.run_dir}", file=sys.stderr)
        return 2
    if not 0.0 < args.confidence < 1.0:
        print(
            f"cs109nn report: error: --confidence must lie in (0, 1), got {args.confidence}",
            file=sys.stderr,
        )
        return 2
    # Imported here so that `cs109nn --help` does not pay for numpy and matplotlib.
    from cs109nn.report import write_report
    from cs109nn.run_folder_schema import RunFolderFormatError

    try:
        path = write_report(args.run_dir, confidence=args.confidence, figures=not args.no_figures)
    except RunFolderFormatError as error:
        print(f"cs109nn report: error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0
