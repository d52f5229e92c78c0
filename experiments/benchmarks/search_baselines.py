"""The external baselines of ``search.py``: what a user of Optuna or Ray Tune writes for the
problem of ``search_task`` (an MLP on digits, SGD with momentum, batch 64, ``STEPS`` steps
evaluated every ``EVAL_EVERY``, four hyperparameters over ``SPACE``).

Every trial trains exactly like one cs109nn member: cs109nn's own solo pieces
(``make_trainer(model, setup)``: ``init`` and ``advance`` by one evaluation interval), jitted
once per process (compiled ahead of time, the compile timed and reported apart), one trial at
a time, the host asking for the validation metrics after every interval -- the loop an
Optuna / Ray Tune objective has to be. Trial i of search seed s trains from
``jax.random.key(1000 * s + i)`` (i: Optuna's trial number, Ray's trial index), as member i of
cs109nn's searches (``search_engine``) does.

Baselines (each a function returning a :class:`SearchRecord`):

- ``optuna_search(seed, pruner="halving")``: Optuna's TPE (``TPESampler(seed=seed)``, its
  defaults: 10 random start-up trials, independent sampling) with ``SuccessiveHalvingPruner()``
  at its defaults (reduction factor 4, min_resource "auto"); ``pruner="median"``:
  ``MedianPruner()`` at its defaults (5 start-up trials, no warm-up). Each trial suggests the
  four hyperparameters (``suggest_float(name, low, high, log=kind == "loguniform")``), trains
  interval by interval, ``trial.report(val_acc, evaluation)`` (the step is the evaluation
  index 1..EVALUATIONS) and raises ``TrialPruned`` when ``should_prune()``; the objective
  returns the final validation accuracy.
- ``ray_asha(seed)``: Ray Tune random search (``BasicVariantGenerator(random_state=seed)`` over
  ``tune.loguniform`` / ``tune.uniform`` of the same bounds, ``num_samples=-1``) with
  ``ASHAScheduler(metric="val_acc", mode="max", max_t=EVALUATIONS, grace_period=3,
  reduction_factor=3)``; a function trainable that ``tune.report``-s after every interval.
- ``ray_pbt(seed)``: Ray Tune's ``PopulationBasedTraining`` (asynchronous, Ray's default) of
  ``step_budget // STEPS`` trials (default 16 under a wall budget): every ``PBT_EVERY``
  evaluations the bottom ``PBT_FRACTION`` copies a top trial's checkpoint and perturbs
  learning rate, momentum and weight decay by ``PBT_FACTORS`` (or resamples them, Ray's
  default probability 0.25), clipped to ``SPACE``'s bounds (``custom_explore_fn``). The
  trainable checkpoints its member state (numpy, pickled into the checkpoint directory) every
  ``PBT_EVERY`` evaluations and, restored from another trial's checkpoint, sets the optimizer
  state's numbers to its own new hyperparameters (the trainer's ``retune_members``). A trial
  is stopped at its last evaluation (the ``Stopper``), before PBT could clone another's
  checkpoint into it there and train it again.

A trial's curve is bit for bit that of the cs109nn member with the same key and
hyperparameters (checked against ``make_runner`` on one configuration). With the step as the
evaluation index, Optuna's ``SuccessiveHalvingPruner`` (min_resource "auto" = 1) has its first
rung at the first report: once a trial has completed, most trials are pruned after 10 steps.

Budgets: a call gives ``step_budget`` (training steps taken by all trials together, a pruned
trial's partial steps included) or ``wall_budget`` (seconds). Optuna is stopped exactly: the
objective checks the budget before every interval, and the trial running when it is spent is
cut there and recorded as pruned (``study.stop()``), so ``steps_used == step_budget``. Ray
runs two trials at once; a ``Stopper`` ends the experiment once the trials' reported intervals
reach the step budget (so Ray may overshoot by the intervals in flight: ``steps_used`` is
what its trials reported), ``TuneConfig(time_budget_s=...)`` for a wall budget (Tune's clock,
which includes the workers' set-up below). Ray's asynchronous PBT re-runs intervals when a
trial clones a checkpoint older than its own position, so its trials take more than
``population x STEPS`` steps and the step budget cuts the last ones short; which trial clones
which depends on timing, so a Ray PBT search is not reproducible from its seed (ASHA's draws
are; its stopping decisions depend on the order results arrive).

Selection (every method): the trial with the highest last reported validation accuracy, ties
to the higher validation log-likelihood (``cs109nn.selection.member_order``), among the trials
that completed all ``EVALUATIONS`` evaluations -- among all trials that reported anything only
when none completed. Its test accuracy at its last evaluation is reported, never used to
select. ``trials``: trials that trained at least one interval.

Timing: ``wall_seconds`` is the search's wall time without compilation. For Optuna: the study
from creation to its end, in this process, the trial programs already compiled
(``compile_seconds``: the compile this call paid, 0 once the process has compiled). For Ray:
each trial runs in a Ray worker process that imports jax, loads the data and compiles the
programs once (actors are reused, ``reuse_actors=True``); ``compile_seconds`` is the sum of
those workers' compiles, and ``wall_seconds`` is ``Tuner.fit``'s wall time less the workers'
one-time set-up (import, data, compile) divided by the 2 workers that pay it side by side.
``ray.init`` (a few seconds, once per process) is not counted.

Versions (installed here with ``pip install optuna "ray[tune]"``): optuna 5.1.0, ray 2.60.0,
jax 0.10.2, Python 3.11; Ray runs locally, ``ray.init(num_cpus=2, include_dashboard=False)``
(one CPU per trial, so two trials at a time), no network. Each record's ``versions`` says
what ran; ``LAST_RUN`` holds the last search's own numbers (complete trials; Ray's fit
seconds, worker processes, their set-up and compile).

    python experiments/benchmarks/search_baselines.py --repeats 1 --step-budget 6000
    python experiments/benchmarks/search_baselines.py --wall-budget 30 --methods optuna-halving

Import after ``common.pin_threads`` (the functions import jax when first called).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import common  # noqa: E402  (stdlib only; must run before numpy/jax are imported)

RAY_CPUS = 2


class SearchRecord(NamedTuple):
    """What one search found: its selected trial's validation and test figures and its cost."""

    method: str
    seed: int
    best_val_acc: float
    best_val_ll: float
    test_acc_of_selected: float
    selected_hparams: dict
    trials: int
    steps_used: int
    wall_seconds: float
    compile_seconds: float
    versions: dict


