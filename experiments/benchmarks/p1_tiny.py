"""Benchmark P1: 1,024 tiny logistic regressions, the engine against loops and PyTorch.

Logistic regression on CS109 netflix train (100 users × 20 movies + intercept), 1,024 members
(32 seeds × 32 learning rates), 1,000 full-batch steps, evaluated once at the end. Work is
member-steps per second (members × steps / seconds); compile time is reported apart and never
counted in a rate. Variants, interleaved round by round in this one process:

- engine, 1 device   ``make_runner(logreg, ..., chunk_size=None, devices=[cpu 0])``: jax's
                     default on CPU (one device, XLA's own threads inside each op)
- engine, D devices  the same over D CPU devices (``--cpu-devices``, default one per core):
                     the engine's member sharding puts half the members on each core
                     (both: the program's own ``run_seconds``, ``block_until_ready``)
- (a) numpy          the lecture's loop per member: θ = 0; repeat θ += η Xᵀ(y − σ(Xθ));
                     a subset of members timed and scaled
- (b) loop           a Python loop over members of one jitted single-member ``lax.scan`` of
                     the same update (a subset timed and scaled)
- (c) torch          PyTorch, members as a batch dimension by hand: Θ[M, d] @ Xᵀ[d, n],
                     manual gradient, ``torch.no_grad``; 1 thread and ``--threads`` threads
- vmap               plain ``jax.vmap`` of (b)'s scan over all members, one jit
- matmul 2048³       the machine's float32 ``jnp.dot``, for the FLOP bound
- chunk sweep        the engine with fixed ``chunk_size`` values, on 1 and on D devices
- what-if (--what-if) the engine's program with a replacement member step (see
                     ``what_if_member``): the per-step loss and the LL's gradient, the two
                     changes made to the engine since this benchmark began; and the engine
                     with logits computed as kᵀxᵀ (members-major, no transpose)

The lecture's loop ascends the SUM log-likelihood with step η; the engine descends −mean LL,
so η_engine = n·η_lecture follows the same trajectory: the final train LLs of every variant
are compared with the engine's as a sanity check. Ratios are given per round (paired: the
variants of one round ran back to back) as median [range], and as best / best. Targets
(issue "The engine…", P1): engine ≥ 100× (a), ≥ 3× (b), ≥ 1.5× (c).

    python experiments/benchmarks/p1_tiny.py                  # full run (several minutes)
    python experiments/benchmarks/p1_tiny.py --quick          # smoke run, < 60 s
    python experiments/benchmarks/p1_tiny.py --profile --what-if  # per-op profile, what-ifs
    python experiments/benchmarks/p1_tiny.py --cpu-devices 1  # jax's default: one CPU device
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/torch/jax are imported)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEARNING_RATES = 32  # distinct lecture step sizes; members = seeds × learning rates
ETA_LECTURE = (1e-4, 5e-3)  # geometric grid of the lecture's η (sum gradient)
TARGETS = {"a": 100.0, "b": 3.0, "c": 1.5}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 256 members, 200 steps")
    parser.add_argument(
        "--data-dir",
        default=os.path.join(REPO, "..", "shared", "data", "cs109"),
        help="folder of netflix-train.csv (default: ../shared/data/cs109 from the repo root)",
    )
    parser.add_argument("--members", type=int, default=None, help="default 1024 (quick: 256)")
    parser.add_argument("--steps", type=int, default=None, help="default 1000 (quick: 200)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 7; quick 2)")
    parser.add_argument(
        "--chunks",
        default=None,
        help="comma-separated chunk sizes to sweep (default 1024,512,256,128,64,32,16,8; "
        "quick 64); 'none' skips the sweep",
    )
    parser.add_argument("--numpy-members", type=int, default=None, help="(a) subset (16)")
    parser.add_argument("--loop-members", type=int, default=None, help="(b) subset (64)")
    parser.add_argument("--what-if", action="store_true", help="time replacement member steps")
    common.add_shared_arguments(
        parser,
        threads_help="OMP/MKL/OpenBLAS threads for numpy and torch (default: all cores); torch is "
        "also timed with 1 thread",
    )
    args = parser.parse_args()
    quick = args.quick
    args.members = args.members or (256 if quick else 1024)
    args.steps = args.steps or (200 if quick else 1000)
    args.repeats = args.repeats or (2 if quick else 7)
    args.sweep_repeats = args.sweep_repeats or (1 if quick else 3)
    args.chunks = args.chunks or ("64" if quick else "1024,512,256,128,64,32,16,8")
    args.numpy_members = args.numpy_members or (4 if quick else 16)
    args.loop_members = args.loop_members or (16 if quick else 64)
    if args.members % LEARNING_RATES:
        parser.error(f"--members must be a multiple of {LEARNING_RATES} (seeds × learning rates)")
    return args


def what_if_member(model, steps: int, *, loss_check: bool, cheap_gradient: bool):
    """A replacement for ``make_train``'s pure ``train`` (full batch, SGD) for what-ifs (the
    runner vmaps it over each chunk in place of the engine's ``train_members``).

    It follows cs109nn/train/member.py as it stood at the start of this benchmark's work
    (init, init_scale, inject_hyperparams SGD, freeze-on-divergence with the step recorded,
    one evaluation at the end) with two switches: ``loss_check`` — compute the loss value every
    step and require it finite (member.py then), or only differentiate (``jax.grad``) and check
    gradients and new parameters; ``cheap_gradient`` — the binary LL y·z − softplus(z) with a
    custom JVP whose derivative is y − σ(z), one logistic per example, instead of autodiff
    through y·log σ(z) + (1 − y)·log σ(−z). Both LL forms are written here, not imported, so
    the what-if keeps measuring the same two programs whatever the package's objective does.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from jax import lax

    from cs109nn.models import objectives
    from cs109nn.train import MemberRun, split_member_key
    from cs109nn.train.optimizers import make_optimizer

    @jax.custom_jvp
    def binary_ll(z, y):
        return y * z - jax.nn.softplus(z)

    @binary_ll.defjvp
    def _binary_ll_jvp(primals, tangents):
        z, y = primals
        dz, dy = tangents
        return binary_ll(z, y), (y - jax.nn.sigmoid(z)) * dz + z * dy

    def log_likelihoods(logits, y):
        y = y.astype(logits.dtype)
        if cheap_gradient:
            return binary_ll(logits, y)
        return y * jax.nn.log_sigmoid(logits) + (1 - y) * jax.nn.log_sigmoid(-logits)

    def all_finite(tree):
        return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(tree)]))

    def train(data, key, hparams):
        keys = split_member_key(key)
        params = model.init(keys.init, data.x_train[:1])
        params = jax.tree.map(lambda p: p * hparams.init_scale.astype(p.dtype), params)
        tx = make_optimizer("sgd", hparams.learning_rate, hparams.momentum, hparams.weight_decay)

        def mean_loss(p):
            return -jnp.mean(log_likelihoods(model.apply(p, data.x_train), data.y_train))

        def step(carry, t):
            params, opt_state, diverged_step = carry
            if loss_check:
                loss, grads = jax.value_and_grad(mean_loss)(params)
            else:  # logits finite => LL finite (log_sigmoid); non-finite logits => grads too
                loss, grads = jnp.zeros(()), jax.grad(mean_loss)(params)
            updates, new_opt_state = tx.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            ok = (diverged_step < 0) & jnp.isfinite(loss) & all_finite((grads, new_params))
            keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
            diverged_step = jnp.where((diverged_step < 0) & ~ok, t + 1, diverged_step)
            return (keep(new_params, params), keep(new_opt_state, opt_state), diverged_step), None

        carry = (params, tx.init(params), jnp.asarray(-1, jnp.int32))
        (params, _, diverged_step), _ = lax.scan(step, carry, jnp.arange(steps))
        history = {}
        for split, x, y in (
            ("train", data.x_train, data.y_train),
            ("test", data.x_test, data.y_test),
        ):
            logits = model.apply(params, x)
            history[f"{split}_ll"] = jnp.mean(objectives.log_likelihoods(logits, y, "binary"))[None]
            history[f"{split}_acc"] = objectives.accuracy(logits, y, "binary")[None]
        return MemberRun(params, history, diverged_step)

    return train


