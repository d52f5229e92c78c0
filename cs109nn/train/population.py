"""Population-based training inside one compiled program: exploit and explore without the host.

The population trains in generations of ``every`` evaluation intervals (the runner's own
training program, ``Runner.placed_program``, called inside a ``lax.fori_loop``); between two
generations, the bottom ``fraction`` of members by validation (``cs109nn.selection``:
validation accuracy, then LL; diverged members last) each copy the whole state of a member
drawn uniformly from the top ``fraction`` -- parameters, optimizer state, step carry and
divergence bookkeeping (:func:`exploit`) -- and that member's hyperparameters, each of the
``explore`` ones multiplied by one of ``factors`` (drawn per member and name) and clipped to
its ``bounds``; the copied optimizer state is then given the member's new numbers
(``Trainer.retune_members``: optax's ``inject_hyperparams`` keeps them in the state). A member
keeps its own key, so its minibatches and noise stay its own streams.
Ranks, draws and copies are made on the global member axis inside the jitted program: with
members sharded over devices, XLA's partitioner inserts the collectives (an all-gather of the
metrics and of the copied states), so a member may copy one on another device, and the
decisions do not depend on the device count (the draws come from one ``seed``).

Returned with the members' outcome: ``sources`` [G - 1, M] (whom each member copied after
generation g, -1 for none), the hyperparameters each member trained with in each generation
(name -> [G, M]) and the best member at the end.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from cs109nn.data.dataset import Dataset
from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import HPARAM_NAMES, RANGES, Hyperparameters
from cs109nn.selection import RANK_METRIC, TIE_BREAK_METRIC, member_order
from cs109nn.train import devices as dev
from cs109nn.train.runner import Runner, TrainResult

# The hyperparameters a PBT perturbs unless told otherwise: those that act after
# initialisation (init_scale, train_size and the architecture would not change a copied state).
EXPLORE = ("learning_rate", "momentum", "weight_decay")
FACTORS = (0.8, 1.25)


class PopulationResult(NamedTuple):
    """result: every member's outcome; sources [G - 1, M]: whom member m copied after
    generation g (-1: kept its own state); exploit_steps [G - 1]: the step after which each
    exploit happened; hparams: name -> [G, M], what each member trained with in generation g;
    selected: the best member at the end by validation."""

    result: TrainResult
    sources: np.ndarray
    exploit_steps: np.ndarray
    hparams: dict[str, np.ndarray]
    selected: int


def generations(num_evaluations: int, every: int) -> int:
    """G: the generations of ``every`` intervals (the last may be shorter)."""
    if every < 1:
        raise ConfigError(f"pbt needs every >= 1 evaluation interval between exploits; got {every}")
    return -(-num_evaluations // every)


def check_population(every: int, fraction: float, factors: Sequence[float]) -> None:
    """Raise ConfigError for PBT settings it cannot run with: ``every`` >= 1 evaluation
    interval, ``fraction`` in [0, 0.5] (the bottom copies the top), positive ``factors``."""
    generations(1, every)
    if not 0.0 <= fraction <= 0.5:
        raise ConfigError(f"pbt fraction must lie in [0, 0.5] (bottom copies top); got {fraction}")
    if not factors or any(not f > 0 for f in factors):
        raise ConfigError(f"pbt factors must be positive numbers; got {tuple(factors)}")


def exploit(
    states,
    hparams: Hyperparameters,
    key: jax.Array,
    *,
    num_members: int,
    fraction: float,
    factors: Sequence[float] = FACTORS,
    explore: Sequence[str] = EXPLORE,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    active: jax.Array | bool = True,
):
    """One exploit-and-explore step over ``states`` (a ``MemberState`` of [S] members, the
    first ``num_members`` real) and ``hparams`` (leaves [S]): (states, hparams, sources [S]),
    sources -1 where a member kept its own. Pure: jit it, or call it inside a program."""
    size = hparams.learning_rate.shape[0]
    count = int(fraction * num_members)
    index = jnp.arange(size)
    if count == 0:
        return states, hparams, jnp.full(size, -1, jnp.int32)
    metrics = states.healthy_metrics
    eligible = (index < num_members) & (states.step.diverged_step < 0)
    order = member_order(metrics[RANK_METRIC], metrics[TIE_BREAK_METRIC], eligible, xp=jnp)
    top, bottom = order[:count], order[num_members - count : num_members]
    pick, perturb = jax.random.split(key)
    chosen = top[jax.random.randint(pick, (count,), 0, count)]
    sources = jnp.full(size, -1, jnp.int32).at[bottom].set(chosen.astype(jnp.int32))
    sources = jnp.where(active, sources, -1)
    replaced = sources >= 0
    origin = jnp.where(replaced, sources, index)

    def copy(a):
        mask = replaced.reshape(-1, *([1] * (a.ndim - 1)))
        return jnp.where(mask, a[origin], a)

    states = jax.tree.map(copy, states)
    new = dict(zip(HPARAM_NAMES, jax.tree.map(copy, tuple(hparams)), strict=True))
    factors = jnp.asarray(factors, hparams.learning_rate.dtype)
    for position, name in enumerate(explore):
        draw = jax.random.choice(jax.random.fold_in(perturb, position), factors, (size,))
        low, high = (bounds or {}).get(name, (RANGES[name].low, RANGES[name].high))
        moved = jnp.clip(new[name] * draw, low, high)
        if not RANGES[name].high_included:  # momentum < 1, whatever the bounds say
            moved = jnp.minimum(
                moved, jnp.nextafter(jnp.asarray(RANGES[name].high, moved.dtype), 0)
            )
        new[name] = jnp.where(replaced, moved, new[name])
    return states, Hyperparameters(**new), sources


def population_based_training(
    runner: Runner,
    keys: jax.Array,
    hparams: Mapping[str, object] | Hyperparameters,
    data: Dataset | None = None,
    *,
    every: int,
    fraction: float = 0.25,
    factors: Sequence[float] = FACTORS,
    explore: Sequence[str] = EXPLORE,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    seed: int = 0,
) -> PopulationResult:
    """PBT over the members ``keys`` [M] x ``hparams`` of ``runner``'s set-up, in one compiled
    program (see the module). ``every``: evaluation intervals per generation; ``fraction``: the
    share of the population replaced each time (0: plain training, member by member);
    ``bounds``: name -> (low, high) a perturbed value is clipped to (default: its range);
    ``seed``: the exploit draws'."""
    arrays = runner.arrays_of(data)
    if arrays.x_val is None:
        raise ConfigError(
            "population-based training selects by validation metrics: the data need a "
            "validation split (val_fraction > 0)"
        )
    check_population(every, fraction, factors)
    unknown = [name for name in explore if name not in HPARAM_NAMES]
    if unknown:
        raise ConfigError(f"pbt explores unknown hyperparameters {unknown}")
    placed = runner.place(keys, hparams, data)
    total = runner.setup.num_evaluations
    count = generations(total, every)
    train = runner.placed_program(placed.chunk)
    num_members = placed.num_members
    retune = runner.trainer.retune_members

    def program(data, key_data, hp, states, history, search_key):
        trace = jax.tree.map(lambda a: jnp.zeros((count, *a.shape), a.dtype), hp)
        sources = jnp.full((max(count - 1, 1), hp.learning_rate.shape[0]), -1, jnp.int32)

        def generation(g, carry):
            states, history, hp, trace, sources = carry
            # exploit before every generation but the first: one copy of the training code
            states, hp, source = exploit(
                states,
                hp,
                jax.random.fold_in(search_key, g),
                num_members=num_members,
                fraction=fraction,
                factors=factors,
                explore=explore,
                bounds=bounds,
                active=g > 0,
            )
            # the optimizer state carries its numbers (inject_hyperparams): set a copy's own
            states = retune(hp, states)
            sources = lax.dynamic_update_index_in_dim(
                sources, source, jnp.maximum(g - 1, 0), 0
            ) if count > 1 else sources  # fmt: skip
            trace = jax.tree.map(
                lambda t, h: lax.dynamic_update_index_in_dim(t, h, g, 0), trace, hp
            )
            stop = jnp.minimum((g + 1) * every, total).astype(jnp.int32)
            states, history = train(data, key_data, hp, states, history, g == 0, stop)
            return states, history, hp, trace, sources

        carry = (states, history, hp, trace, sources)
        states, history, hp, trace, sources = lax.fori_loop(0, count, generation, carry)
        return states, history, trace, sources

    start = time.perf_counter()
    states, history = runner.blank(placed)
    search_key = jax.random.key(seed)
    # one compile per layout and settings: the seed and the members' values are arguments
    settings = (placed.size, placed.chunk, num_members, every, fraction, tuple(factors),
                tuple(explore), tuple(sorted((bounds or {}).items())))  # fmt: skip
    compiled = runner.search_programs.get(settings)
    if compiled is None:
        jitted = jax.jit(program, donate_argnums=(3, 4))
        compiled = jitted.lower(
            placed.data, placed.key_data, placed.hparams, states, history, search_key
        ).compile()
        runner.search_programs[settings] = compiled
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(
        compiled(placed.data, placed.key_data, placed.hparams, states, history, search_key)
    )
    run_seconds = time.perf_counter() - start
    states, history, trace, sources = dev.to_host(out)
    result = runner.result(
        placed,
        states,
        history,
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        program=compiled,
    )
    # generation first, then the members
    trace, sources = jax.tree.map(lambda a: a[:, :num_members], (dict(trace._asdict()), sources))
    metrics = jax.tree.map(lambda a: a[:num_members], states.healthy_metrics)
    best = member_order(metrics[RANK_METRIC], metrics[TIE_BREAK_METRIC], ~result.diverged)[0]
    every_steps = every * runner.setup.eval_every
    exploit_steps = np.arange(1, count) * every_steps
    return PopulationResult(
        result=result,
        sources=sources[: count - 1],
        exploit_steps=exploit_steps,
        hparams={name: np.asarray(values, np.float64) for name, values in trace.items()},
        selected=int(best),
    )