class TrialLog(NamedTuple):
    """One trial as the search saw it: its hyperparameters, how many evaluations it ran and
    its metrics at the last one."""

    hparams: dict
    evaluations: int
    val_acc: float
    val_ll: float
    test_acc: float


# ---------------------------------------------------------------------------------------------
# One trial's training: cs109nn's solo member pieces, compiled once per process


class Problem:
    """The task's data and the trial programs, compiled ahead of time: ``start`` (init),
    ``advance`` (one evaluation interval) and ``retune`` (the optimizer state's numbers set to
    new hyperparameters, for PBT). ``setup_seconds``: imports, data and compile together."""

    def __init__(self) -> None:
        begin = time.perf_counter()
        import jax
        import jax.numpy as jnp
        import numpy as np
        import search_task as task

        from cs109nn.hyperparameters import Hyperparameters
        from cs109nn.train.member import as_arrays, make_trainer

        self.jax, self.np, self.task = jax, np, task
        self.defaults = Hyperparameters()
        data, model, setup = task.load()
        self.arrays = jax.device_put(as_arrays(data))
        trainer = make_trainer(model, setup)

        def one_interval(arrays, key, hparams, state):
            state, history = trainer.advance(arrays, key, hparams, state, 1)
            metrics = {name: history[name][0] for name in ("val_acc", "val_ll", "test_acc")}
            return state, metrics

        def retune(hparams, state):
            batched = jax.tree.map(lambda leaf: jnp.expand_dims(leaf, 0), (hparams, state))
            return jax.tree.map(lambda leaf: leaf[0], trainer.retune_members(*batched))

        compile_begin = time.perf_counter()
        key, hparams = jax.random.key(0), self.hparams({})
        self._init = jax.jit(trainer.init).lower(self.arrays, key, hparams).compile()
        state = jax.eval_shape(trainer.init, self.arrays, key, hparams)
        self._advance = jax.jit(one_interval).lower(self.arrays, key, hparams, state).compile()
        self._retune = jax.jit(retune).lower(hparams, state).compile()
        end = time.perf_counter()
        self.compile_seconds = end - compile_begin
        self.setup_seconds = end - begin
        self._unclaimed_compile = self.compile_seconds

    def claim_compile_seconds(self) -> float:
        """The compile time not yet reported by a caller (once per process, then 0)."""
        seconds, self._unclaimed_compile = self._unclaimed_compile, 0.0
        return seconds

    def hparams(self, values: dict[str, float]):
        """A ``Hyperparameters`` of float32 scalars: ``values``, defaults for the rest."""
        np = self.np
        fields = {**self.defaults._asdict(), **values}
        return type(self.defaults)(**{k: np.asarray(v, np.float32) for k, v in fields.items()})

    def key(self, seed: int):
        return self.jax.random.key(seed)

    def start(self, seed: int, values: dict[str, float]):
        """A trial's state at step 0 (its key's init stream, ``init_scale`` applied)."""
        return self._init(self.arrays, self.key(seed), self.hparams(values))

    def advance(self, seed: int, values: dict[str, float], state) -> tuple[Any, dict[str, float]]:
        """One evaluation interval (``EVAL_EVERY`` steps): the new state and its val_acc,
        val_ll, test_acc (host floats: the trial's host loop waits for them)."""
        state, metrics = self._advance(self.arrays, self.key(seed), self.hparams(values), state)
        return state, {name: float(value) for name, value in self.jax.device_get(metrics).items()}

    def to_host(self, state):
        return self.jax.device_get(state)

    def retune(self, values: dict[str, float], state):
        """``state`` (perhaps another trial's, host arrays) with its optimizer's numbers set to
        ``values``."""
        return self._retune(self.hparams(values), state)


