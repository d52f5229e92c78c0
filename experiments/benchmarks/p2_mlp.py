"""Benchmark P2: MLP 64-32-1 (sigmoid) on digits, the engine's GFLOP/s against the machine's.

The engine's hidden and binary-output Dense layers are members-major since issue 12
(``cs109nn.models.members_major.members_major_dot``: ``x @ W`` computed as ``(Wᵀ xᵀ)ᵀ``).

Full-batch training of 64 and 256 members (seeds × learning rates) of an MLP 64-32-1 with a
sigmoid hidden layer on scikit-learn's digits, label digit ≥ 5 (train n = 1,438), T = 100
steps, evaluated once at the end (train and test). Variants, interleaved round by round in
this one process:

- engine M, 1 device    ``make_runner(mlp:32:sigmoid, ..., chunk_size=None, devices=[cpu 0])``
                        for M = 64 and 256: jax's default on CPU, one device
- engine M, D devices   the same over D CPU devices (``--cpu-devices``, default one per core)
                        (both: the program's own ``run_seconds``; compile time apart)
- loop                  a Python loop over members of one jitted single-member run: a
                        hand-written one (``jax.grad`` of y·z − softplus(z), SGD, ``lax.scan``)
                        and the engine's own member function jitted alone; the faster of the
                        two in each round counts; a subset of members timed and scaled
- torch M              PyTorch, members as a batch dimension: ``torch.bmm`` with weights
                        [M, 64, 32] and [M, 32, 1], the inputs shared, forward and backward by
                        hand under ``torch.no_grad``, SGD on −mean LL with each member's own
                        rate, the same T and the same initial weights as the hand-written loop;
                        a final evaluation on train and test as the engine's. Timed with
                        ``torch.set_num_threads(1)`` and ``(--threads)``; the faster in each
                        round counts
- matmul 2048³          the machine's float32 ``jnp.dot`` (jitted, warm), same rounds
- chunk sweep           the engine with fixed ``chunk_size`` values, on 1 and on D devices
- what-if (--what-if)   at chunks 16 and 8, three layouts of the same MLP in the engine: flax's
                        default ``x @ W`` hidden layer (the engine before issue 12), the
                        package's members-major Dense (now), and the MLP written by hand with
                        activations [width, n] all through (Wᵀ·hᵀ; the first what-if)

FLOPs counted are the matmul FLOPs the training needs, two ways: the usual convention
forward + backward ≈ 3 × forward, 6·n·(64·32 + 32·1) per member-step, and the strict count
(the first layer's input gradient is not needed), 4·n·64·32 + 6·n·32; plus each evaluation's
forward on train and test, 2·(n + n_test)·(64·32 + 32). Fractions of the matmul's GFLOP/s
and ratios to the loop and to torch are given per round (paired: the variants of one round ran
back to back) as median [range]. Targets (issue 12, P2): ≥ 75 % of the matmul's GFLOP/s by the
strict count on 2 CPU devices, ≥ 2.5× the loop and ≥ 2× torch (issue "The engine…" asked
≥ 70 % and ≥ 1.25×).

    python experiments/benchmarks/p2_mlp.py                  # full run (about 10 minutes)
    python experiments/benchmarks/p2_mlp.py --quick          # smoke run, < 60 s
    python experiments/benchmarks/p2_mlp.py --profile --what-if  # per-op profiles, layouts
    python experiments/benchmarks/p2_mlp.py --cpu-devices 1  # jax's default: one CPU device
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

FEATURES, HIDDEN = 64, 32
LEARNING_RATES = (0.03, 0.1, 0.3, 1.0)  # members = seeds × these
TARGETS = {"peak": 0.75, "loop": 2.5, "torch": 2.0}  # issue 12


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: M = 16, 64; T = 20")
    parser.add_argument("--members", default=None, help="comma-separated (default 64,256)")
    parser.add_argument("--steps", type=int, default=None, help="default 100 (quick: 20)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 5; quick 2)")
    parser.add_argument(
        "--chunks",
        default=None,
        help="comma-separated chunk sizes to sweep at every M (default 128,64,32,16,8,4,2,1; "
        "quick 8,1); 'none' skips the sweep",
    )
    parser.add_argument("--loop-members", type=int, default=None, help="loop subset (16)")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="the engine's MLP before issue 12, now, and written by hand members-major "
        "(chunks 16 and 8)",
    )
    common.add_shared_arguments(
        parser,
        threads_help="OMP/MKL/OpenBLAS threads of torch (default: all cores); torch is also "
        "timed at 1",
    )
    args = parser.parse_args()
    quick = args.quick
    args.members = [int(m) for m in (args.members or ("16,64" if quick else "64,256")).split(",")]
    args.steps = args.steps or (20 if quick else 100)
    args.repeats = args.repeats or (2 if quick else 5)
    args.sweep_repeats = args.sweep_repeats or (1 if quick else 3)
    args.chunks = args.chunks or ("8,1" if quick else "128,64,32,16,8,4,2,1")
    args.loop_members = args.loop_members or (4 if quick else 16)
    return args


def main() -> None:
    args = parse_args()
    pinned = common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)
    print("machine before measuring:\n" + common.machine_load())
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    source = common.engine_source(repo)
    print(f"engine measured: {source}")

    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import linen as nn
    from jax import lax

    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_module, model_from_spec
    from cs109nn.models.head import flatten_features
    from cs109nn.models.layers import NamedLayer
    from cs109nn.models.stack import Stack
    from cs109nn.train import (
        Arrays,
        choose_chunk_size,
        make_runner,
        make_train,
        member_hyperparameters,
        member_keys,
    )

    try:
        import torch
    except ImportError:
        torch = None

    data = load_dataset("digits-binary")
    n, n_test = data.x_train.shape[0], data.x_test.shape[0]
    T = args.steps
    dense = FEATURES * HIDDEN + HIDDEN * 1
    flops_step = {"3×fwd": 6 * n * dense, "strict": 4 * n * FEATURES * HIDDEN + 6 * n * HIDDEN}
    flops_eval = 2 * (n + n_test) * dense

    def member_gflop(kind: str) -> float:
        return (T * flops_step[kind] + flops_eval) / 1e9

    devices = jax.devices()
    D = len(devices)
    print(
        f"\nP2: MLP {FEATURES}-{HIDDEN}-1 sigmoid, digits-binary n={n} (test {n_test}), "
        f"T={T} full-batch steps, eval at the end; members {args.members}"
    )
    print(
        f"jax {jax.__version__}, {D} {devices[0].platform} device(s); BLAS/OpenMP threads "
        f"pinned to {pinned['OMP_NUM_THREADS']} ({', '.join(pinned)}); XLA:CPU threads: its "
        f"default"
    )
    print(
        f"GFLOP per member (T steps + 1 eval): {member_gflop('3×fwd'):.3f} (3×fwd convention), "
        f"{member_gflop('strict'):.3f} (strict)"
    )

    model = model_from_spec(f"mlp:{HIDDEN}:sigmoid")
    device_sets = {1: devices[:1]} | ({D: devices} if D > 1 else {})
    auto_chunk = {
        (M, d): choose_chunk_size(model, data.x_train, n, -(-M // d))
        for M in args.members
        for d in device_sets
    }

    def members(M: int):
        seeds = np.repeat(np.arange(-(-M // len(LEARNING_RATES))), len(LEARNING_RATES))[:M]
        rates = np.tile(np.asarray(LEARNING_RATES, np.float32), len(seeds))[:M]
        return member_keys(seeds), {"learning_rate": rates}

    # --- the engine ------------------------------------------------------------------------
    trainers, compile_seconds, finals = {}, {}, {}
    chunk_list = [] if args.chunks == "none" else [int(c) for c in args.chunks.split(",")]
    member_sets = {M: members(M) for M in args.members}
    for M in args.members:
        for d, devs in device_sets.items():
            per = -(-M // d)
            for chunk in [None, *chunk_list]:
                if chunk is not None and (chunk > per or chunk == auto_chunk[M, d]):
                    continue
                trainer = make_runner(
                    model, data, steps=T, eval_every=T, chunk_size=chunk, devices=devs
                )
                result = trainer(*member_sets[M])  # compiles
                trainers[M, d, chunk] = trainer
                compile_seconds[M, d, chunk] = result.compile_seconds
                finals[M, d, chunk] = result.final["train_ll"]
            c = auto_chunk[M, d]
            print(
                f"engine M={M} on {d} device(s): choose_chunk_size picks {c} of {per} "
                f"members per device (padded to {-(-per // c) * c})"
            )

    def engine(M: int, d: int, chunk):
        return lambda: trainers[M, d, chunk](*member_sets[M]).run_seconds

    # --- the loops: one member at a time ---------------------------------------------------
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train, jnp.float32)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test, jnp.float32)

    def hand_init(key: jax.Array):
        """(W₁ [64, 32], b₁ [32], w₂ [32], b₂ []): lecun-normal kernels, zero biases."""
        key_h, key_y = jax.random.split(key)
        init = jax.nn.initializers.lecun_normal()
        return (
            init(key_h, (FEATURES, HIDDEN)),
            jnp.zeros(HIDDEN),
            init(key_y, (HIDDEN, 1))[:, 0],
            jnp.zeros(()),
        )

    def hand_run(key: jax.Array, learning_rate: jax.Array):
        """One member by hand: lecun-normal init, T SGD steps on −mean LL, then evaluate."""
        params = hand_init(key)

        def logits(p, inputs):
            return jax.nn.sigmoid(inputs @ p[0] + p[1]) @ p[2] + p[3]

        def mean_ll(p, inputs, labels):  # y log σ(z) + (1 − y) log σ(−z) = y·z − softplus(z)
            z = logits(p, inputs)
            return jnp.mean(labels * z - jax.nn.softplus(z))

        def step(p, _):
            grads = jax.grad(mean_ll)(p, x, y)
            return jax.tree.map(lambda a, g: a + learning_rate * g, p, grads), None

        params, _ = lax.scan(step, params, None, length=T)
        return {
            "train_ll": mean_ll(params, x, y),
            "test_ll": mean_ll(params, x_test, y_test),
            "train_acc": jnp.mean((logits(params, x) > 0) == (y > 0.5)),
            "test_acc": jnp.mean((logits(params, x_test) > 0) == (y_test > 0.5)),
        }

    hand_jit = jax.jit(hand_run)
    engine_member = jax.jit(make_train(model, steps=T, eval_every=T))
    arrays = Arrays(x, jnp.asarray(data.y_train), x_test, jnp.asarray(data.y_test))
    loop_M = max(args.members)
    loop_keys, loop_hp = member_sets[loop_M]
    loop_index = np.linspace(0, loop_M - 1, min(args.loop_members, loop_M)).astype(int)
    full_hp = member_hyperparameters(loop_hp, loop_M, np.float32)
    loop_inputs = [
        (loop_keys[i], jax.tree.map(lambda v, i=i: jnp.asarray(v[i]), full_hp)) for i in loop_index
    ]
    jax.block_until_ready(hand_jit(loop_inputs[0][0], loop_inputs[0][1].learning_rate))
    jax.block_until_ready(engine_member(arrays, *loop_inputs[0]))
    loop_out = {}

    def hand_loop() -> float:
        start = time.perf_counter()
        out = jax.block_until_ready([hand_jit(k, h.learning_rate) for k, h in loop_inputs])
        loop_out["hand"] = out
        return (time.perf_counter() - start) / len(loop_inputs)  # per member

    def member_loop() -> float:
        start = time.perf_counter()
        out = jax.block_until_ready([engine_member(arrays, k, h) for k, h in loop_inputs])
        loop_out["member"] = out
        return (time.perf_counter() - start) / len(loop_inputs)

    # --- PyTorch, members as a batch dimension (torch.bmm) ---------------------------------
    torch_ll = {}

    def torch_variant(M: int, threads: int, name: str):
        """M members in one batched program: the same initial weights as ``hand_init``."""
        w1, b1, w2, b2 = (np.asarray(a) for a in jax.jit(jax.vmap(hand_init))(member_sets[M][0]))
        # x shared: an expanded view (stride 0 over members), not M copies; bmm reads it as is
        x_t = torch.from_numpy(np.asarray(data.x_train, np.float32))
        xs, xs_t = x_t.expand(M, n, FEATURES), x_t.T.contiguous().expand(M, FEATURES, n)
        y_t = torch.from_numpy(np.asarray(data.y_train, np.float32))[None, :, None]  # [1, n, 1]
        step_size = torch.from_numpy(member_sets[M][1]["learning_rate"])[:, None, None] / n
        tests = torch.from_numpy(np.asarray(data.x_test, np.float32)).expand(M, n_test, FEATURES)
        y_test_t = torch.from_numpy(np.asarray(data.y_test, np.float32))[None, :]

        def run() -> float:
            torch.set_num_threads(threads)
            with torch.no_grad():
                W1 = torch.from_numpy(w1.copy())  # [M, 64, 32]
                B1 = torch.from_numpy(b1[:, None, :].copy())  # [M, 1, 32]
                W2 = torch.from_numpy(w2[:, :, None].copy())  # [M, 32, 1]
                B2 = torch.from_numpy(b2[:, None, None].copy())  # [M, 1, 1]

                def logits(inputs):  # [M, n, 64] -> [M, n]
                    return torch.baddbmm(B2, torch.sigmoid(torch.baddbmm(B1, inputs, W1)), W2)[
                        ..., 0
                    ]

                def mean_ll(inputs, labels):  # y·z − softplus(z), mean over examples: [M]
                    z = logits(inputs)
                    return (labels * z - torch.nn.functional.softplus(z)).mean(1)

                start = time.perf_counter()
                for _ in range(T):
                    h = torch.sigmoid(torch.baddbmm(B1, xs, W1))  # [M, n, 32]
                    # η ∂(−mean LL)/∂z = η (σ(z) − y) / n: [M, n, 1]
                    dz = torch.baddbmm(B2, h, W2).sigmoid_().sub_(y_t).mul_(step_size)
                    dh = torch.bmm(dz, W2.transpose(1, 2)).mul_(h).mul_(1 - h)  # [M, n, 32]
                    W2.sub_(torch.bmm(h.transpose(1, 2), dz))
                    B2.sub_(dz.sum(1, keepdim=True))
                    W1.sub_(torch.bmm(xs_t, dh))
                    B1.sub_(dh.sum(1, keepdim=True))
                # the engine's evaluation: LL and accuracy on train and test
                train_ll, test_ll = mean_ll(xs, y_t[..., 0]), mean_ll(tests, y_test_t)
                accuracies = [((logits(i) > 0) == (t > 0.5)).float().mean(1) for i, t in
                              ((xs, y_t[..., 0]), (tests, y_test_t))]  # fmt: skip
                seconds = time.perf_counter() - start
            torch_ll[M] = train_ll.numpy().copy()
            del test_ll, accuracies
            return seconds

        return run

    engine_names = {(M, d): f"engine M={M}, {d} dev" for M in args.members for d in device_sets}
    variants = {engine_names[key]: engine(*key, None) for key in engine_names}
    variants["loop, hand-written"] = hand_loop
    variants["loop, engine's member fn"] = member_loop
    torch_names = {}
    if torch is not None:
        for M in args.members:
            for threads in sorted({1, args.threads}):
                name = f"torch M={M}, {threads} thread{'s' if threads > 1 else ''}"
                torch_names.setdefault(M, []).append(name)
                variants[name] = torch_variant(M, threads, name)
    else:
        print("torch is not installed: the torch.bmm baseline is skipped (pip install torch)")
    matmul_variant = common.matmul_peak(2048)
    variants["matmul 2048³"] = matmul_variant
    print(f"\ninterleaved rounds: {args.repeats} × ({', '.join(variants)})")
    seconds = common.interleaved(variants, args.repeats)

    matmul = seconds.pop("matmul 2048³")
    peak = common.Rate(2 * 2048**3 / 1e9, matmul)
    print(
        f"\nmatmul 2048³ float32 (jnp.dot, jitted, warm): {peak.median:.1f} GFLOP/s median "
        f"[{peak.low:.1f}-{peak.best:.1f}] over {args.repeats} rounds"
    )
    # Per round, the faster loop counts; loop seconds are per member.
    loop_names = [name for name in seconds if name.startswith("loop")]
    per_round = zip(*(seconds[name] for name in loop_names), strict=True)
    seconds["loop, best"] = [min(s) for s in per_round]
    # Per round, the faster torch thread count counts (seconds for all M members).
    for M, names in torch_names.items():
        per_round = zip(*(seconds[name] for name in names), strict=True)
        seconds[f"torch M={M}, best threads"] = [min(s) for s in per_round]
    torch_rows = {  # name -> members
        name: M
        for M, names in torch_names.items()
        for name in [*names, f"torch M={M}, best threads"]
    }

    def gflops(seconds_one: float, members_: int, kind: str) -> float:
        return members_ * member_gflop(kind) / seconds_one

    print("\nmember-steps/s: best, median [range]; GFLOP/s on the median, 3×fwd / strict:")
    for name in [*loop_names, "loop, best"]:
        rate = common.Rate(T, seconds[name])
        med = float(np.median(seconds[name]))
        print(
            f"  {name:26s} {rate}   {gflops(med, 1, '3×fwd'):.1f} / {gflops(med, 1, 'strict'):.1f}"
        )
    summary = {
        "peak_gflops": {"median": peak.median, "best": peak.best, "low": peak.low},
        "loops": {
            name: {
                "best": common.Rate(T, seconds[name]).best,
                "median": common.Rate(T, seconds[name]).median,
            }
            for name in [*loop_names, "loop, best"]
        },
        "torch": {},
        "engine": {},
    }
    for name, M in torch_rows.items():
        rate = common.Rate(M * T, seconds[name])
        med = float(np.median(seconds[name]))
        summary["torch"][name] = {"best": rate.best, "median": rate.median}
        print(
            f"  {name:26s} {rate}   {gflops(med, M, '3×fwd'):.1f} / {gflops(med, M, 'strict'):.1f}"
        )
    for (M, d), name in engine_names.items():
        rate = common.Rate(M * T, seconds[name])
        med = float(np.median(seconds[name]))
        print(
            f"  {name:26s} {rate}   {gflops(med, M, '3×fwd'):.1f} / "
            f"{gflops(med, M, 'strict'):.1f}   compile {compile_seconds[M, d, None]:.2f} s "
            f"(chunk {auto_chunk[M, d]})"
        )

    print("\nagainst targets: per round median [range]; verdict on the median")
    for (M, d), name in engine_names.items():
        fractions = {
            kind: sorted(
                gflops(e, M, kind) / (2 * 2048**3 / 1e9 / p)
                for e, p in zip(seconds[name], matmul, strict=True)
            )
            for kind in flops_step
        }
        # loop seconds are per member: scale to M members
        vs_loop = common.paired(seconds[name], [s * M for s in seconds["loop, best"]])
        f3 = float(np.median(fractions["3×fwd"]))
        fs = float(np.median(fractions["strict"]))
        lm = float(np.median(vs_loop))
        summary["engine"][f"{M}:{d}"] = {
            "best": common.Rate(M * T, seconds[name]).best,
            "median": common.Rate(M * T, seconds[name]).median,
            "fraction_of_peak": fractions,
            "vs_loop": vs_loop,
            "compile_seconds": compile_seconds[M, d, None],
            "auto_chunk": auto_chunk[M, d],
        }
        print(
            f"  {name:22s} of matmul: {common.spread(fractions['3×fwd'], '{:.0%}')} (3×fwd), "
            f"{common.spread(fractions['strict'], '{:.0%}')} (strict)  ≥ {TARGETS['peak']:.0%}: "
            f"{common.verdict(f3, TARGETS['peak'])} / {common.verdict(fs, TARGETS['peak'])}"
        )
        print(
            f"  {'':22s} / loop: {common.spread(vs_loop)}×  ≥ {TARGETS['loop']}×: "
            f"{common.verdict(lm, TARGETS['loop'])}"
        )
        if M in torch_names:
            vs_torch = common.paired(seconds[name], seconds[f"torch M={M}, best threads"])
            summary["engine"][f"{M}:{d}"]["vs_torch"] = vs_torch
            print(
                f"  {'':22s} / torch: {common.spread(vs_torch)}×  ≥ {TARGETS['torch']}×: "
                f"{common.verdict(float(np.median(vs_torch)), TARGETS['torch'])}"
            )

    # --- sanity: the engine's members against the engine's member function run alone ------
    solo_ll = np.asarray([o.history["train_ll"][-1] for o in loop_out["member"]])
    engine_ll = finals[loop_M, 1, None][loop_index]
    print(
        f"\nsanity: engine (vectorised) vs its member function alone, final train LL: "
        f"max |diff| {np.max(np.abs(solo_ll - engine_ll)):.2e}"
    )
    worst = max(np.max(np.abs(ll - finals[M, 1, None])) for (M, d, c), ll in finals.items())
    print(f"  every chunk size and device count vs 1 device, auto chunk: max |diff| {worst:.2e}")
    if loop_M in torch_ll:
        hand_ll = np.asarray([o["train_ll"] for o in loop_out["hand"]])
        print(
            f"  torch vs the hand-written loop (same initial weights), final train LL: "
            f"max |diff| {np.max(np.abs(torch_ll[loop_M][loop_index] - hand_ll)):.2e}"
        )

    # --- chunk sweep -----------------------------------------------------------------------
    summary["chunk_sweep"] = {}
    for M in args.members:
        for d in device_sets:
            chunks = sorted(
                (c for (mm, dd, c) in trainers if (mm, dd) == (M, d)),
                key=lambda c: -(auto_chunk[M, d] if c is None else c),
            )
            if len(chunks) < 2:
                continue
            name = {c: f"{auto_chunk[M, d]} (auto)" if c is None else str(c) for c in chunks}
            sweep = common.interleaved(
                {**{name[c]: engine(M, d, c) for c in chunks}, "matmul": matmul_variant},
                args.sweep_repeats,
            )
            sweep_peak = common.Rate(2 * 2048**3 / 1e9, sweep.pop("matmul")).median
            print(
                f"\nchunk sweep, M={M} on {d} device(s), {-(-M // d)} members per device "
                f"(best and median of {args.sweep_repeats}; GFLOP/s 3×fwd on the median; "
                f"% of the matmul's median in these rounds, {sweep_peak:.0f} GFLOP/s):"
            )
            print("  chunk      | member-steps/s best | median | GFLOP/s | % matmul | compile s")
            rows = {"matmul_gflops": sweep_peak}
            for c in chunks:
                rate = common.Rate(M * T, sweep[name[c]])
                g = gflops(float(np.median(sweep[name[c]])), M, "3×fwd")
                size = auto_chunk[M, d] if c is None else c
                rows[size] = {
                    "best": rate.best,
                    "median": rate.median,
                    "gflops": g,
                    "compile": compile_seconds[M, d, c],
                    "auto": c is None,
                }
                print(
                    f"  {name[c]:10s} | {common.human(rate.best):>19s} | "
                    f"{common.human(rate.median):>6s} | {g:7.1f} | {g / sweep_peak:8.0%} | "
                    f"{compile_seconds[M, d, c]:.2f}"
                )
            summary["chunk_sweep"][f"{M}:{d}"] = rows

    if args.what_if:
        # The same MLP with members-major layouts: each layer as Wᵀ·hᵀ, so that the vmapped
        # activations come out [chunk, width, n] and no relayout copy sits between the
        # matmuls and the elementwise passes (flax's x @ W yields [n, chunk·width]).
        def apply_t(params, inputs):
            p = params["params"]
            hidden = jax.nn.sigmoid(
                p["hidden_0"]["kernel"].T @ inputs.T + p["hidden_0"]["bias"][:, None]
            )  # [HIDDEN, n]
            return p["output"]["kernel"][:, 0] @ hidden + p["output"]["bias"][0]

        # The engine before issue 12: the same Stack with flax's default Dense as hidden layer
        # (same params, same initial values; the binary head was members-major already).
        before = model_from_module(
            Stack(
                (
                    NamedLayer("flatten", flatten_features),
                    NamedLayer("hidden_0", nn.Dense(HIDDEN)),
                    NamedLayer("sigmoid_0", jax.nn.sigmoid),
                )
            ),
            output="binary",
            name="mlp, flax x@W hidden",
        )
        M = max(args.members)
        runs, relaid = {}, model._replace(apply=apply_t)
        layouts = (("flax x@W", before), ("members-major", model), ("Wᵀxᵀ by hand", relaid))
        for d, devs in device_sets.items():
            for c in (16, 8):
                for label, variant in layouts:
                    trainer = make_runner(
                        variant, data, steps=T, eval_every=T, chunk_size=c, devices=devs
                    )
                    result = trainer(*member_sets[M])
                    diff = np.max(np.abs(result.final["train_ll"] - finals[M, 1, None]))
                    runs[f"{d} dev, chunk {c}, {label}"] = (
                        lambda t: lambda: t(*member_sets[M]).run_seconds
                    )(trainer)
                    print(f"what-if M={M} {d} dev chunk {c} {label}: max |ΔLL| {diff:.1e}")
        runs["matmul"] = matmul_variant
        what = common.interleaved(runs, args.sweep_repeats)
        what_peak = common.Rate(2 * 2048**3 / 1e9, what.pop("matmul")).median
        print(
            f"\nwhat-if, M={M}: layouts (best and median of {args.sweep_repeats}; GFLOP/s "
            f"strict on the median; % of the matmul's median here, {what_peak:.0f}):"
        )
        summary["what_if"] = {"matmul_gflops": what_peak}
        for label, s in what.items():
            rate = common.Rate(M * T, s)
            g = gflops(float(np.median(s)), M, "strict")
            summary["what_if"][label] = {"best": rate.best, "median": rate.median, "gflops": g}
            print(f"  {label:36s} {rate}   {g:6.1f} GFLOP/s strict  {g / what_peak:5.0%}")

    if args.profile:
        print("\nper-op profile (one run each; µs per scan step of one chunk; jax profiler):")
        for M, d in engine_names:
            c = auto_chunk[M, d]
            chunk_steps = T * common.ceil_div(common.ceil_div(M, d), c) * d
            common.print_op_profile(
                f"engine M={M}, {d} device(s), chunk {c}",
                common.op_profile(engine(M, d, None)),
                chunk_steps,
                unit="chunk-step",
            )
        k, h = loop_inputs[0]
        common.print_op_profile(
            "loop, hand-written, one member",
            common.op_profile(lambda: jax.block_until_ready(hand_jit(k, h.learning_rate))),
            T,
        )

    print("\nmachine after measuring:\n" + common.machine_load())
    if args.json:
        summary.update(
            {
                "benchmark": "p2_mlp",
                "engine_source": source,
                "steps": T,
                "members": args.members,
                "devices": D,
                "load_after": os.getloadavg(),
            }
        )
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1, default=str)


if __name__ == "__main__":
    main()
