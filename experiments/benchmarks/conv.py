"""Benchmark: conv-net members vectorised (vmap) against lax.map over members and a solo loop.

On XLA:CPU, vmapping a convolution over members turns each member's kernel into one grouped
convolution, which measured far slower per member than the solo convolution (issue 12: 28x the
solo step for 8x the work). The engine therefore runs conv-net members one at a time inside
its one program (``choose_chunk_size`` returns 1 for a model whose forward pass convolves, on
a CPU): ``lax.map`` over members, each a plain convolution. Variants, interleaved in this one
process (the package's ``convnet:8x16`` on digits as images, Adam, minibatches of 64):

- engine, chunk auto     ``make_runner(convnet)``: the chunk the engine chooses (1 on a CPU)
- engine, vmap all       ``chunk_size=M``: every member of a device vectorised (the old way)
- solo loop              one compiled single-member runner on one device, called M times
                         (compile apart; on all devices its one member would be padded)

Rates are member-steps per second of the programs' own run time (compiles apart).

    python experiments/benchmarks/conv.py               # M = 8, 100 steps, ~2-3 min
    python experiments/benchmarks/conv.py --members 16 --steps 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64, help="0: full batch")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default="convnet:8x16")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--cpu-devices", type=int, default=os.cpu_count())
    args = parser.parse_args()
    common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)

    import jax
    import numpy as np

    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import make_runner, member_keys

    data = load_dataset("digits", val_fraction=0.2)
    model = model_from_spec(args.model, num_classes=data.num_classes)
    batch = args.batch_size or None
    options = dict(optimizer="adam", steps=args.steps, eval_every=args.steps, batch_size=batch)
    seeds = list(range(args.members))
    hparams = {"learning_rate": np.full(args.members, 0.01)}
    per_device = -(-args.members // jax.device_count())
    runners = {
        "engine, chunk auto": make_runner(model, data, **options),
        "engine, vmap all": make_runner(model, data, chunk_size=per_device, **options),
    }
    # a solo run on one device: on all of them its one member would be padded to one each
    solo = make_runner(model, data, devices=jax.devices()[:1], **options)

    def engine(runner):
        def run():
            result = runner(member_keys(seeds), hparams)
            return result.run_seconds, result.compile_seconds, result

        return run

    def loop():
        run_s = compile_s = 0.0
        results = []
        for seed in seeds:
            result = solo(member_keys([seed]), {"learning_rate": [0.01]})
            run_s += result.run_seconds
            compile_s += result.compile_seconds
            results.append(result)
        return run_s, compile_s, results

    variants = {name: engine(runner) for name, runner in runners.items()}
    variants["solo loop"] = loop
    print(
        f"conv: {args.model} on digits (n_train {len(data.y_train)}, 8x8x1), {args.members} "
        f"members, Adam, batch {batch or 'full'}, {args.steps} steps"
    )
    print(f"jax {jax.__version__}, devices {jax.devices()}; {common.engine_source(REPO)}")
    print(common.machine_load())
    rounds: dict[str, list] = {name: [] for name in variants}
    outcome = {}
    for _ in range(args.repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run_s, compile_s, result = run()
            rounds[name].append((run_s, compile_s, time.perf_counter() - start))
            outcome[name] = result
    print(common.machine_load())
    work = args.members * args.steps
    header = f"{'variant':22s} {'run s':>7s} {'compile s':>9s} {'member-steps/s':>15s}"
    print(header)
    print("-" * len(header))
    rates = {}
    for name, results in rounds.items():
        run_s = statistics.median(r[0] for r in results)
        compile_s = max(r[1] for r in results)
        rates[name] = work / run_s
        print(f"{name:22s} {run_s:7.2f} {compile_s:9.2f} {rates[name]:15.1f}")
    print(
        f"chunk auto / solo loop: {rates['engine, chunk auto'] / rates['solo loop']:.2f}x; "
        f"chunk auto / vmap all: {rates['engine, chunk auto'] / rates['engine, vmap all']:.2f}x"
    )
    auto = outcome["engine, chunk auto"].final["test_acc"]
    solos = np.array([r.final["test_acc"][0] for r in outcome["solo loop"]])
    print(f"max |test_acc(chunk auto) - test_acc(solo)| over members: {np.abs(auto - solos).max()}")


if __name__ == "__main__":
    main()
