"""cs109nn's side of ``search.py``: random search, successive halving and PBT on the problem of
``search_task``, through the library's own calls (what a user of the package writes).

Each method's members are draws from the space (``draw_samples`` with the repeat's search
seed, as a sweep draws them), member i trained from key ``1000 * seed + i``; one runner (and
so one compiled program per member layout) serves every repeat, so the compile is paid once
and reported apart. Import after ``common.pin_threads``.
"""

from __future__ import annotations

import time

import jax
import numpy as np
import search_task as task
from search_baselines import SearchRecord

from cs109nn.sweep.distributions import draw_samples, parse_distribution
from cs109nn.sweep.search import best_member
from cs109nn.train import make_runner, member_keys
from cs109nn.train.halving import rung_sizes, rung_stops, successive_halving
from cs109nn.train.population import EXPLORE, population_based_training


class Searches:
    """The problem's runner, built once, and one method per search."""

    def __init__(self) -> None:
        data, model, setup = task.load()
        self.runner = make_runner(model, data, setup)
        self.space = {name: parse_distribution(text) for name, text in task.space_as_spec().items()}
        self.bounds = {name: (low, high) for name, (_, low, high) in task.SPACE.items()}

    def versions(self) -> dict[str, str]:
        import cs109nn

        return {"jax": jax.__version__, "cs109nn": getattr(cs109nn, "__version__", "0.1.0")}

    def members(self, seed: int, count: int):
        keys = member_keys(1000 * seed + np.arange(count))
        return keys, draw_samples(self.space, count, seed)

    def halving_steps(self, count: int) -> int:
        """Member-steps of successive halving over ``count`` members."""
        stops = (0, *rung_stops(task.EVALUATIONS, task.ETA, task.RUNGS))
        sizes = rung_sizes(count, task.ETA, task.RUNGS)
        intervals = sum(n * (b - a) for n, a, b in zip(sizes, stops, stops[1:], strict=False))
        return intervals * task.EVAL_EVERY

    def random(self, seed: int, count: int) -> SearchRecord:
        keys, hparams = self.members(seed, count)
        start = time.perf_counter()
        result = self.runner(keys, hparams)
        wall = time.perf_counter() - start - result.compile_seconds
        best = best_member(result)
        return self._record(
            "cs109nn random", seed, result, best, hparams, count, count * task.STEPS, wall
        )

    def halving(self, seed: int, count: int, label: str = "cs109nn halving") -> SearchRecord:
        keys, hparams = self.members(seed, count)
        start = time.perf_counter()
        searched = successive_halving(self.runner, keys, hparams, eta=task.ETA, rungs=task.RUNGS)
        wall = time.perf_counter() - start - searched.result.compile_seconds
        steps = int(searched.intervals.sum()) * task.EVAL_EVERY
        return self._record(
            label, seed, searched.result, searched.selected, hparams, count, steps, wall
        )

    def pbt(self, seed: int, count: int) -> SearchRecord:
        keys, hparams = self.members(seed, count)
        start = time.perf_counter()
        searched = population_based_training(
            self.runner,
            keys,
            hparams,
            every=task.PBT_EVERY,
            fraction=task.PBT_FRACTION,
            factors=task.PBT_FACTORS,
            explore=[name for name in EXPLORE if name in hparams],
            bounds=self.bounds,
            seed=seed,
        )
        wall = time.perf_counter() - start - searched.result.compile_seconds
        final_hparams = {
            name: values[-1] for name, values in searched.hparams.items() if name in hparams
        }
        return self._record(
            "cs109nn pbt", seed, searched.result, searched.selected, final_hparams, count,
            count * task.STEPS, wall,
        )  # fmt: skip

    def _record(self, method, seed, result, best, hparams, trials, steps, wall) -> SearchRecord:
        return SearchRecord(
            method=method,
            seed=seed,
            best_val_acc=float(result.final["val_acc"][best]),
            best_val_ll=float(result.final["val_ll"][best]),
            test_acc_of_selected=float(result.final["test_acc"][best]),
            selected_hparams={name: float(values[best]) for name, values in hparams.items()},
            trials=trials,
            steps_used=steps,
            wall_seconds=wall,
            compile_seconds=float(result.compile_seconds),
            versions=self.versions(),
        )
