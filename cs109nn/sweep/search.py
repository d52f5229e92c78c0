"""A group's search: how its members are trained and which one it selects (``SEARCHES``).

``none`` and ``grid`` train every member for all the group's steps (in segments with
checkpoints, as the spec says); ``halving`` runs successive halving
(``cs109nn.train.halving``), saving the population after every rung under the group's
checkpoint folder, so that a killed sweep resumes the group at its last finished rung;
``pbt`` runs population-based training in one program (``cs109nn.train.population``; a killed
PBT group is trained again whole). Each returns the members' outcome, the steps each trained,
the member it selects by validation (``cs109nn.selection``) and, for halving and PBT, the
arrays of ``search/<group_id>.npz``: who ran and who was kept at each rung, or each member's
lineage and hyperparameter schedule.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from cs109nn.data import Dataset
from cs109nn.hyperparameters import HPARAM_NAMES
from cs109nn.selection import member_order
from cs109nn.sweep.distributions import Distribution
from cs109nn.sweep.plan import Group, Members
from cs109nn.sweep.spec import SweepSpec
from cs109nn.train import FitRunner, Runner, TrainResult, member_keys
from cs109nn.train.checkpoints import CheckpointPolicy, GroupCheckpoints
from cs109nn.train.halving import Population, successive_halving
from cs109nn.train.population import EXPLORE, population_based_training

# Where successive halving keeps its population between rungs, inside the group's folder.
HALVING_LAYOUT = "halving"


class SearchOutcome(NamedTuple):
    """result: every member's outcome; steps_trained [M]; selected: the member the search
    chose; arrays: name -> array of the search file (None: no file); resumed_rungs: rungs
    restored from a checkpoint, not retrained."""

    result: TrainResult
    steps_trained: np.ndarray
    selected: int
    arrays: dict[str, np.ndarray] | None = None
    resumed_rungs: int = 0


def run_search(
    spec: SweepSpec,
    group: Group,
    runner: Runner | FitRunner,
    members: Members,
    data: Dataset,
    policy: CheckpointPolicy | None,
) -> SearchOutcome:
    """Train ``group``'s ``members`` on ``data`` as its search says."""
    keys = member_keys([int(seed) for seed in members.seeds])
    if group.fitted:
        result = runner(keys, members.hparams, data)
        return SearchOutcome(result, np.zeros(len(members), np.int64), best_member(result))
    steps = np.full(len(members), group.steps, np.int64)
    if group.search in ("none", "grid"):
        result = runner(keys, members.hparams, data, checkpoints=policy)
        return SearchOutcome(result, steps, best_member(result))
    if group.search == "halving":
        return _halving(spec, group, runner, keys, members, data, policy)
    if group.search == "pbt":
        explore = [name for name in EXPLORE if name in members.hparams] or list(EXPLORE)
        searched = population_based_training(
            runner,
            keys,
            members.hparams,
            data,
            every=spec.pbt_every,
            fraction=spec.pbt_fraction,
            factors=spec.pbt_factors,
            explore=explore,
            bounds=search_bounds(spec, members),
            seed=spec.search_seed,
        )
        arrays = {
            "exploit_step": searched.exploit_steps,
            "source": searched.sources,
            **{f"hp_{name}": searched.hparams[name] for name in HPARAM_NAMES},
        }
        return SearchOutcome(searched.result, steps, searched.selected, arrays)
    raise ValueError(f"unknown search {group.search!r}")  # the spec checks it first


def _halving(spec, group, runner, keys, members, data, policy) -> SearchOutcome:
    store = None
    resume = None
    if policy is not None and (policy.directory / HALVING_LAYOUT).is_dir():
        store = GroupCheckpoints(policy, HALVING_LAYOUT)
        like = _blank_population(runner, keys, members, data)
        restored = store.latest(_as_saved(like))
        if restored is not None:
            structure = jax.tree.structure((like.states, like.history))
            states, history = jax.tree.unflatten(structure, restored[1]["leaves"])
            resume = Population(states, history, restored[0])

    def save(population: Population) -> None:
        nonlocal store
        if policy is None or population.rungs_done == spec.halving_rungs:
            return  # the last rung's state is the result itself
        store = store or GroupCheckpoints(policy, HALVING_LAYOUT)
        store.save(population.rungs_done, _as_saved(population._replace(rungs_done=0)))

    searched = successive_halving(
        runner,
        keys,
        members.hparams,
        data,
        eta=spec.halving_eta,
        rungs=spec.halving_rungs,
        resume=resume,
        on_rung=save,
    )
    if store is not None:
        store.remove()
    count = len(members)
    rungs = searched.rungs
    ran = np.zeros((len(rungs), count), bool)
    kept = np.zeros((len(rungs), count), bool)
    acc = np.full((len(rungs), count), np.nan)
    ll = np.full((len(rungs), count), np.nan)
    for r, rung in enumerate(rungs):
        ran[r, rung.members] = True
        kept[r, rung.kept] = True
        acc[r, rung.members] = rung.val_acc
        ll[r, rung.members] = rung.val_ll
    arrays = {
        "rung_stop_step": np.array([rung.stop for rung in rungs]) * group.setup.eval_every,
        "rung_ran": ran,
        "rung_kept": kept,
        "rung_val_acc": acc,
        "rung_val_ll": ll,
    }
    steps = searched.intervals * group.setup.eval_every
    resumed = 0 if resume is None else int(resume.rungs_done)
    return SearchOutcome(searched.result, steps, searched.selected, arrays, resumed)


def _as_saved(population: Population) -> dict[str, list]:
    """The population as orbax saves it: its leaves in a list (the checkpoint's step is the
    rungs done); restored by unflattening with the structure of :func:`_blank_population`."""
    return {"leaves": jax.tree.leaves((population.states, population.history))}


def _blank_population(runner: Runner, keys, members: Members, data: Dataset) -> Population:
    """A population of the shapes successive halving saves (numpy zeros): what a checkpoint
    is restored into."""
    placed = runner.place(keys, members.hparams, data)
    states, history = jax.tree.map(
        lambda a: np.zeros((len(members), *a.shape[1:]), a.dtype), runner.blank(placed)
    )
    return Population(states, history, 0)


def best_member(result: TrainResult) -> int:
    """The member a full search selects: the best by the validation split's final metrics
    (``member_order``; diverged members last), by train metrics where there is no validation
    split."""
    split = "val" if "val_acc" in result.final else "train"
    acc, ll = result.final[f"{split}_acc"], result.final[f"{split}_ll"]
    return int(member_order(acc, ll, ~np.asarray(result.diverged))[0])


def search_bounds(spec: SweepSpec, members: Members) -> dict[str, tuple[float, float]]:
    """What a PBT perturbation may reach per hyperparameter: a distribution field's bounds (a
    choice's least and greatest value), a grid field's least and greatest value."""
    bounds = {}
    for name in members.hparams:
        field = getattr(spec, name)
        values = field.args if isinstance(field, Distribution) else field
        if values:
            bounds[name] = (float(min(values)), float(max(values)))
    return bounds