_PROBLEM: Problem | None = None
# the last search's own numbers, for a reader of this process (not part of the record): trials
# that completed every evaluation; for Ray also Tuner.fit's seconds, worker processes, their
# set-up and compile seconds, trials Tune queued, results it reported
LAST_RUN: dict[str, float] = {}


def problem() -> Problem:
    """This process's :class:`Problem`, built (and compiled) on first use."""
    global _PROBLEM
    if _PROBLEM is None:
        _PROBLEM = Problem()
    return _PROBLEM


def versions() -> dict[str, str]:
    """The versions of what the baselines run on (those installed; ray only if present)."""
    import jax

    found = {"jax": jax.__version__}
    for name in ("optuna", "ray"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            found[name] = "not installed"
    return found


def select(logs: list[TrialLog], evaluations: int) -> TrialLog:
    """The selected trial: best last val_acc, ties to val_ll, among the complete trials (all
    ``evaluations`` done) if any, else among all that reported."""
    import numpy as np

    from cs109nn.selection import member_order

    reported = [log for log in logs if log.evaluations > 0]
    if not reported:
        raise RuntimeError("no trial reported an evaluation (budget too small?)")
    complete = [log for log in reported if log.evaluations >= evaluations]
    pool = complete or reported
    order = member_order(np.array([t.val_acc for t in pool]), np.array([t.val_ll for t in pool]))
    return pool[int(order[0])]


def record(
    method: str,
    seed: int,
    logs: list[TrialLog],
    steps: int,
    wall: float,
    compile_seconds: float,
) -> SearchRecord:
    import search_task as task

    best = select(logs, task.EVALUATIONS)
    LAST_RUN.clear()
    LAST_RUN["complete_trials"] = sum(log.evaluations >= task.EVALUATIONS for log in logs)
    return SearchRecord(
        method=method,
        seed=seed,
        best_val_acc=best.val_acc,
        best_val_ll=best.val_ll,
        test_acc_of_selected=best.test_acc,
        selected_hparams=dict(best.hparams),
        trials=sum(log.evaluations > 0 for log in logs),
        steps_used=steps,
        wall_seconds=wall,
        compile_seconds=compile_seconds,
        versions=versions(),
    )


def check_budget(step_budget: int | None, wall_budget: float | None) -> None:
    if (step_budget is None) == (wall_budget is None):
        raise ValueError("give exactly one of step_budget and wall_budget")
    if (step_budget is not None and step_budget <= 0) or (
        wall_budget is not None and wall_budget <= 0
    ):
        raise ValueError(f"budgets must be positive; got {step_budget=}, {wall_budget=}")


# ---------------------------------------------------------------------------------------------
# Optuna

OPTUNA_METHODS = {"halving": "optuna tpe+halving", "median": "optuna tpe+median"}


def optuna_search(
    seed: int,
    *,
    pruner: str = "halving",
    step_budget: int | None = None,
    wall_budget: float | None = None,
) -> SearchRecord:
    """Optuna TPE (seeded by ``seed``) with its successive-halving (``pruner="halving"``) or
    median (``"median"``) pruner, until ``step_budget`` training steps or ``wall_budget``
    seconds are spent (see the module docstring)."""
    check_budget(step_budget, wall_budget)
    if pruner not in OPTUNA_METHODS:
        raise ValueError(f"pruner must be one of {sorted(OPTUNA_METHODS)}; got {pruner!r}")
    import optuna
    import search_task as task

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run = problem()
    compile_seconds = run.claim_compile_seconds()
    logs: list[TrialLog] = []
    used = 0

    begin = time.perf_counter()

    def spent() -> bool:
        if step_budget is not None:
            return used >= step_budget
        return time.perf_counter() - begin >= wall_budget

    def objective(trial: optuna.Trial) -> float:
        nonlocal used
        values = {
            name: trial.suggest_float(name, low, high, log=kind == "loguniform")
            for name, (kind, low, high) in task.SPACE.items()
        }
        member, index = 1000 * seed + trial.number, len(logs)
        logs.append(TrialLog(values, 0, math.nan, math.nan, math.nan))
        state = run.start(member, values)
        metrics: dict[str, float] = {}
        for evaluation in range(1, task.EVALUATIONS + 1):
            if spent():  # the budget ran out inside this trial: cut it here
                trial.study.stop()
                raise optuna.TrialPruned("budget spent")
            state, metrics = run.advance(member, values, state)
            used += task.EVAL_EVERY
            logs[index] = TrialLog(values, evaluation, **metrics)
            trial.report(metrics["val_acc"], evaluation)
            if trial.should_prune():
                raise optuna.TrialPruned()
        if spent():
            trial.study.stop()
        return metrics["val_acc"]

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=(
            optuna.pruners.SuccessiveHalvingPruner()
            if pruner == "halving"
            else optuna.pruners.MedianPruner()
        ),
    )
    study.optimize(objective)  # until study.stop() (the budget)
    wall = time.perf_counter() - begin
    return record(OPTUNA_METHODS[pruner], seed, logs, used, wall, compile_seconds)