def placed_members(member, devices, chunk: int, data, keys, hparams):
    """``member(data, key, hparams) -> MemberRun`` placed as the engine places its own (vmap
    within a chunk, lax.map over chunks, shard_map over ``devices``), jitted; returns a call
    ``() -> (final train LL [M], seconds)`` (seconds: the compiled program's run alone)."""
    import jax
    import numpy as np
    from jax import lax
    from jax.sharding import PartitionSpec

    from cs109nn.train import as_arrays, member_hyperparameters
    from cs109nn.train import devices as dev

    mesh = dev.member_mesh(devices)
    vmapped = jax.vmap(member, in_axes=(None, 0, 0))

    def per_device(arrays, key_data, hp):
        local = key_data.shape[0]
        split = lambda a: a.reshape(local // chunk, chunk, *a.shape[1:])  # noqa: E731
        chunks = jax.tree.map(split, (jax.random.wrap_key_data(key_data), hp))
        out = lax.map(lambda kh: vmapped(arrays, *kh).history["train_ll"][:, -1], chunks)
        return out.reshape(local)

    members = PartitionSpec(dev.MEMBERS)
    program = jax.jit(
        jax.shard_map(
            per_device,
            mesh=mesh,
            in_specs=(PartitionSpec(), members, members),
            out_specs=members,
            check_vma=False,
        )
    )
    key_data = np.asarray(jax.random.key_data(keys))
    hp = member_hyperparameters(hparams, len(key_data), np.float32)
    replicated, by_member = dev.shardings(mesh)
    arrays = jax.tree.map(lambda a: dev.global_array(a, replicated), as_arrays(data))
    key_data = dev.global_array(key_data, by_member)
    hp = jax.tree.map(lambda a: dev.global_array(a, by_member), hp)
    compiled = program.lower(arrays, key_data, hp).compile()

    def call():
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(arrays, key_data, hp))
        return np.asarray(out), time.perf_counter() - start

    return call


