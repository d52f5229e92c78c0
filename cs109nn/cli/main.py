"""The ``cs109nn`` command: parses arguments and prints; every computation lives below it.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand name -> module under cs109nn.cli; imported lazily so `cs109nn --help` is instant.
SUBCOMMANDS = {
    "train": "cs109nn.cli.train_command",
    "sweep": "cs109nn.cli.sweep_command",
    "reproduce": "cs109nn.cli.reproduce_command",
    "report": "cs109nn.cli.report_command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cs109nn",
        description="CS109's logistic regression to deep learning, as pure JAX functions.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