# ---------------------------------------------------------------------------------------------
# Ray Tune

# run name -> the trial results the driver has seen (a Tune callback writes them here: the
# callback object itself may be copied by the Tuner, this module's dict is the driver's own)
_RAY_RESULTS: dict[str, list[dict]] = {}
_RAY_INIT_SECONDS: float | None = None
QUIET_LOGGERS = ("analysis.experiment_analysis", "logger.logger")


def ensure_ray() -> float:
    """``ray.init`` once per process (local, 2 CPUs, no dashboard); its seconds (0 after)."""
    global _RAY_INIT_SECONDS
    # Tune's legacy console output honours verbose=0 (the new one prints each experiment)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        import ray
        from ray import tune  # noqa: F401
    except ImportError as error:  # pragma: no cover - depends on the machine
        raise RuntimeError(
            f'Ray Tune is not installed ({error}); pip install "ray[tune]"'
        ) from error
    if ray.is_initialized():
        return 0.0
    path = os.environ.get("PYTHONPATH", "")
    begin = time.perf_counter()
    ray.init(
        num_cpus=RAY_CPUS,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        # the workers import this module, search_task and common from here, as we do
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, (HERE, path)))}},
    )
    _RAY_INIT_SECONDS = time.perf_counter() - begin
    return _RAY_INIT_SECONDS


def trial_index(trial_id: str) -> int:
    """Ray's trial ids end in the trial's index, ``"a1b2c_00007"`` -> 7."""
    try:
        return int(trial_id.rsplit("_", 1)[-1])
    except ValueError:
        return abs(hash(trial_id)) % 1000


def ray_trainable(config: dict) -> None:
    """A Ray Tune function trainable: one trial, ``tune.report`` after every interval; with
    ``config["checkpoint_every"]`` it checkpoints then (and resumes from a checkpoint)."""
    from ray import tune

    context = tune.get_context()
    run = problem()  # this worker process's programs (built once per process)
    import search_task as task

    values = {name: float(config[name]) for name in task.SPACE}
    member = 1000 * int(config["search_seed"]) + trial_index(context.get_trial_id())
    every = int(config.get("checkpoint_every", 0))
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # PBT: this trial's or another's state; our own numbers
        with checkpoint.as_directory() as folder:
            with open(os.path.join(folder, "state.pkl"), "rb") as file:
                evaluation, state = pickle.load(file)
        state = run.retune(values, state)
    else:
        evaluation, state = 0, run.start(member, values)
    while evaluation < task.EVALUATIONS:
        state, metrics = run.advance(member, values, state)
        evaluation += 1
        result = {
            **metrics,
            "evaluation": evaluation,
            "worker_pid": os.getpid(),
            "worker_compile_seconds": run.compile_seconds,
            "worker_setup_seconds": run.setup_seconds,
        }
        if every and (evaluation % every == 0 or evaluation == task.EVALUATIONS):
            with tempfile.TemporaryDirectory() as folder:
                with open(os.path.join(folder, "state.pkl"), "wb") as file:
                    pickle.dump((evaluation, run.to_host(state)), file)
                tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))
        else:
            tune.report(result)


