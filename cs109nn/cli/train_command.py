"""``cs109nn train``: the lecture's logistic regression on a CS109 CSV, in one command."""

from __future__ import annotations

import argparse
import json
import math

from cs109nn.data import DataFormatError, load_cs109_csv
from cs109nn.lecture.fitting import accuracy, fit


def _positive(kind: type):
    """An argparse type: a finite number of ``kind`` above zero (argparse prints the error)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value

    return parse


def finite_or_null(summary: dict) -> dict:
    """The summary with every non-finite number as None (JSON null), and their names listed
    under ``non_finite``: JSON has no NaN or Infinity."""
    out, bad = {}, []
    for key, value in summary.items():
        if isinstance(value, dict):
            value = finite_or_null(value)
            bad += [f"{key}.{name}" for name in value.pop("non_finite", [])]
        elif isinstance(value, float) and not math.isfinite(value):
            value, bad = None, [*bad, key]
        out[key] = value
    return {**out, "non_finite": bad} if bad else out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train the lecture's logistic regression on CS109 CSV files",
        description="Fit P(Y=1|x) = sigma(theta^T x) by the slides' gradient ascent or by "
        "Newton's method (the exact LL maximum), then report LL and accuracy.",
    )
    parser.add_argument(
        "--train", required=True, help="training CSV (header row, last column Label)"
    )
    parser.add_argument("--test", help="test CSV with the same columns")
    parser.add_argument("--method", choices=("ascent", "newton"), default="ascent")
    parser.add_argument(
        "--lr", type=_positive(float), default=0.007, help="eta > 0 for gradient ascent"
    )
    parser.add_argument(
        "--steps", type=_positive(int), default=20_000, help="gradient ascent steps (>= 1)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    X, y, names = load_cs109_csv(args.train)
    result = fit(X, y, args.method, args.lr, args.steps)
    theta = result.theta
    summary = {"train_ll": result.train_ll, "outcome": result.outcome, **result.details}
    summary.update(
        method=args.method,
        train=str(args.train),
        n_train=len(y),
        train_accuracy=accuracy(theta, X, y),
    )
    if args.test:
        X_test, y_test, test_names = load_cs109_csv(args.test)
        if test_names != names:
            raise DataFormatError(
                f"{args.test}: columns {list(test_names)} differ from {args.train}'s {list(names)}"
            )
        summary.update(
            test=str(args.test), n_test=len(y_test), test_accuracy=accuracy(theta, X_test, y_test)
        )
    summary["theta"] = dict(zip(("intercept", *names), map(float, theta), strict=True))
    if args.json:
        print(json.dumps(finite_or_null(summary), indent=2, allow_nan=False))
        return 0
    print(f"method        {summary['method']}  ({summary['outcome']})")
    print(f"train LL      {summary['train_ll']:.6f}  on {summary['n_train']} examples")
    print(f"train acc     {summary['train_accuracy']:.4f}")
    if args.test:
        print(f"test acc      {summary['test_accuracy']:.4f}  on {summary['n_test']} examples")
    return 0
