"""The ``cs109nn`` command: parses arguments and prints; every computation lives below it.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``.
An error the package raises on purpose (``cs109nn.errors``: a config, data or run-folder
error) is printed as one line, ``cs109nn <command>: error: ...``, with exit code 2 for a
config or usage error and 1 for data or a run; anything else is a bug and keeps its traceback.
``--debug`` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

# subcommand name -> module under cs109nn.cli; imported lazily so `cs109nn --help` is instant.
SUBCOMMANDS = {
    "train": "cs109nn.cli.train_command",
    "sweep": "cs109nn.cli.sweep_command",
    "reproduce": "cs109nn.cli.reproduce_command",
    "report": "cs109nn.cli.report_command",
}
DEBUG_HELP = "show the full traceback of any error"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cs109nn",
        description="CS109's logistic regression to deep learning, as pure JAX functions.",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    for subparser in subparsers.choices.values():  # `cs109nn sweep ... --debug` works too
        subparser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
        )
    return parser


def exit_code(error: BaseException) -> int | None:
    """2 for a config error, 1 for a data or run error, None for anything else (a bug)."""
    from cs109nn.errors import ConfigError, RunError

    if isinstance(error, ConfigError):
        return 2
    if isinstance(error, RunError):
        return 1
    # DataError lives in the lecture layer; if it was raised, its module is loaded.
    inputs = sys.modules.get("cs109nn.lecture.inputs")
    if inputs is not None and isinstance(error, inputs.DataError):
        return 1
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"cs109nn {args.command}"
    with warnings.catch_warnings():
        # a warning is one line too: no source line under it
        warnings.showwarning = lambda message, category, *rest, **kw: print(
            f"{prefix}: warning: {message}", file=sys.stderr
        )
        try:
            return int(args.run(args) or 0)
        except Exception as error:
            code = exit_code(error)
            if code is None or args.debug:
                raise
            text = " ".join(str(error).split())
            print(f"{prefix}: error: {text}", file=sys.stderr)
            return code


if __name__ == "__main__":
    sys.exit(main())