def ray_space(seed: int) -> dict:
    import search_task as task
    from ray import tune

    domains = {"loguniform": tune.loguniform, "uniform": tune.uniform}
    space = {name: domains[kind](low, high) for name, (kind, low, high) in task.SPACE.items()}
    return {**space, "search_seed": seed}


def run_ray(
    method: str,
    seed: int,
    scheduler,
    param_space: dict,
    num_samples: int,
    step_budget: int | None,
    wall_budget: float | None,
) -> SearchRecord:
    """Run one Tune experiment and turn what its trials reported into a record."""
    import search_task as task
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    name = f"{method.replace(' ', '-')}-{seed}-{time.monotonic_ns()}"
    results = _RAY_RESULTS.setdefault(name, [])

    class Collect(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
            _RAY_RESULTS[name].append(
                {**result, "trial": trial.trial_id, "config": dict(trial.config)}
            )

    class StepBudget(tune.Stopper):
        """Stop a trial at its last evaluation (before PBT can clone a checkpoint into it
        there and run it again), and everything once the trials' reported intervals reach
        the step budget."""

        def __call__(self, trial_id: str, result: dict) -> bool:
            return result.get("evaluation", 0) >= task.EVALUATIONS or self.stop_all()

        def stop_all(self) -> bool:
            return step_budget is not None and len(_RAY_RESULTS[name]) * task.EVAL_EVERY >= (
                step_budget
            )

    storage = tempfile.mkdtemp(prefix="search-baselines-ray-")
    try:
        tuner = tune.Tuner(
            ray_trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                scheduler=scheduler,
                search_alg=BasicVariantGenerator(random_state=seed),
                num_samples=num_samples,
                time_budget_s=wall_budget,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=storage,
                stop=StepBudget(),
                callbacks=[Collect()],
                verbose=0,
            ),
        )
        # (the trials Tune queued but never started have no results: it warns for each)
        # (and PBT's restored trials look for log files on the "remote" storage: here local)
        quiet = [logging.getLogger(f"ray.tune.{name}") for name in QUIET_LOGGERS]
        levels = [log.level for log in quiet]
        for log in quiet:
            log.setLevel(logging.ERROR)
        try:
            begin = time.perf_counter()
            grid = tuner.fit()
            fit_seconds = time.perf_counter() - begin
        finally:
            for log, level in zip(quiet, levels, strict=True):
                log.setLevel(level)
        errors = list(grid.errors)
        if errors:
            raise RuntimeError(f"{method}: {len(errors)} trial(s) failed; first: {errors[0]}")
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        _RAY_RESULTS.pop(name, None)

    last: dict[str, dict] = {}
    for result in results:  # in the order the driver saw them; a trial's last one wins
        last[result["trial"]] = result
    logs = [
        TrialLog(
            hparams={k: float(r["config"][k]) for k in task.SPACE},
            evaluations=int(r["evaluation"]),
            val_acc=float(r["val_acc"]),
            val_ll=float(r["val_ll"]),
            test_acc=float(r["test_acc"]),
        )
        for r in last.values()
    ]
    workers: dict[int, tuple[float, float]] = {}
    for result in results:
        workers[result["worker_pid"]] = (
            result["worker_compile_seconds"],
            result["worker_setup_seconds"],
        )
    compile_seconds = sum(c for c, _ in workers.values())
    setup_seconds = sum(s for _, s in workers.values())
    wall = fit_seconds - setup_seconds / RAY_CPUS
    steps = len(results) * task.EVAL_EVERY
    searched = record(method, seed, logs, steps, wall, compile_seconds)
    LAST_RUN.update(
        fit_seconds=fit_seconds,
        workers=len(workers),
        worker_setup_seconds=setup_seconds,
        worker_compile_seconds=compile_seconds,
        trials_queued=len(grid),
        reports=len(results),
    )
    return searched


