"""Benchmark: architectures as a member axis -- a width (or depth) grid in one compiled group,
against one group per architecture, end to end through ``run_sweep``.

A width sweep as the issue states it: hidden widths 1, 2, 4, ..., 64 x 8 seeds x 6 learning
rates, a one-hidden-layer ReLU MLP (``softmax-mlp``: K = 2 on spirals, 10 on digits), full-batch
momentum SGD, ``--steps`` steps (default 1,000) evaluated every 100. Variants, each a fresh
``run_sweep`` into a fresh folder (plan, data, model build, compile, train, results written; no
report), interleaved round by round in this one process:

- masked, one group      ``models=softmax-mlp:64:relu``, ``width=1,2,...,64``: 336 members in
                         one program, each computing only its own width (the FLOPs of 64 each)
- a group per width      ``models=softmax-mlp:1:relu,...,softmax-mlp:64:relu``: 7 programs
- masked, two buckets    widths 1-8 masked inside ``softmax-mlp:8`` and 16-64 inside
                         ``softmax-mlp:64`` (two sweeps): what a planner splitting a width set
                         by size would pay
- depth (``--depth``)    depths 1, 2, 3 at width 16: ``softmax-mlp:16x16x16:relu`` with
                         ``depth=1,2,3`` against the three models as groups

Compiles are counted from jax's own compile log (the runner's program is ``train_members``), as
tests/conftest.py counts them. Wall is the whole ``run_sweep``; best and median over rounds.

    python experiments/benchmarks/widths.py                       # spirals, ~3-5 min
    python experiments/benchmarks/widths.py --dataset digits --steps 200
    python experiments/benchmarks/widths.py --depth --quick
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIDTHS = (1, 2, 4, 8, 16, 32, 64)
LEARNING_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 steps, 1 round")
    parser.add_argument("--dataset", default="spirals")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="default 1000 (quick: 200)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 2; quick 1)")
    parser.add_argument("--depth", action="store_true", help="the depth grid instead")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS/OpenMP threads")
    parser.add_argument("--cpu-devices", type=int, default=os.cpu_count(), help="JAX devices")
    args = parser.parse_args()
    args.steps = args.steps or (200 if args.quick else 1000)
    args.repeats = args.repeats or (1 if args.quick else 2)
    return args


def main() -> None:
    args = parse_args()
    common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)

    import jax

    from cs109nn.sweep import SweepSpec, run_sweep

    log = common.CompileLog()
    logger = logging.getLogger("jax")
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    base = dict(
        datasets=(args.dataset,),
        optimizers=("momentum",),
        steps=(args.steps,),
        seeds=tuple(range(args.seeds)),
        learning_rate=LEARNING_RATES,
        momentum=(0.9,),
        eval_every=min(100, args.steps),
    )
    mlp = lambda widths: f"softmax-mlp:{'x'.join(map(str, widths))}:relu"  # noqa: E731

    if args.depth:
        variants = {
            "masked, one group (depth 1, 2, 3)": [
                dict(models=(mlp((16, 16, 16)),), depth=(1, 2, 3))
            ],
            "a group per depth": [dict(models=tuple(mlp((16,) * d) for d in (1, 2, 3)))],
        }
    else:
        variants = {
            "masked, one group": [dict(models=(mlp((64,)),), width=WIDTHS)],
            "a group per width": [dict(models=tuple(mlp((w,)) for w in WIDTHS))],
            "masked, two buckets (1-8, 16-64)": [
                dict(models=(mlp((8,)),), width=WIDTHS[:4]),
                dict(models=(mlp((64,)),), width=WIDTHS[4:]),
            ],
        }

    def run(sweeps: list[dict]) -> tuple[float, int, int]:
        before = len(log.names)
        start = time.perf_counter()
        members = 0
        with jax.log_compiles(True), tempfile.TemporaryDirectory() as out:
            for i, fields in enumerate(sweeps):
                spec = SweepSpec(name="widths", **base, **fields)
                run_sweep(spec, os.path.join(out, str(i)))
                width = len(fields.get("width", ())) or 1
                depth = len(fields.get("depth", ())) or 1
                members += len(spec.models) * width * depth * args.seeds * len(LEARNING_RATES)
        wall = time.perf_counter() - start
        return wall, common.training_programs(log.names[before:]), members

    print(
        f"widths: {'depth' if args.depth else 'width'} grid on {args.dataset}, {args.seeds} seeds "
        f"x {len(LEARNING_RATES)} learning rates, momentum SGD, {args.steps} full-batch steps"
    )
    print(f"jax {jax.__version__}, devices {jax.devices()}; {common.engine_source(REPO)}")
    print(common.machine_load())
    rounds: dict[str, list[tuple]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, sweeps in variants.items():
            rounds[name].append(run(sweeps))
    print(common.machine_load())
    print()
    header = (
        f"{'variant':36s} {'members':>7s} {'compiles':>8s} {'wall s (median)':>15s} {'best':>6s}"
    )
    print(header)
    print("-" * len(header))
    for name, results in rounds.items():
        walls = [r[0] for r in results]
        compiles = ",".join(map(str, sorted({r[1] for r in results})))
        print(
            f"{name:36s} {results[0][2]:7d} {compiles:>8s} {statistics.median(walls):15.2f} "
            f"{min(walls):6.2f}"
        )
    names = list(rounds)
    one = statistics.median(r[0] for r in rounds[names[0]])
    many = statistics.median(r[0] for r in rounds[names[1]])
    print(f"{names[1]} / {names[0]}: {many / one:.2f}x the wall time")


if __name__ == "__main__":
    main()
