"""Successive halving (synchronous): train everyone briefly, keep the best 1/eta, go on.

Rung r trains its members until ``rung_stops(...)[r]`` evaluation intervals are done (eta
times more than rung r - 1, the last rung the set-up's whole run); after every rung but the
last, the best ``len // eta`` members by validation (``cs109nn.selection.member_order``:
validation accuracy, then validation LL; diverged members last) go on to the next rung, from
their exact state -- parameters, optimizer state, step carry, divergence bookkeeping, history
so far; their random streams are their keys', folded with the global step -- so a survivor
ends as an uninterrupted run of the same member would (the same bits on the same device
count and in the same chunks: every rung runs in chunks of the last rung's size, so each
member's program is the same in every rung). Each rung is one program for its member count
(``Runner.compiled``); the learning-rate schedule is the whole
run's, so a schedule anneals over the last rung's steps, not each rung's.

A member stopped at a rung keeps the parameters and history it had there (its history is NaN
after it); its final metrics are those of its last evaluation. ``on_rung`` sees the whole
population's state after each rung (what a checkpoint saves) and ``resume`` continues from
it: resume works at rung granularity.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from cs109nn.data.dataset import Dataset
from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import Hyperparameters, member_hyperparameters
from cs109nn.selection import RANK_METRIC, TIE_BREAK_METRIC, member_order
from cs109nn.train import devices as dev
from cs109nn.train.runner import Runner, TrainResult


class Rung(NamedTuple):
    """One rung: ``members`` [n] (population indices) trained until ``stop`` intervals, their
    validation accuracy and LL there (``val_acc``, ``val_ll`` [n]), and ``kept`` (the indices
    that go on; empty after the last rung)."""

    index: int
    stop: int
    members: np.ndarray
    val_acc: np.ndarray
    val_ll: np.ndarray
    kept: np.ndarray


class Population(NamedTuple):
    """The whole population between rungs, on the host: every member's latest state
    (``MemberState``, leaves [M, ...]) and history (name -> [M, T]), and the rungs done."""

    states: Any
    history: dict[str, np.ndarray]
    rungs_done: int


class HalvingResult(NamedTuple):
    """result: every member's outcome (params and history from its last rung; ``final`` the
    metrics of its last evaluation); rungs; intervals [M]: evaluation intervals each member
    trained; selected: the best member of the last rung by validation."""

    result: TrainResult
    rungs: tuple[Rung, ...]
    intervals: np.ndarray
    selected: int


def rung_stops(num_evaluations: int, eta: int, rungs: int) -> tuple[int, ...]:
    """Evaluation intervals done at each rung's end: ``T / eta**(rungs - 1 - r)`` rounded up,
    the last ``T``. Raises ConfigError where two rungs would stop together."""
    if eta < 2 or rungs < 1:
        raise ConfigError(f"successive halving needs eta >= 2 and rungs >= 1; got {eta}, {rungs}")
    stops = tuple(-(-num_evaluations // eta ** (rungs - 1 - r)) for r in range(rungs))
    if len(set(stops)) != len(stops):
        raise ConfigError(
            f"{rungs} rungs of eta={eta} need more than {num_evaluations} evaluations (the "
            f"rungs would stop at {list(stops)}): fewer rungs, a smaller eta, or a smaller "
            "eval_every"
        )
    return stops


def rung_sizes(num_members: int, eta: int, rungs: int) -> tuple[int, ...]:
    """Members trained in each rung: M, then ``n // eta`` of the previous (at least one)."""
    sizes = [num_members]
    for _ in range(rungs - 1):
        sizes.append(max(1, sizes[-1] // eta))
    return tuple(sizes)


def successive_halving(
    runner: Runner,
    keys: jax.Array,
    hparams: Mapping[str, object] | Hyperparameters,
    data: Dataset | None = None,
    *,
    eta: int = 3,
    rungs: int = 3,
    resume: Population | None = None,
    on_rung: Callable[[Population], None] | None = None,
) -> HalvingResult:
    """Successive halving over the members ``keys`` [M] x ``hparams`` (as ``Runner`` takes
    them) of ``runner``'s set-up: ``rungs`` rungs, keeping ``1/eta`` each time (see the
    module). ``resume``: a population ``on_rung`` was given, to continue after its rungs."""
    arrays = runner.arrays_of(data)
    if arrays.x_val is None:
        raise ConfigError(
            "successive halving selects by validation metrics: the data need a validation "
            "split (val_fraction > 0)"
        )
    total = runner.setup.num_evaluations
    stops = rung_stops(total, eta, rungs)
    key_data = np.asarray(jax.random.key_data(keys))
    num_members = key_data.shape[0]
    sizes = rung_sizes(num_members, eta, rungs)
    hp = member_hyperparameters(hparams, num_members, runner.dtype)
    # every rung in chunks of the last rung's: each member runs the same program in every
    # rung, hence the same bits as an uninterrupted run in those chunks
    chunk = runner.plan_memory(sizes[-1]).chunk
    first = runner.place(keys, hp, data, chunk=chunk)
    compile_seconds = run_seconds = 0.0
    if resume is None:
        states, history = jax.tree.map(lambda a: a[:num_members], dev.to_host(runner.blank(first)))
        population = Population(states, history, 0)
    else:
        population = resume
    done: list[Rung] = []
    alive = np.arange(num_members)
    for r in range(rungs):
        if r < population.rungs_done:  # replayed from the recorded history, not retrained
            rung = _rung(r, stops[r], alive, population, runner.setup, sizes)
            done.append(rung)
            alive = rung.kept
            continue
        take = lambda a, alive=alive: a[alive]  # noqa: E731
        if r == 0:
            placed = first
            states, history = runner.blank(placed)
        else:
            placed = runner.place(
                jax.random.wrap_key_data(key_data[alive]), jax.tree.map(take, hp), data, chunk=chunk
            )
            states = runner.put_members(placed.size, jax.tree.map(take, population.states))
            history = runner.put_members(placed.size, jax.tree.map(take, population.history))
        _, seconds = runner.compiled(placed)
        compile_seconds += seconds
        start = time.perf_counter()
        states, history = runner.run(placed, states, history, fresh=r == 0, stop=stops[r])
        run_seconds += time.perf_counter() - start
        count = len(alive)
        states, history = jax.tree.map(lambda a, n=count: a[:n], dev.to_host((states, history)))
        population = Population(
            _scatter(population.states, alive, states),
            _scatter(population.history, alive, history),
            r + 1,
        )
        rung = _rung(r, stops[r], alive, population, runner.setup, sizes)
        done.append(rung)
        alive = rung.kept
        if on_rung is not None:
            on_rung(population)
    return _result(runner, first, population, done, compile_seconds, run_seconds)


def _scatter(tree, index: np.ndarray, values):
    """``tree`` with rows ``index`` replaced by ``values`` (leafwise, copies)."""

    def put(a, v):
        a = np.array(a, copy=True)
        a[index] = v
        return a

    return jax.tree.map(put, tree, values)


def _rung(r: int, stop: int, members: np.ndarray, population: Population, setup, sizes) -> Rung:
    """Rung ``r``'s record from the population: who ran, their validation metrics at the
    rung's last evaluation, who goes on (the first ``sizes[r + 1]`` by ``member_order``; a
    member diverged by the rung's end is not eligible). The same from a resumed population:
    every input is what the rung itself left."""
    acc = population.history[RANK_METRIC][members, stop - 1]
    ll = population.history[TIE_BREAK_METRIC][members, stop - 1]
    if r + 1 == len(sizes):
        return Rung(r, stop, members, acc, ll, np.zeros(0, dtype=members.dtype))
    order = member_order(acc, ll, _healthy_at(population, members, stop * setup.eval_every))
    return Rung(r, stop, members, acc, ll, members[order[: sizes[r + 1]]])


def _healthy_at(population: Population, members: np.ndarray, step: int) -> np.ndarray:
    """[n] bool: the members not diverged by ``step`` (a later divergence, in a later rung,
    does not change what an earlier rung saw)."""
    diverged_step = np.asarray(population.states.step.diverged_step)[members]
    return (diverged_step < 0) | (diverged_step > step)


def _result(
    runner: Runner,
    placed,
    population: Population,
    rungs: list[Rung],
    compile_seconds: float,
    run_seconds: float,
) -> HalvingResult:
    intervals = np.zeros(len(rungs[0].members), dtype=np.int64)
    for rung in rungs:
        intervals[rung.members] = rung.stop
    result = runner.result(
        placed,
        population.states,
        population.history,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        last_intervals=intervals,
    )
    last = rungs[-1]
    step = last.stop * runner.setup.eval_every
    order = member_order(last.val_acc, last.val_ll, _healthy_at(population, last.members, step))
    selected = int(last.members[order[0]])
    return HalvingResult(result=result, rungs=tuple(rungs), intervals=intervals, selected=selected)
