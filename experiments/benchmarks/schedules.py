"""Benchmark: a learning-rate schedule grid compiles once, whatever the number of its values.

MLP 32x32 ReLU on spirals (``--model``, ``--dataset``), ``--seeds`` seeds, full batch, momentum
SGD, 1,000 steps evaluated every 100. The schedule's kind is static (``TrainSetup.schedule``),
its numbers traced (``cs109nn.train.schedules``). Each variant builds a fresh runner (so that
its compile is counted and timed) and trains its members once per round:

- constant, 1 value       today's program: one learning rate
- <kind>, 1 value         warmup_cosine / exponential / step with one value of its numbers
- <kind>, 12 values       the same kind over 12 values (4 x 3 grid of its two numbers) in one
                          group: the members of every value in one program
- one group per value     the 12 warmup-cosine values, each as its own runner: what a design
                          with static schedule numbers would pay (12 compiles)

Compiles are counted independently of the engine, from jax's own compile log
(``jax.log_compiles``; the runner's program is ``train_members``), as tests/conftest.py counts
them. Wall time is compile + run + gathering to numpy; rates (member-steps/s) use the engine's
own ``run_seconds``. Rounds are interleaved (A B C ... A B C ...), and the best and median of
each are printed, because this machine is shared.

    python experiments/benchmarks/schedules.py              # ~6 min on 2 quiet cores
    python experiments/benchmarks/schedules.py --quick      # 200 steps, 1 round, ~1.5 min
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Each kind's two numbers, 4 x 3 values: 12 schedules a group.
GRIDS = {
    "warmup_cosine": {
        "warmup_fraction": (0.0, 0.05, 0.1, 0.2),
        "final_fraction": (0.0, 0.1, 0.5),
    },
    "exponential": {"decay_rate": (0.05, 0.1, 0.3, 0.5), "decay_interval": (1.0, 0.5, 0.25)},
    "step": {"decay_rate": (0.1, 0.2, 0.5, 0.8), "decay_interval": (0.5, 0.25, 0.1)},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 steps, 1 round")
    parser.add_argument("--model", default="mlp:32x32:relu")
    parser.add_argument("--dataset", default="spirals")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="default 1000 (quick: 200)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 2; quick 1)")
    parser.add_argument("--learning-rate", type=float, default=0.3, help="the peak, η")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS/OpenMP threads")
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=os.cpu_count(),
        help="JAX CPU devices (JAX_NUM_CPU_DEVICES; default one per core, as cs109nn sweep)",
    )
    args = parser.parse_args()
    args.steps = args.steps or (200 if args.quick else 1000)
    args.repeats = args.repeats or (1 if args.quick else 2)
    return args


def grid_values(kind: str, count: int) -> list[dict[str, float]]:
    """The first ``count`` points of ``GRIDS[kind]`` (its two numbers' product)."""
    names = list(GRIDS[kind])
    points = itertools.product(*(GRIDS[kind][name] for name in names))
    return [dict(zip(names, point, strict=True)) for point in points][:count]


def main() -> None:
    args = parse_args()
    common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)

    import jax
    import numpy as np

    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import make_runner, member_keys

    data = load_dataset(args.dataset, val_fraction=0.2)
    model = model_from_spec(args.model, num_classes=data.num_classes)
    eval_every = max(1, args.steps // 10)
    seeds = np.arange(args.seeds)
    log = common.CompileLog()
    logger = logging.getLogger("jax")
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)

    def members(values: list[dict[str, float]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """seeds x values: keys [M], hyperparameters name -> [M], seeds varying fastest."""
        hparams = {"learning_rate": np.full(len(values) * len(seeds), args.learning_rate)}
        for name in values[0]:
            hparams[name] = np.repeat([value[name] for value in values], len(seeds))
        return np.tile(seeds, len(values)), hparams

    def variant(kind: str, values: list[list[dict[str, float]]]):
        """A round: a fresh runner per entry of ``values`` (one group each), each trained once.
        Returns (wall s, compile s, run s, compiles, member-steps)."""

        def run() -> tuple[float, float, float, int, int]:
            before = len(log.names)
            compile_s = run_s = 0.0
            work = 0
            start = time.perf_counter()
            with jax.log_compiles(True):
                for group in values:
                    runner = make_runner(
                        model,
                        data,
                        optimizer="momentum",
                        schedule=kind,
                        steps=args.steps,
                        eval_every=eval_every,
                    )
                    keys, hparams = members(group) if group else members([{}])
                    result = runner(member_keys(keys), hparams)
                    compile_s += result.compile_seconds
                    run_s += result.run_seconds
                    work += len(keys) * args.steps
            wall = time.perf_counter() - start
            compiles = common.training_programs(log.names[before:])
            return wall, compile_s, run_s, compiles, work

        return run

    variants = {"constant, 1 value": variant("constant", [[]])}
    for kind in GRIDS:
        variants[f"{kind}, 1 value"] = variant(kind, [grid_values(kind, 1)])
        variants[f"{kind}, 12 values, one group"] = variant(kind, [grid_values(kind, 12)])
    variants["warmup_cosine, 12 values, one group per value"] = variant(
        "warmup_cosine", [[value] for value in grid_values("warmup_cosine", 12)]
    )

    print(
        f"schedules: {args.model} on {args.dataset} (n_train {len(data.y_train)}), "
        f"{args.seeds} seeds x values, momentum SGD, {args.steps} full-batch steps, "
        f"eval every {eval_every}, float32"
    )
    print(f"jax {jax.__version__}, devices {jax.devices()}; {common.engine_source(REPO)}")
    print(common.machine_load())
    rounds: dict[str, list[tuple]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            rounds[name].append(run())
    print(common.machine_load())
    print()
    header = (
        f"{'variant':46s} {'members':>7s} {'compiles':>8s} {'wall s':>7s} {'compile s':>9s} "
        f"{'run s':>6s} {'k member-steps/s':>16s}"
    )
    print(header)
    print("-" * len(header))
    for name, results in rounds.items():
        wall = [r[0] for r in results]
        compile_s = statistics.median(r[1] for r in results)
        run_s = statistics.median(r[2] for r in results)
        compiles = sorted({r[3] for r in results})
        work = results[0][4]
        print(
            f"{name:46s} {work // args.steps:7d} {','.join(map(str, compiles)):>8s} "
            f"{statistics.median(wall):7.2f} {compile_s:9.2f} {run_s:6.2f} "
            f"{work / run_s / 1e3:16.1f}"
        )
    print(f"(medians over {args.repeats} rounds; best wall s: ", end="")
    print(", ".join(f"{min(r[0] for r in rs):.2f}" for rs in rounds.values()) + ")")
    one = statistics.median(r[0] for r in rounds["warmup_cosine, 12 values, one group"])
    many = statistics.median(r[0] for r in rounds["warmup_cosine, 12 values, one group per value"])
    print(
        f"12 warmup-cosine values: one group {one:.2f} s vs a group per value {many:.2f} s "
        f"({many / one:.1f}x)"
    )


if __name__ == "__main__":
    main()
