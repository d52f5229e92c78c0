"""Benchmark P3: per-example gradients and norms against the summed gradient.

MLP 64-256-1 (flax nn.Dense, sigmoid hidden layer by default), batch B = 1024, float32, on
the default JAX backend (CPU here). Every variant is jitted; its compile time
(``lower().compile()``) is reported apart. Variants run interleaved in this one process, one
block of ``--inner`` back-to-back calls each per round (A B C … A B C …, ``common.interleaved``)
so that load from other processes lands on all alike; each block ends in
``jax.block_until_ready``. Reported: median and best ms per call over ``--repeats`` rounds, the
ratio of the medians to the summed gradient's, and minor page faults per call.

Variants:
- summed        ``jax.grad`` of Σᵢ lossᵢ — the baseline (1×)
- (i)  naive    per-example gradients by ``vmap(grad(loss of one example))``
- (ii) fast     per-example gradients from one backward pass: xᵢ ⊗ δᵢ per Dense layer
- (iii) norms   per-example gradient norms ‖xᵢ‖·‖δᵢ‖, no per-example gradient built
- naive norms   norms of (i); DP-SGD: clipped + noised mean gradient on the Dense path
- (i), (ii) again, writing into the donated previous result. A fresh [B, |θ|] result costs
  one first-touch page fault per 4 KiB page on every call (XLA:CPU takes large buffers from
  mmap, the faults column shows it); inside a jitted training step or a ``lax.scan`` the
  buffer is reused, which donation reproduces here.

Targets (issue "The engine…", P3): per-example gradients ≤ 4× the summed gradient, per-example
norms ≤ 1.5×.

    python experiments/benchmarks/p3_per_example.py              # full run (~1-2 min)
    python experiments/benchmarks/p3_per_example.py --quick      # smoke run, ~15 s
    python experiments/benchmarks/p3_per_example.py --threads 1  # pin XLA:CPU to one thread
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

TARGETS = {"grads": 4.0, "norms": 1.5}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds × 3 calls")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--activation", choices=["sigmoid", "relu"], default="sigmoid")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 21; quick 5)")
    parser.add_argument("--inner", type=int, default=None, help="calls per block (10; quick 3)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="pin XLA:CPU's intra-op pool to this many threads (XLA_FLAGS, set before jax is "
        "imported) and numpy's BLAS/OpenMP likewise; default: XLA's own choice (all cores)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        common.pin_threads(args.threads)
        single = "--xla_cpu_multi_thread_eigen=false " if args.threads == 1 else ""
        os.environ["XLA_FLAGS"] = (
            f"{os.environ.get('XLA_FLAGS', '')} {single}intra_op_parallelism_threads={args.threads}"
        ).strip()

    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np

    from cs109nn.grads import (
        dp_gradient,
        per_example_gradients,
        per_example_norms,
        summed_gradient,
        tree_norms,
        vmap_per_example_gradients,
    )

    repeats = args.repeats or (5 if args.quick else 21)
    inner = args.inner or (3 if args.quick else 10)
    activation = {"sigmoid": nn.sigmoid, "relu": nn.relu}[args.activation]

    class MLP(nn.Module):
        hidden: int

        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            h = activation(nn.Dense(self.hidden)(x))
            return nn.Dense(1)(h)[..., 0]

    model = MLP(args.hidden)
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (args.batch, args.features), jnp.float32)
    y = jax.random.bernoulli(ky, 0.5, (args.batch,)).astype(jnp.float32)
    params = model.init(kp, x[:1])["params"]
    num_params = sum(p.size for p in jax.tree.leaves(params))

    def loss_fn(p, xb, yb):
        """Per-example negative log-likelihood of a Bernoulli output, from logits: [n]."""
        z = model.apply({"params": p}, xb)
        return -(yb * jax.nn.log_sigmoid(z) + (1 - yb) * jax.nn.log_sigmoid(-z))

    noise_key = jax.random.key(1)
    functions = {
        "summed gradient (jax.grad of sum)": lambda p, xb, yb: summed_gradient(loss_fn, p, xb, yb),
        "(i) per-example grads, naive vmap(grad)": lambda p, xb, yb: vmap_per_example_gradients(
            loss_fn, p, xb, yb
        ),
        "(ii) per-example grads, Dense fast path": lambda p, xb, yb: per_example_gradients(
            loss_fn, p, xb, yb, method="dense"
        ),
        "(iii) per-example norms, Dense fast path": lambda p, xb, yb: per_example_norms(
            loss_fn, p, xb, yb, method="dense"
        ),
        "per-example norms, naive vmap(grad)": lambda p, xb, yb: tree_norms(
            vmap_per_example_gradients(loss_fn, p, xb, yb)
        ),
        "DP-SGD clipped+noised mean, Dense path": lambda p, xb, yb: dp_gradient(
            loss_fn, p, xb, yb, 1.0, 1.0, noise_key, method="dense"
        ),
    }
    donated_names = [name for name in functions if "grads" in name]

    print(
        f"P3: MLP {args.features}-{args.hidden}-1 ({args.activation}), |θ| = {num_params}, "
        f"B = {args.batch}, float32"
    )
    print(
        f"jax {jax.__version__}, backend {jax.default_backend()}, devices {jax.devices()}, "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}"
    )
    print(common.machine_load())
    print(f"timing: {repeats} interleaved rounds × {inner} calls per variant, warm")
    pages = args.batch * num_params * 4 / 4096
    print(f"faults: minor page faults per call; a [B, |θ|] float32 result is {pages:.0f} pages")

    # Compile everything first (timed apart), then warm each variant once.
    compile_seconds: dict[str, float] = {}
    calls = {}  # name -> (call(state) -> state, initial state)
    for name, fn in functions.items():
        compile_seconds[name] = common.timed(
            lambda fn=fn, name=name: calls.__setitem__(
                name, jax.jit(fn).lower(params, x, y).compile()
            )
        )
    steps = {}
    for name, compiled in list(calls.items()):
        steps[name] = (lambda _, c=compiled: c(params, x, y), None)
    for name in donated_names:
        step = jax.jit(
            lambda _buffer, p, xb, yb, fn=functions[name]: fn(p, xb, yb),
            donate_argnums=0,
            keep_unused=True,  # else jit drops the unused buffer and donates nothing
        )
        buffer = jax.jit(functions[name])(params, x, y)
        steps[f"{name} [donated]"] = (lambda b, s=step: s(b, params, x, y), buffer)

    # Correctness before speed: the fast path against the naive one.
    fast = steps["(ii) per-example grads, Dense fast path"][0](None)
    naive = steps["(i) per-example grads, naive vmap(grad)"][0](None)
    error = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(jax.tree.leaves(fast), jax.tree.leaves(naive), strict=True)
    )
    print(f"check: max |fast - naive| per-example gradient entry = {error:.2e}")
    del fast, naive

    states = {name: jax.block_until_ready(call(state)) for name, (call, state) in steps.items()}
    faults = dict.fromkeys(steps, 0)

    def block(name: str):
        call = steps[name][0]

        def run() -> float:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            state = states[name]

            def calls_in_block():
                nonlocal state
                for _ in range(inner):
                    state = call(state)
                jax.block_until_ready(state)

            seconds = common.timed(calls_in_block)
            states[name] = state
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
            return seconds / inner

        return run

    seconds = common.interleaved({name: block(name) for name in steps}, repeats)
    print(common.machine_load())
    print()

    header = (
        f"{'variant':54s} {'compile s':>9s} {'median ms':>10s} {'best ms':>8s} {'x summed':>9s} "
        f"{'faults':>7s}"
    )
    print(header)
    print("-" * len(header))
    base = statistics.median(seconds["summed gradient (jax.grad of sum)"])
    ratios = {}
    for name, values in seconds.items():
        median = statistics.median(values)
        ratios[name] = median / base
        compile_s = compile_seconds.get(name)
        compile_text = f"{compile_s:9.3f}" if compile_s is not None else f"{'':9s}"
        print(
            f"{name:54s} {compile_text} {median * 1e3:10.3f} {min(values) * 1e3:8.3f} "
            f"{ratios[name]:8.2f}x {faults[name] / (repeats * inner):7.0f}"
        )

    print()
    checks = [
        (
            "per-example grads (ii), fresh result",
            "(ii) per-example grads, Dense fast path",
            "grads",
        ),
        (
            "per-example grads (ii), donated buffer",
            "(ii) per-example grads, Dense fast path [donated]",
            "grads",
        ),
        ("per-example norms (iii)", "(iii) per-example norms, Dense fast path", "norms"),
    ]
    for label, name, target in checks:
        met = "met" if ratios[name] <= TARGETS[target] else "NOT met"
        print(f"target {label}: {ratios[name]:.2f}x <= {TARGETS[target]}x  {met}")
    for suffix, what in (("", "fresh results"), (" [donated]", "donated buffers")):
        naive = ratios[f"(i) per-example grads, naive vmap(grad){suffix}"]
        fast = ratios[f"(ii) per-example grads, Dense fast path{suffix}"]
        print(f"fast vs naive per-example grads, {what}: {naive / fast:.1f}x faster")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