def main() -> None:
    args = parse_args()
    pinned = common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)
    print("machine before measuring:\n" + common.machine_load())
    source = common.engine_source(REPO)
    print(f"engine measured: {source}")

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    from cs109nn.data import load_cs109_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import choose_chunk_size, make_runner, member_keys

    try:
        import torch
    except ImportError:
        torch = None

    data = load_cs109_dataset(args.data_dir, "netflix")
    n, m = data.x_train.shape
    X = np.concatenate([np.ones((n, 1), np.float32), data.x_train], axis=1)  # x₀ = 1
    y = data.y_train.astype(np.float32)
    M, T = args.members, args.steps
    seeds = np.repeat(np.arange(M // LEARNING_RATES), LEARNING_RATES)
    eta = np.tile(np.geomspace(*ETA_LECTURE, LEARNING_RATES), M // LEARNING_RATES)
    eta = eta.astype(np.float32)  # the lecture's η, per member
    eta_engine = (n * eta).astype(np.float32)  # same trajectory on −mean LL
    devices = jax.devices()
    D = len(devices)
    print(
        f"\nP1: logistic regression, CS109 netflix train n={n}, d={m}+1; M={M} members "
        f"({M // LEARNING_RATES} seeds × {LEARNING_RATES} η from {ETA_LECTURE[0]:g} to "
        f"{ETA_LECTURE[1]:g}, η_engine = n·η), T={T} steps, full batch, eval at the end"
    )
    print(
        f"jax {jax.__version__}, {D} {devices[0].platform} device(s); numpy/torch threads "
        f"pinned to {pinned['OMP_NUM_THREADS']} ({', '.join(pinned)}), torch also at 1 "
        f"(torch.set_num_threads per variant); XLA:CPU threads: its default"
    )
    work = M * T

    # --- the engine: default chunk on 1 and D devices, and a sweep of fixed chunks ---------
    model = model_from_spec("logreg")
    keys = member_keys(seeds)
    hparams = {"learning_rate": eta_engine}
    device_sets = {1: devices[:1]} | ({D: devices} if D > 1 else {})
    auto_chunk = {d: choose_chunk_size(model, data.x_train, n, -(-M // d)) for d in device_sets}
    chunk_list = [] if args.chunks == "none" else [int(c) for c in args.chunks.split(",")]
    trainers, compile_seconds, finals = {}, {}, {}
    for d, devs in device_sets.items():
        for chunk in [None, *chunk_list]:
            if chunk is not None and (chunk > -(-M // d) or chunk == auto_chunk[d]):
                continue
            trainer = make_runner(
                model, data, steps=T, eval_every=T, chunk_size=chunk, devices=devs
            )
            result = trainer(keys, hparams)  # compiles
            trainers[d, chunk], compile_seconds[d, chunk] = trainer, result.compile_seconds
            finals[d, chunk] = result.final["train_ll"]
        per = -(-M // d)
        print(
            f"engine on {d} device(s): choose_chunk_size picks {auto_chunk[d]} of {per} "
            f"members per device (padded to {-(-per // auto_chunk[d]) * auto_chunk[d]})"
        )

    def engine(d: int, chunk):
        return lambda: trainers[d, chunk](keys, hparams).run_seconds

    # --- (b) and vmap: the lecture's update as one member's lax.scan -----------------------
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def solo(eta_one: jax.Array) -> jax.Array:
        def step(theta, _):
            return theta + eta_one * (Xj.T @ (yj - jax.nn.sigmoid(Xj @ theta))), None

        return lax.scan(step, jnp.zeros(m + 1, jnp.float32), None, length=T)[0]

    solo_jit = jax.jit(solo)
    vmapped = jax.jit(jax.vmap(solo))
    loop_index = np.linspace(0, M - 1, min(args.loop_members, M)).astype(int)
    numpy_index = np.linspace(0, M - 1, min(args.numpy_members, M)).astype(int)
    eta_j = jnp.asarray(eta)
    loop_etas = [jnp.asarray(eta[i]) for i in loop_index]
    jax.block_until_ready(solo_jit(loop_etas[0]))
    jax.block_until_ready(vmapped(eta_j))
    thetas: dict[str, np.ndarray] = {}

    def loop_b() -> float:
        start = time.perf_counter()
        out = jax.block_until_ready([solo_jit(e) for e in loop_etas])
        seconds = time.perf_counter() - start
        thetas["(b) loop"] = np.stack([np.asarray(o) for o in out])
        return seconds * M / len(loop_index)

    def vmap_all() -> float:
        start = time.perf_counter()
        out = jax.block_until_ready(vmapped(eta_j))
        seconds = time.perf_counter() - start
        thetas["vmap"] = np.asarray(out)
        return seconds

    # --- (a) the lecture's numpy loop ------------------------------------------------------
    def numpy_a() -> float:
        out = []
        start = time.perf_counter()
        for i in numpy_index:
            theta, step_size = np.zeros(m + 1, np.float32), eta[i]
            for _ in range(T):
                theta += step_size * (X.T @ (y - 1.0 / (1.0 + np.exp(-(X @ theta)))))
            out.append(theta)
        seconds = time.perf_counter() - start
        thetas["(a) numpy"] = np.stack(out)
        return seconds * M / len(numpy_index)

    # --- (c) PyTorch, members as a batch dimension -----------------------------------------
    def torch_c(threads: int, name: str):
        X_t, XT_t = torch.from_numpy(X), torch.from_numpy(np.ascontiguousarray(X.T))
        y_t, eta_t = torch.from_numpy(y), torch.from_numpy(eta)[:, None]

        def run() -> float:
            torch.set_num_threads(threads)
            with torch.no_grad():
                theta = torch.zeros(M, m + 1)
                z = torch.empty(M, n)
                start = time.perf_counter()
                for _ in range(T):
                    torch.mm(theta, XT_t, out=z)  # Θ Xᵀ: [M, n] logits
                    torch.sigmoid(z, out=z)
                    torch.sub(y_t, z, out=z)  # y − σ(Θ Xᵀ)
                    z.mul_(eta_t)  # each member's own η
                    theta.addmm_(z, X_t)  # Θ += η (y − σ) X
                seconds = time.perf_counter() - start
            thetas[name] = theta.numpy().copy()
            return seconds

        return run

    engine_names = {d: f"engine, {d} device{'s' if d > 1 else ''}" for d in device_sets}
    variants = {engine_names[d]: engine(d, None) for d in device_sets}
    variants |= {"(b) loop": loop_b, "vmap": vmap_all}
    if torch is not None:
        for threads in sorted({1, args.threads}):
            name = f"(c) torch, {threads} thread{'s' if threads > 1 else ''}"
            variants[name] = torch_c(threads, name)
    else:
        print("torch is not installed: (c) skipped (pip install torch==2.13.0)")
    variants["(a) numpy"] = numpy_a
    variants["matmul 2048³"] = common.matmul_peak(2048)
    print(f"\ninterleaved rounds: {args.repeats} × ({', '.join(variants)})")
    seconds = common.interleaved(variants, args.repeats)
    matmul = seconds.pop("matmul 2048³")
    rates = {name: common.Rate(work, s) for name, s in seconds.items()}
    peak = common.Rate(2 * 2048**3 / 1e9, matmul)

    print(f"\nmember-steps/s (M={M}, T={T}; best, median, range over {args.repeats} rounds):")
    for name, rate in rates.items():
        extra = ""
        if name.startswith("engine"):
            d = next(d for d in device_sets if engine_names[d] == name)
            extra = f"  compile {compile_seconds[d, None]:.2f} s (not in the rate)"
        print(f"  {name:22s} {rate}{extra}")
    flops_per_member_step = 2 * 2 * n * (m + 1)  # Xθ and Xᵀr, two mat-vecs
    bound = peak.median * 1e9 / flops_per_member_step
    print(
        f"  matmul 2048³ float32: {peak.median:.1f} GFLOP/s median ({peak.low:.1f}-"
        f"{peak.best:.1f}); at the median P1's {flops_per_member_step} FLOP per member-step "
        f"bound ≈ {common.human(bound)} member-steps/s"
    )

    torch_names = [name for name in rates if name.startswith("(c)")]
    baselines = {"a": "(a) numpy", "b": "(b) loop"}
    if torch_names:
        # Per round, the faster torch setting of that round counts.
        per_round = zip(*(seconds[t] for t in torch_names), strict=True)
        seconds["(c) torch, best threads"] = [min(s) for s in per_round]
        rates["(c) torch, best threads"] = common.Rate(work, seconds["(c) torch, best threads"])
        baselines["c"] = "(c) torch, best threads"
    print("\nratios engine / baseline: per round median [range]; best / best; target")
    summary = {}
    for d in device_sets:
        e = engine_names[d]
        summary[d] = {}
        for key, base in baselines.items():
            per_round = common.paired(seconds[e], seconds[base])
            best = rates[e].best / rates[base].best
            summary[d][key] = {"paired": per_round, "best": best}
            median = sorted(per_round)[len(per_round) // 2]
            print(
                f"  {e} / {base:24s} {common.spread(per_round):>22s}   best/best {best:7.2f}×"
                f"   ≥ {TARGETS[key]:g}×: {common.verdict(median, TARGETS[key])}"
            )
        vs_vmap = common.spread(common.paired(seconds[e], seconds["vmap"]))
        print(f"  {e} / {'vmap (info)':24s} {vs_vmap:>22s}")
        print(f"  {e} / matmul bound (info)     {rates[e].median / bound:.1%} (medians)")

    # --- sanity: the same trajectories -----------------------------------------------------
    def mean_ll(theta: np.ndarray) -> np.ndarray:
        z = theta.astype(np.float64) @ X.T.astype(np.float64)
        return np.mean(y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z), axis=-1)

    engine_ll = finals[1, None].astype(np.float64)
    print("\nsanity: final mean train LL, max |difference| from the engine's (1 device, auto):")
    index = {"(b) loop": loop_index, "(a) numpy": numpy_index}
    for name, theta in thetas.items():
        diff = np.max(np.abs(mean_ll(theta) - engine_ll[index.get(name, slice(None))]))
        print(f"  {name:28s} {diff:.2e}")
    for (d, chunk), ll in finals.items():
        if (d, chunk) != (1, None):
            label = f"engine {d} dev, chunk {chunk if chunk else 'auto'}"
            print(f"  {label:28s} {np.max(np.abs(ll - engine_ll)):.2e}")
    print(f"  (final train LL over members: {engine_ll.min():.4f} .. {engine_ll.max():.4f})")

    # --- chunk sweep -----------------------------------------------------------------------
    sweep = {}
    for d in device_sets:
        chunks = sorted(
            (c for (dd, c) in trainers if dd == d),
            key=lambda c: -(auto_chunk[d] if c is None else c),
        )
        if len(chunks) < 2:
            continue
        name = {c: f"{auto_chunk[d]} (auto)" if c is None else str(c) for c in chunks}
        sweep_seconds = common.interleaved(
            {name[c]: engine(d, c) for c in chunks}, args.sweep_repeats
        )
        print(
            f"\nchunk sweep, engine on {d} device(s), {-(-M // d)} members per device "
            f"(best and median of {args.sweep_repeats}):"
        )
        print("  chunk per device | member-steps/s best | median | compile s")
        sweep[d] = {}
        for c in chunks:
            rate = common.Rate(work, sweep_seconds[name[c]])
            size = auto_chunk[d] if c is None else c
            sweep[d][size] = {
                "best": rate.best,
                "median": rate.median,
                "compile": compile_seconds[d, c],
                "auto": c is None,
            }
            print(
                f"  {name[c]:>16s} | {common.human(rate.best):>19s} | "
                f"{common.human(rate.median):>6s} | {compile_seconds[d, c]:.2f}"
            )

    # --- what-if: the engine's program around a replacement member step --------------------
    def logits_t(params, x):
        """The logreg model's logits as kᵀxᵀ instead of flax's x @ k (same numbers)."""
        out = params["params"]["output"]
        return jnp.dot(out["kernel"][:, 0], x.T) + out["bias"][0]

    what_if = {}
    if args.what_if:
        chunk = min(128, M)
        cases = {
            "loss every step, autodiff LL": (True, False),
            "no per-step loss, autodiff LL": (False, False),
            "no per-step loss, cheap-gradient LL": (False, True),
        }
        runs = {}
        for d, devs in device_sets.items():
            for label, (loss_check, cheap) in cases.items():
                member = what_if_member(model, T, loss_check=loss_check, cheap_gradient=cheap)
                placed = placed_members(member, devs, chunk, data, keys, hparams)
                final_ll, _ = placed()
                diff = np.max(np.abs(final_ll - engine_ll))
                runs[f"{d} dev: {label}"] = (lambda f: lambda: f()[1])(placed)
                print(f"what-if {d} dev, chunk {chunk}, {label}: max |ΔLL| vs engine {diff:.1e}")
            # The current engine, and the current engine with logits computed as kᵀxᵀ: the
            # vmapped logits then come out members-major, [chunk, n], so the gradient's
            # elementwise pass needs no transpose (flax's x @ k yields [n, chunk]).
            for label, variant in (
                ("engine as is", model),
                ("engine, logits as kᵀxᵀ", model._replace(apply=logits_t)),
            ):
                trainer = make_runner(
                    variant, data, steps=T, eval_every=T, chunk_size=chunk, devices=devs
                )
                result = trainer(keys, hparams)
                diff = np.max(np.abs(result.final["train_ll"] - engine_ll))
                runs[f"{d} dev: {label}"] = (lambda t: lambda: t(keys, hparams).run_seconds)(
                    trainer
                )
                print(f"what-if {d} dev, chunk {chunk}, {label}: max |ΔLL| vs engine {diff:.1e}")
        what_seconds = common.interleaved(runs, args.sweep_repeats)
        print(
            f"\nwhat-if (engine's program, chunk {chunk}; replacement member steps, and the "
            f"engine with a re-laid model; best and median of {args.sweep_repeats}):"
        )
        for label, s in what_seconds.items():
            rate = common.Rate(work, s)
            what_if[label] = {"best": rate.best, "median": rate.median}
            print(f"  {label:50s} {rate}")

    if args.profile:
        print("\nper-op profile (one run each; µs per scan step of one chunk; jax profiler):")
        for d in device_sets:
            chunks_run = common.ceil_div(common.ceil_div(M, d), auto_chunk[d]) * d
            common.print_op_profile(
                f"engine, {d} device(s), chunk {auto_chunk[d]}",
                common.op_profile(engine(d, None)),
                T * chunks_run,
                unit="chunk-step",
            )
        common.print_op_profile("vmap of (b)", common.op_profile(vmap_all), T)
        common.print_op_profile(
            "(b) one member",
            common.op_profile(lambda: jax.block_until_ready(solo_jit(loop_etas[0]))),
            T,
        )

    print("\nmachine after measuring:\n" + common.machine_load())
    if args.json:
        out = {
            "benchmark": "p1_tiny",
            "engine_source": source,
            "members": M,
            "steps": T,
            "devices": D,
            "threads": args.threads,
            "auto_chunk": auto_chunk,
            "rates": {
                k: {"best": r.best, "median": r.median, "low": r.low} for k, r in rates.items()
            },
            "compile_seconds": {f"{d}:{c}": s for (d, c), s in compile_seconds.items()},
            "matmul_gflops": {"median": peak.median, "best": peak.best, "low": peak.low},
            "ratios": summary,
            "chunk_sweep": sweep,
            "what_if": what_if,
            "load_after": os.getloadavg(),
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
