"""Benchmark: conv-net members vectorised (vmap), mapped (lax.map), a solo loop and PyTorch.

On XLA:CPU, vmapping a convolution over members turns each member's kernel into one grouped
convolution, which measured far slower per member than the solo convolution (issue 12: 28x the
solo step for 8x the work). The engine therefore runs conv-net members one at a time inside
its one program (``choose_chunk_size`` returns 1 for a model whose forward pass convolves, on
a CPU): ``lax.map`` over members, each a plain convolution. Variants, interleaved in this one
process (the package's ``convnet:8x16`` on digits as images, SGD by default, minibatches of 64):

- engine, chunk auto     ``make_runner(convnet)``: the chunk the engine chooses (1 on a CPU)
- engine, vmap all       ``chunk_size=M``: every member of a device vectorised (the old way)
- engine, auto + stats   chunk auto with ``gradient_statistics=True``: per-example gradient
                         norms and the noise scale on the whole training split at each
                         evaluation (here once, at the end; conv layers as Dense on patches)
- solo loop              one compiled single-member runner on one device, called M times
                         (compile apart; on all devices its one member would be padded)
- torch loop, T thr.     PyTorch as its users write it: M solo ``nn.Module`` conv nets (the
                         same layers and shapes), each with its own ``torch.optim`` optimizer
                         and shuffle, trained one after another; 1 and 2 threads, and per
                         round the faster of the two ("torch, best threads")

Rates are member-steps per second of the programs' own run time (compiles apart; torch's is
its whole loop, with its data already as tensors).

    flock /tmp/cs109nn-bench.lock python experiments/benchmarks/conv.py   # M = 8, 100 steps
    python experiments/benchmarks/conv.py --members 16 --steps 50 --optimizer adam
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
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    parser.add_argument("--learning-rate", type=float, default=0.1)
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
    lr = args.learning_rate
    options = dict(optimizer=args.optimizer, steps=args.steps, eval_every=args.steps)
    options["batch_size"] = batch
    seeds = list(range(args.members))
    hparams = {"learning_rate": np.full(args.members, lr)}
    per_device = -(-args.members // jax.device_count())
    runners = {
        "engine, chunk auto": make_runner(model, data, **options),
        "engine, vmap all": make_runner(model, data, chunk_size=per_device, **options),
        "engine, auto + stats": make_runner(model, data, gradient_statistics=True, **options),
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
            result = solo(member_keys([seed]), {"learning_rate": [lr]})
            run_s += result.run_seconds
            compile_s += result.compile_seconds
            results.append(result)
        return run_s, compile_s, results

    variants = {name: engine(runner) for name, runner in runners.items()}
    variants["solo loop"] = loop
    torch_names = []
    try:
        import torch
    except ImportError:
        print("torch is not installed: the torch loop is skipped (pip install torch==2.13.0)")
    else:
        channels = tuple(int(c) for c in args.model.split(":")[1].split("x"))
        for threads in (1, 2):
            name = f"torch loop, {threads} thr."
            variants[name] = torch_loop(torch, data, channels, options, lr, seeds, threads)
            torch_names.append(name)
    print(
        f"conv: {args.model} on digits (n_train {len(data.y_train)}, 8x8x1), {args.members} "
        f"members, {args.optimizer} (lr {lr}), batch {batch or 'full'}, {args.steps} steps"
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
    if torch_names:  # per round, the faster torch setting of that round counts
        best = [
            min(r, key=lambda r: r[0]) for r in zip(*(rounds[t] for t in torch_names), strict=True)
        ]
        rounds["torch, best threads"] = best
        outcome["torch, best threads"] = outcome[min(torch_names, key=lambda t: rounds[t][0])]
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
    auto = rates["engine, chunk auto"]
    print(
        f"chunk auto / solo loop: {auto / rates['solo loop']:.2f}x; "
        f"chunk auto / vmap all: {auto / rates['engine, vmap all']:.2f}x; "
        f"auto + stats / chunk auto: {rates['engine, auto + stats'] / auto:.2f}x"
    )
    if torch_names:
        print(f"chunk auto / torch, best threads: {auto / rates['torch, best threads']:.2f}x")
    accuracy = outcome["engine, chunk auto"].final["test_acc"]
    solos = np.array([r.final["test_acc"][0] for r in outcome["solo loop"]])
    gap = np.abs(accuracy - solos).max()
    print(f"max |test_acc(chunk auto) - test_acc(solo)| over members: {gap}")
    if torch_names:  # other inits and shuffles: only the same ballpark is expected
        print(
            f"mean test_acc: engine {accuracy.mean():.3f}, "
            f"torch {np.mean(outcome['torch, best threads']):.3f}"
        )


def torch_loop(torch, data, channels, options, lr, seeds, threads):
    """A variant: M solo torch conv nets trained one after another on ``threads`` threads.

    The engine's ``convnet`` in torch's layout: Conv 3x3 (SAME) -> ReLU -> Conv 3x3 -> ReLU ->
    avg-pool 2x2 -> flatten -> Linear(K), softmax cross-entropy (the mean -LL), each member with
    its own init, optimizer and per-epoch shuffle, minibatches of the engine's batch size.
    Returns (run seconds, 0, test accuracies [M]).
    """
    import numpy as np
    from torch import nn

    x = torch.from_numpy(np.asarray(data.x_train, np.float32).reshape(-1, 1, 8, 8))
    y = torch.from_numpy(np.asarray(data.y_train, np.int64))
    x_test = torch.from_numpy(np.asarray(data.x_test, np.float32).reshape(-1, 1, 8, 8))
    y_test = torch.from_numpy(np.asarray(data.y_test, np.int64))
    n, steps = x.shape[0], options["steps"]
    batch = options["batch_size"] or n
    c1, c2 = channels
    optimizers = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}

    def run():
        torch.set_num_threads(threads)
        start = time.perf_counter()
        accuracies = []
        for seed in seeds:
            torch.manual_seed(seed)
            model = nn.Sequential(
                nn.Conv2d(1, c1, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c1, c2, 3, padding=1),
                nn.ReLU(),
                nn.AvgPool2d(2),
                nn.Flatten(),
                nn.Linear(c2 * 16, data.num_classes),
            )
            optimizer = optimizers[options["optimizer"]](model.parameters(), lr=lr)
            per_epoch = max(n // batch, 1)
            for t in range(steps):
                epoch, position = divmod(t, per_epoch)
                if position == 0:
                    order = torch.randperm(n)
                index = order[position * batch : (position + 1) * batch]
                optimizer.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x[index]), y[index]).backward()
                optimizer.step()
            with torch.no_grad():
                accuracies.append(float((model(x_test).argmax(1) == y_test).float().mean()))
        return time.perf_counter() - start, 0.0, np.array(accuracies)

    return run


if __name__ == "__main__":
    main()
