"""``cs109nn train``: the lecture's logistic regression on a CS109 CSV, in one command."""

from __future__ import annotations

import argparse
import json

from cs109nn.data import load_cs109_csv
from cs109nn.lecture.fitting import accuracy, fit


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
    parser.add_argument("--lr", type=float, default=0.007, help="eta for gradient ascent")
    parser.add_argument("--steps", type=int, default=20_000, help="gradient ascent steps")
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
            raise SystemExit(f"{args.test}: columns differ from {args.train}")
        summary.update(
            test=str(args.test), n_test=len(y_test), test_accuracy=accuracy(theta, X_test, y_test)
        )
    summary["theta"] = dict(zip(("intercept", *names), map(float, theta), strict=True))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"method        {summary['method']}  ({summary['outcome']})")
    print(f"train LL      {summary['train_ll']:.6f}  on {summary['n_train']} examples")
    print(f"train acc     {summary['train_accuracy']:.4f}")
    if args.test:
        print(f"test acc      {summary['test_accuracy']:.4f}  on {summary['n_test']} examples")
    return 0