def ray_asha(
    seed: int,
    *,
    step_budget: int | None = None,
    wall_budget: float | None = None,
    grace_period: int = 3,
    reduction_factor: int = 3,
) -> SearchRecord:
    """Ray Tune random search (seeded by ``seed``) with ASHA, until ``step_budget`` training
    steps or ``wall_budget`` seconds are spent (see the module docstring)."""
    check_budget(step_budget, wall_budget)
    ensure_ray()
    import search_task as task
    from ray.tune.schedulers import ASHAScheduler

    scheduler = ASHAScheduler(
        metric="val_acc",
        mode="max",
        time_attr="training_iteration",
        max_t=task.EVALUATIONS,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
    )
    return run_ray("ray asha", seed, scheduler, ray_space(seed), -1, step_budget, wall_budget)


def ray_pbt(
    seed: int,
    *,
    step_budget: int | None = None,
    wall_budget: float | None = None,
    population: int | None = None,
) -> SearchRecord:
    """Ray Tune's population-based training of ``population`` trials (default ``step_budget
    // STEPS``, or 16 under a wall budget), stopped at the budget (see the module
    docstring)."""
    check_budget(step_budget, wall_budget)
    ensure_ray()
    import random

    import search_task as task
    from ray.tune.schedulers import PopulationBasedTraining

    if population is None:
        population = max(step_budget // task.STEPS, 2) if step_budget is not None else 16
    explored = ("learning_rate", "momentum", "weight_decay")
    bounds = {name: (low, high) for name, (_, low, high) in task.SPACE.items()}

    def clip(config: dict) -> dict:
        for name in explored:
            low, high = bounds[name]
            config[name] = min(max(config[name], low), high)
        return config

    space = ray_space(seed)
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        metric="val_acc",
        mode="max",
        perturbation_interval=task.PBT_EVERY,
        hyperparam_mutations={name: space[name] for name in explored},
        quantile_fraction=task.PBT_FRACTION,
        perturbation_factors=tuple(sorted(task.PBT_FACTORS, reverse=True)),
        custom_explore_fn=clip,
    )
    random.seed(seed)  # PBT's explore draws from the random module
    space = {**space, "checkpoint_every": task.PBT_EVERY}
    return run_ray("ray pbt", seed, scheduler, space, population, step_budget, wall_budget)


# ---------------------------------------------------------------------------------------------

METHODS: dict[str, Callable[..., SearchRecord]] = {
    "optuna-halving": lambda seed, **budget: optuna_search(seed, pruner="halving", **budget),
    "optuna-median": lambda seed, **budget: optuna_search(seed, pruner="median", **budget),
    "ray-asha": ray_asha,
    "ray-pbt": ray_pbt,
}


def describe(record: SearchRecord) -> str:
    hparams = ", ".join(f"{k}={v:.3g}" for k, v in record.selected_hparams.items())
    return (
        f"{record.method:<20} seed {record.seed}: best val acc {record.best_val_acc:.4f} "
        f"(val ll {record.best_val_ll:.4f}) test acc {record.test_acc_of_selected:.4f} "
        f"trials {record.trials:>4} steps {record.steps_used:>6} wall {record.wall_seconds:7.2f} s "
        f"compile {record.compile_seconds:.2f} s  [{hparams}]"
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--step-budget", type=int, default=None)
    parser.add_argument("--wall-budget", type=float, default=None, help="seconds")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS))
    args = parser.parse_args()
    if args.step_budget is None and args.wall_budget is None:
        args.step_budget = 6000
    common.pin_threads(2)
    print(common.machine_load(), flush=True)
    budget = {"step_budget": args.step_budget, "wall_budget": args.wall_budget}
    first = None
    for seed in range(args.repeats):
        for method in args.methods:
            if method.startswith("ray") and _RAY_INIT_SECONDS is None:
                print(f"ray.init: {ensure_ray():.2f} s (not counted)", flush=True)
            try:
                result = METHODS[method](seed, **budget)
            except Exception as error:  # noqa: BLE001  (say why, go on with the others)
                print(f"{method} seed {seed}: {type(error).__name__}: {error}", flush=True)
                continue
            first = first or result
            print(describe(result), flush=True)
            print("  " + ", ".join(f"{k} {v:.4g}" for k, v in LAST_RUN.items()), flush=True)
    if first is not None:
        print("versions:", first.versions)


if __name__ == "__main__":
    # Run as the module ``search_baselines`` (not ``__main__``), so that Ray pickles
    # ``ray_trainable`` by reference and its workers import this file, one Problem per worker.
    import search_baselines

    search_baselines.main()
