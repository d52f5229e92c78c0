"""Benchmark: cs109nn's searches against Optuna and Ray Tune on one problem, one table and a PNG.

The problem is ``experiments/search.py``'s (``search_task``: an MLP on digits, SGD with
momentum, batch 64, 320 steps evaluated every 10, four hyperparameters over one space).
Every method selects by validation accuracy (ties to validation LL) and reports the test
accuracy of the configuration it selected. Repeated ``--repeats`` times (>= 5 for the README)
with search seeds 0, 1, ...; the table gives each figure's mean and a 95 % t-interval across
those repetitions (what the interval covers: the search's own randomness -- its draws, the
members' seeds -- on one data split).

Two comparisons:

- **equal step budget** ``B`` = the member-steps of successive halving over ``--members``
  (256) draws with the spec's eta (4) and rungs (3): 256 x 20 + 64 x 60 + 16 x 240 = 12,800
  steps, 40 full runs. cs109nn random search and PBT get B / 320 = 40 members; Optuna (TPE
  with its successive-halving pruner, and with its median pruner) and Ray Tune (ASHA, PBT)
  stop when their trials have taken B steps (``search_baselines``);
- **equal wall time**: Optuna (TPE + successive halving) is given the wall time cs109nn's
  successive halving took over ``--wide`` (1,024) draws, and both report what they found.

Wall times exclude compilation (reported apart; a jitted trial function and an engine program
compile once per process) and include everything else: host work, Optuna's sampler, Ray's
trial scheduling. Targets (issue 13, 2 CPU cores): successive halving reaches Optuna's final
validation accuracy in <= 1/3 of Optuna's wall time; at equal steps, cs109nn's methods are
within the interval of Optuna's result or better.

    python experiments/benchmarks/search.py --repeats 5          # the README's table and PNG
    python experiments/benchmarks/search.py --repeats 1 --quick  # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "search.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--members", type=int, default=256, help="halving's draws (budget B)")
    parser.add_argument("--wide", type=int, default=1024, help="halving's draws, equal wall")
    parser.add_argument("--quick", action="store_true", help="smaller budgets, no Ray")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--cpu-devices", type=int, default=os.cpu_count())
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args()
    common.pin_threads(2)
    common.set_cpu_devices(args.cpu_devices)
    if args.quick:
        args.members, args.wide = 64, 256

    import numpy as np
    import search_baselines as baselines
    import search_task as task
    from search_engine import Searches

    print(common.machine_load())
    searches = Searches()
    budget = searches.halving_steps(args.members)
    full_runs = budget // task.STEPS
    print(
        f"problem: {task.MODEL} on {task.DATASET}, {task.OPTIMIZER}, batch {task.BATCH_SIZE}, "
        f"{task.STEPS} steps; space {task.space_as_spec()}"
    )
    print(f"step budget B = {budget} member-steps ({full_runs} full runs); {args.repeats} repeats")
    records: dict[str, list] = {}

    def add(record) -> None:
        records.setdefault(record.method, []).append(record)
        print(
            f"  {record.method:<28} seed {record.seed}: val {record.best_val_acc:.4f} test "
            f"{record.test_acc_of_selected:.4f} trials {record.trials:>5} steps "
            f"{record.steps_used:>7} wall {record.wall_seconds:7.2f} s (compile "
            f"{record.compile_seconds:.2f} s)",
            flush=True,
        )

    for seed in range(args.repeats):
        print(f"repeat {seed}")
        add(searches.random(seed, full_runs))
        add(searches.halving(seed, args.members))
        add(searches.pbt(seed, full_runs))
        add(baselines.optuna_search(seed, pruner="halving", step_budget=budget))
        add(baselines.optuna_search(seed, pruner="median", step_budget=budget))
        if not (args.quick or args.no_ray):
            for run in (baselines.ray_asha, baselines.ray_pbt):
                try:
                    add(run(seed, step_budget=budget))
                except Exception as error:  # noqa: BLE001  (say why, go on)
                    print(f"  {run.__name__}: {type(error).__name__}: {error}")
        wide = searches.halving(seed, args.wide, label=f"cs109nn halving x{args.wide}")
        add(wide)
        add(
            baselines.optuna_search(seed, pruner="halving", wall_budget=wide.wall_seconds)._replace(
                method="optuna tpe+halving, equal wall"
            )  # fmt: skip
        )
    print_table(records, np)
    draw(records, args.output, np)
    print(f"figure: {args.output}")
    print("versions:", records["optuna tpe+halving"][0].versions, searches.versions())


def mean_interval(values, np) -> str:
    from scipy import stats

    values = np.asarray(values, float)
    mean = values.mean()
    if len(values) < 2 or values.std() == 0:
        return f"{mean:.4f}"
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return f"{mean:.4f} [{mean - half:.4f}, {mean + half:.4f}]"


def print_table(records: dict, np) -> None:
    print()
    print("| method | best val acc | test acc (selected) | trials | steps | wall s | compile s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for method, rows in records.items():
        cells = [
            mean_interval([r.best_val_acc for r in rows], np),
            mean_interval([r.test_acc_of_selected for r in rows], np),
            f"{np.mean([r.trials for r in rows]):.0f}",
            f"{np.mean([r.steps_used for r in rows]):.0f}",
            f"{np.median([r.wall_seconds for r in rows]):.2f}",
            f"{np.median([r.compile_seconds for r in rows]):.2f}",
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")
    optuna = records.get("optuna tpe+halving")
    halving = next((rows for method, rows in records.items() if method == "cs109nn halving"), None)
    if optuna and halving:
        walls = [o.wall_seconds / h.wall_seconds for o, h in zip(optuna, halving, strict=False)]
        reached = [h.best_val_acc >= o.best_val_acc for o, h in zip(optuna, halving, strict=False)]
        print(
            f"\ncs109nn halving vs Optuna TPE+halving at equal steps: Optuna's wall / halving's "
            f"{common.spread(walls)} (target >= 3); halving reached Optuna's val accuracy in "
            f"{sum(reached)} of {len(reached)} repeats"
        )


def draw(records: dict, path: str, np) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    methods = list(records)
    for i, method in enumerate(methods):
        rows = records[method]
        walls = [r.wall_seconds for r in rows]
        vals = [r.best_val_acc for r in rows]
        tests = [r.test_acc_of_selected for r in rows]
        left.scatter(walls, vals, label=method, s=24, alpha=0.8, color=f"C{i % 10}")
        mean = np.mean(tests)
        spread = [[mean - min(tests)], [max(tests) - mean]]
        right.errorbar([i], [mean], yerr=spread, fmt="o", color=f"C{i % 10}", capsize=4)
    left.set_xscale("log")
    left.set_xlabel("wall time of the search, s (log; compile excluded)")
    left.set_ylabel("best validation accuracy found")
    left.set_title("what each search found, and how fast (each point a repeat)")
    left.legend(fontsize=7, loc="lower right")
    right.set_xticks(range(len(methods)), methods, rotation=35, ha="right", fontsize=7)
    right.set_ylabel("test accuracy of the selected configuration")
    right.set_title("test accuracy (mean, min-max over repeats)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
