"""Benchmark: the large groups of issue 12's "done when", within the default memory budget.

Each group runs once through ``make_runner`` with no chunk size given, so the engine chooses
its chunk (speed rule, then the memory planner's budget: ``cs109nn.train.memory``); printed per
group: members, steps, the chunk chosen, member-steps/s (the program's own run time), compile
time, and memory per device -- the planner's estimate beside the compiled program's own figure
(``memory_analysis()``) and the budget -- plus the host's peak resident memory after the group.

- logistic regressions   P1's problem: CS109 netflix (``--data-dir``), 65,536 members, full
                         batch, 1,000 steps (default), 2 evaluations
- MLPs                   P2's problem: ``mlp:32:sigmoid`` on digits >= 5, 4,096 members, full
                         batch, per-example gradient statistics at each evaluation
- conv nets              ``convnet`` on digits (10 classes), 512 members, batch 64, per-example
                         gradient statistics at each evaluation

    python experiments/benchmarks/large_groups.py                 # all three (~10 min)
    python experiments/benchmarks/large_groups.py --only logreg,mlp --quick
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data", "cs109"))
    parser.add_argument("--only", default="logreg,mlp,conv", help="comma-separated groups")
    parser.add_argument("--quick", action="store_true", help="an eighth of the members")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--cpu-devices", type=int, default=os.cpu_count())
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)
    print("machine before measuring:\n" + common.machine_load())

    import jax
    import numpy as np

    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import make_runner, member_keys
    from cs109nn.train.memory import format_bytes

    scale = 8 if args.quick else 1
    groups = {
        "logreg": dict(
            data=lambda: load_dataset("cs109:netflix", data_dir=args.data_dir),
            model="logreg",
            members=65_536 // scale,
            options=dict(steps=1000, eval_every=500),
        ),
        "mlp": dict(
            data=lambda: load_dataset("digits-binary"),
            model="mlp:32:sigmoid",
            members=4_096 // scale,
            options=dict(steps=100, eval_every=50, gradient_statistics=True),
        ),
        "conv": dict(
            data=lambda: load_dataset("digits"),
            model="convnet",
            members=512 // scale,
            options=dict(steps=20, eval_every=20, batch_size=64, gradient_statistics=True),
        ),
    }
    devices = jax.devices()
    print(f"jax {jax.__version__}, {len(devices)} {devices[0].platform} device(s)\n")
    header = (
        f"{'group':8s} {'members':>8s} {'steps':>6s} {'chunk':>6s} {'member-steps/s':>15s} "
        f"{'compile s':>9s} {'estimate':>10s} {'program':>10s} {'est/prog':>8s} "
        f"{'budget':>10s} {'host peak':>10s}"
    )
    print(header)
    for name in args.only.split(","):
        group = groups[name]
        data = group["data"]()
        model = model_from_spec(group["model"], num_classes=data.num_classes)
        runner = make_runner(model, data, **group["options"])
        members = group["members"]
        plan = runner.plan_memory(members)
        rates = np.float32([0.03, 0.1, 0.3, 1.0])
        hparams = {"learning_rate": np.tile(rates, members // len(rates))}
        result = runner(member_keys(np.arange(members) // len(rates)), hparams)
        steps = group["options"]["steps"]
        rate = members * steps / result.run_seconds
        peak = result.memory_peak_bytes
        host = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        ratio = f"{result.memory_estimate_bytes / peak:.2f}" if peak else "n/a"
        chunk = result.chunk or plan.chunk  # as run: halved where the program was over budget
        print(
            f"{name:8s} {members:8d} {steps:6d} {chunk:6d} {common.human(rate):>15s} "
            f"{result.compile_seconds:9.1f} {format_bytes(result.memory_estimate_bytes):>10s} "
            f"{format_bytes(peak) if peak else 'n/a':>10s} {ratio:>8s} "
            f"{format_bytes(result.memory_budget_bytes):>10s} {format_bytes(host):>10s}",
            flush=True,
        )
        finite = {k: bool(np.isfinite(v).all()) for k, v in result.final.items()}
        print(f"         diverged {int(result.diverged.sum())}/{members}; finite finals {finite}")
    print("\nmachine after measuring:\n" + common.machine_load())


if __name__ == "__main__":
    main()
