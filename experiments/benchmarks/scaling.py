"""Benchmark: how the engine scales -- throughput, compile time and program memory as members,
training-set size and width grow.

Four sweeps of one variable each, every point a fresh runner (its compile timed apart), trained
once; member-steps/s from the program's own ``run_seconds``; memory is the compiled program's
own account (``Compiled.memory_analysis()``: arguments + outputs + temporaries, bytes), what a
device must hold for it:

- members, logistic regression   P1's problem: CS109 netflix (``--data-dir``), full batch
- members, MLP                   P2's problem: ``mlp:32:sigmoid`` on digits >= 5, full batch
- training-set size              logistic regression on generated ratings, n = 250 ... 16,000
- width                          ``mlp:W:relu`` on digits >= 5, W = 8 ... 512, 64 members

Writes a table to stdout and ``--png`` (default ``scaling.png`` in the working directory): one
panel per sweep, member-steps/s against the variable (log-log), program memory on a second
axis.

    python experiments/benchmarks/scaling.py --data-dir ../shared/data/cs109           # ~5 min
    python experiments/benchmarks/scaling.py --data-dir ../shared/data/cs109 --quick   # ~1 min
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data", "cs109"))
    parser.add_argument("--quick", action="store_true", help="fewer points and steps")
    parser.add_argument("--png", default="scaling.png")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--cpu-devices", type=int, default=os.cpu_count())
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    common.pin_threads(args.threads)
    common.set_cpu_devices(args.cpu_devices)

    import jax
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import make_runner, member_keys

    quick = args.quick

    def point(spec: str, data, members: int, steps: int) -> dict:
        model = model_from_spec(spec, num_classes=data.num_classes)
        runner = make_runner(model, data, optimizer="sgd", steps=steps)
        start = time.perf_counter()
        result = runner(member_keys(list(range(members))), {"learning_rate": 0.1})
        wall = time.perf_counter() - start
        total = result.memory_peak_bytes  # the compiled program's own memory_analysis()
        return {
            "rate": members * steps / result.run_seconds,
            "compile": result.compile_seconds,
            "wall": wall,
            "memory": total,
        }

    netflix = load_dataset("cs109:netflix", data_dir=args.data_dir, val_fraction=0.2)
    digits = load_dataset("digits-binary", val_fraction=0.2)
    members = [1, 4, 16, 64, 256, 1024, 4096]
    sweeps = {
        "members, logistic regression (netflix)": [
            (m, point("logreg", netflix, m, 100 if quick else 500))
            for m in (members[:6] if quick else members)
        ],
        "members, MLP 64-32-1 (digits >= 5)": [
            (m, point("mlp:32:sigmoid", digits, m, 10 if quick else 20))
            for m in (members[:5] if quick else members)
        ],
        "training-set size, logistic regression (ratings, 256 members)": [
            (n, point("logreg", load_dataset("ratings", n=n, val_fraction=0.2), 256, 50))
            for n in ((250, 1000, 4000) if quick else (250, 1000, 4000, 16000))
        ],
        "width, mlp:W:relu (digits >= 5, 64 members)": [
            (w, point(f"mlp:{w}:relu", digits, 64, 10 if quick else 20))
            for w in ((8, 32, 128) if quick else (8, 32, 128, 512))
        ],
    }

    print(f"scaling: sgd, full batch, {'quick' if quick else 'full'} run")
    print(f"jax {jax.__version__}, devices {jax.devices()}; {common.engine_source(REPO)}")
    print(common.machine_load())
    for name, points in sweeps.items():
        print(f"\n{name}")
        print(f"  {'x':>7s} {'member-steps/s':>15s} {'compile s':>9s} {'memory MB':>10s}")
        for x, p in points:
            memory = "n/a" if p["memory"] is None else f"{p['memory'] / 2**20:.1f}"
            print(f"  {x:7d} {p['rate']:15.0f} {p['compile']:9.2f} {memory:>10s}")

    figure = Figure(figsize=(11, 8), layout="constrained")
    axes = figure.subplots(2, 2)
    for axis, (name, points) in zip(axes.ravel(), sweeps.items(), strict=True):
        x = np.array([p[0] for p in points], dtype=float)
        axis.loglog(x, [p[1]["rate"] for p in points], "o-", color="C0", label="member-steps/s")
        axis.set_title(name, fontsize="medium")
        axis.set_xlabel(name.split(",")[0])
        axis.set_ylabel("member-steps/s (run time)", color="C0")
        axis.grid(True, alpha=0.3, which="both")
        memory = [p[1]["memory"] for p in points]
        if all(m is not None for m in memory):
            twin = axis.twinx()
            twin.loglog(x, np.array(memory) / 2**20, "s--", color="C3")
            twin.set_ylabel("program memory, MB (memory_analysis)", color="C3")
    figure.suptitle(
        f"cs109nn scaling on {jax.devices()[0].platform} x {jax.device_count()}: throughput "
        "(circles, left) and the compiled program's memory (squares, right)",
        fontsize="medium",
    )
    FigureCanvasAgg(figure)
    figure.savefig(args.png, dpi=110)
    print(f"\nfigure: {args.png}")


if __name__ == "__main__":
    main()
