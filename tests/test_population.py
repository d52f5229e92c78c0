"""Population-based training (``cs109nn.train.population``) against what it did not compute.

References: plain training by the same runner (``fraction=0``); a hand-made population whose
exploit step is checked against a ranking by Python's ``sorted`` (never
``cs109nn.selection.member_order``) and against the copied states leaf by leaf; the recorded
lineage against the hyperparameter trace, with the perturbations redone in numpy float32; a
replay of the whole search on the host (``Runner.place`` / ``blank`` / ``run`` and a jitted
``exploit`` between generations, each exploit's replaced set re-ranked here) that must give
the in-program result bit for bit; and the same search on 1 and 4 CPU devices.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
from types import SimpleNamespace

import jax
import numpy as np
import pytest

from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.train import make_runner, member_keys
from cs109nn.train.member import make_trainer
from cs109nn.train.population import exploit, population_based_training
from tests.conftest import REPO

M = 8
STEPS, EVAL_EVERY, EVERY = 40, 4, 2  # T = 10 evaluations: G = 5 generations, 4 exploits
OPTIONS = dict(steps=STEPS, eval_every=EVAL_EVERY, batch_size=16, optimizer="momentum")
FRACTION, FACTORS, SEED = 0.25, (0.8, 1.25), 3
EXPLORE = ("learning_rate", "momentum", "weight_decay")
BOUNDS = {"learning_rate": (0.03, 0.2)}  # momentum, weight_decay: their ranges
ABSURD = 3  # learning rate 1e6: diverges in the first generation
# the largest float32 below 1: momentum's range [0, 1) excludes 1 whatever the bounds say
BELOW_ONE = np.nextafter(np.float32(1), np.float32(0))
F32_FACTORS = np.asarray(FACTORS, np.float32)


def hyperparameters() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    learning_rate = 10.0 ** rng.uniform(-2, 0, M)
    learning_rate[ABSURD] = 1e6
    return {
        "learning_rate": learning_rate,
        "momentum": rng.uniform(0.0, 0.9, M),
        "weight_decay": 10.0 ** rng.uniform(-4, -2, M),
    }


def spirals():
    return load_dataset("spirals", seed=0, val_fraction=0.2, n=160)


@pytest.fixture(scope="module")
def setup():
    model = model_from_spec("mlp:8:relu", num_classes=2)
    runner = make_runner(model, spirals(), **OPTIONS)
    keys, hp = member_keys(range(M)), hyperparameters()
    out = population_based_training(
        runner,
        keys,
        hp,
        every=EVERY,
        fraction=FRACTION,
        factors=FACTORS,
        explore=EXPLORE,
        bounds=BOUNDS,
        seed=SEED,
    )
    return SimpleNamespace(model=model, runner=runner, keys=keys, hp=hp, out=out)


def bounded(name: str, value, bounds=None) -> np.float32:
    """A perturbed float32 value clipped as the module documents (numpy, float32)."""
    low, high = {"learning_rate": (0.0, math.inf), "momentum": (0.0, 1.0)}.get(
        name, (0.0, math.inf)
    )
    low, high = (bounds or {}).get(name, (low, high))
    value = np.clip(np.float32(value), np.float32(low), np.float32(high))
    if name == "momentum":
        value = min(value, BELOW_ONE)
    return np.float32(value)


def perturbations(name: str, source_value, bounds=None) -> set[float]:
    """Every value a copy of ``source_value`` may take: times each factor, then clipped."""
    return {float(bounded(name, np.float32(source_value) * f, bounds)) for f in F32_FACTORS}


def ranking(acc, ll, eligible) -> list[int]:
    """Members best first by val acc desc, val LL desc, index; ineligible / NaN acc last."""

    def key(m):
        if not eligible[m] or math.isnan(acc[m]):
            return (1, 0.0, 0.0, m)
        return (0, -float(acc[m]), -float(ll[m]) if not math.isnan(ll[m]) else math.inf, m)

    return sorted(range(len(acc)), key=key)


def top_and_bottom(states, num_members: int, count: int) -> tuple[set[int], set[int]]:
    metrics = jax.tree.map(np.asarray, states.healthy_metrics)
    diverged_step = np.asarray(states.step.diverged_step)
    eligible = [m < num_members and diverged_step[m] < 0 for m in range(len(diverged_step))]
    order = ranking(metrics["val_acc"], metrics["val_ll"], eligible)
    return set(order[:count]), set(order[num_members - count : num_members])


def assert_trees_equal(got, want, message=""):
    for (path, a), b in zip(
        jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want), strict=True
    ):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True), (
            message,
            jax.tree_util.keystr(path),
        )


def test_no_fraction_is_plain_training_bit_for_bit(setup):
    out = population_based_training(setup.runner, setup.keys, setup.hp, every=EVERY, fraction=0.0)
    plain = setup.runner(setup.keys, setup.hp)
    np.testing.assert_array_equal(out.result.diverged_step, plain.diverged_step)
    assert out.result.history.keys() == plain.history.keys()
    for name, curve in plain.history.items():
        assert np.array_equal(out.result.history[name], curve, equal_nan=True), name
    assert_trees_equal(out.result.params, plain.params)
    assert out.sources.shape == (4, M) and (out.sources == -1).all()
    np.testing.assert_array_equal(out.exploit_steps, [8, 16, 24, 32])
    for name, trace in out.hparams.items():
        assert trace.shape == (5, M), name
        assert np.array_equal(trace, np.broadcast_to(trace[0], trace.shape)), name
    for name, values in setup.hp.items():
        np.testing.assert_array_equal(out.hparams[name][0], np.float32(values), err_msg=name)


@pytest.fixture(scope="module")
def population(setup):
    """A hand-made population of 8: members 6 and 7 stand for padding (num_members=6).
    Trained 2 intervals, then doctored so that each rule is tested: the diverged member and
    padding member 6 get the best accuracy (they must never be sources), padding member 7
    the worst (it must never be replaced), members 0 and 1 tie on accuracy (LL decides)."""
    runner = setup.runner
    placed = runner.place(setup.keys, setup.hp)
    states, history = runner.blank(placed)
    states, _ = runner.run(placed, states, history, fresh=True, stop=2)
    states = jax.tree.map(lambda a: np.array(a, copy=True), jax.device_get(states))
    assert states.step.diverged_step[ABSURD] > 0  # the absurd member diverged already
    assert (np.delete(states.step.diverged_step, ABSURD) == -1).all()
    acc, ll = states.healthy_metrics["val_acc"], states.healthy_metrics["val_ll"]
    acc[[ABSURD, 6]] = 1.0
    acc[7] = 0.0
    acc[1] = acc[0]
    assert ll[0] != ll[1]
    hp = jax.device_get(placed.hparams)
    return SimpleNamespace(states=states, hp=hp, num_members=6)


@functools.cache
def jitted_exploit(num_members: int, fraction: float, explore: tuple[str, ...], bounds=None):
    """``exploit`` under ``jax.jit`` with its static settings (``bounds`` as ((name, (low,
    high)), ...), hashable); called as ``f(states, hparams, key, active=...)``."""
    return jax.jit(
        functools.partial(
            exploit,
            num_members=num_members,
            fraction=fraction,
            factors=FACTORS,
            explore=explore,
            bounds=dict(bounds) if bounds else None,
        )
    )


@pytest.mark.parametrize(
    ("fraction", "explore", "bounds"),
    [
        (0.5, EXPLORE, None),  # 3 of 6 replaced
        (0.34, ("learning_rate", "weight_decay"), (("learning_rate", (0.05, 0.3)),)),
    ],
)
def test_exploit_copies_the_top_into_the_bottom(population, fraction, explore, bounds):
    states, hp, num_members = population.states, population.hp, population.num_members
    count = int(fraction * num_members)
    top, bottom = top_and_bottom(states, num_members, count)
    assert ABSURD in bottom and not {6, 7} & (top | bottom)
    for seed in range(4):
        out_states, out_hp, sources = jax.device_get(
            jitted_exploit(num_members, fraction, explore, bounds)(states, hp, jax.random.key(seed))
        )
        sources = np.asarray(sources)
        assert sources.shape == (M,)
        replaced = {m for m in range(M) if sources[m] >= 0}
        assert replaced == bottom, (sources, bottom)
        assert {int(sources[m]) for m in replaced} <= top, (sources, top)
        assert (sources[num_members:] == -1).all()
        for m in range(M):
            origin = int(sources[m]) if m in replaced else m
            for (path, new), old in zip(
                jax.tree_util.tree_leaves_with_path(out_states),
                jax.tree.leaves(states),
                strict=True,
            ):
                assert np.array_equal(new[m], old[origin], equal_nan=True), (
                    m,
                    jax.tree_util.keystr(path),
                )
            for name in hp._fields:
                value, source_value = getattr(out_hp, name)[m], getattr(hp, name)[origin]
                if m in replaced and name in explore:
                    allowed = perturbations(name, source_value, dict(bounds or ()))
                    assert float(value) in allowed, (m, name, value, allowed)
                else:
                    assert np.array_equal(value, source_value), (m, name)
    # inactive (the first generation) or a fraction too small for one member: nothing moves
    for fraction, active in ((0.5, False), (0.1, True)):
        out_states, out_hp, sources = jax.device_get(
            jitted_exploit(num_members, fraction, EXPLORE)(
                states, hp, jax.random.key(0), active=active
            )
        )
        assert (np.asarray(sources) == -1).all()
        assert_trees_equal(out_states, states)
        assert_trees_equal(out_hp, hp)


def test_lineage_matches_the_hyperparameter_trace(setup):
    out = setup.out
    assert out.sources.shape == (4, M)
    np.testing.assert_array_equal(out.exploit_steps, EVERY * EVAL_EVERY * np.arange(1, 5))
    np.testing.assert_array_equal(out.exploit_steps, [8, 16, 24, 32])
    for name, values in setup.hp.items():  # generation 0 trains with the given numbers
        np.testing.assert_array_equal(out.hparams[name][0], np.float32(values), err_msg=name)
    per_exploit = int(FRACTION * M)
    assert ((out.sources >= 0).sum(axis=1) == per_exploit).all(), out.sources
    assert out.sources[0, ABSURD] >= 0  # diverged in generation 0: replaced at once
    for g in range(4):
        for m in range(M):
            s = int(out.sources[g, m])
            for name, trace in out.hparams.items():
                now, then = trace[g + 1, m], trace[g, s if s >= 0 else m]
                if s >= 0 and name in EXPLORE:
                    assert now in perturbations(name, then, BOUNDS), (g, m, name)
                else:
                    assert np.array_equal(now, then), (g, m, name)
            if s >= 0:
                assert s != m and out.sources[g, s] == -1  # a source is no copy itself
    # the bounds bit somewhere, and momentum's open end: otherwise the clips went untested
    lr = out.hparams["learning_rate"]
    assert (lr[1:] == np.float32(0.2)).any() or (lr[1:] == np.float32(0.03)).any()
    assert (out.hparams["momentum"] == BELOW_ONE).any()


def test_in_program_search_is_a_host_replay_bit_for_bit(setup):
    """Between generations the replay calls ``exploit`` (jitted), then the trainer's
    ``retune_members`` (the copied optimizer state carries its source's numbers:
    ``inject_hyperparams``), checked here to set the new numbers; each exploit's replaced
    set is re-ranked independently. Without the retune the replay must differ."""
    runner, out = setup.runner, setup.out
    retune = jax.jit(make_trainer(setup.model, runner.setup).retune_members)
    total = runner.setup.num_evaluations

    def replay(with_retune: bool):
        placed = runner.place(setup.keys, setup.hp)
        states, history = runner.blank(placed)
        sources = []
        for g in range(5):
            if g > 0:
                top, bottom = top_and_bottom(states, M, int(FRACTION * M))
                states, hp, source = jitted_exploit(M, FRACTION, EXPLORE, tuple(BOUNDS.items()))(
                    states, placed.hparams, jax.random.fold_in(jax.random.key(SEED), g)
                )
                source = np.asarray(source)[:M]
                assert {m for m in range(M) if source[m] >= 0} == bottom, (g, source)
                assert {int(s) for s in source if s >= 0} <= top, (g, source)
                sources.append(source)
                if with_retune:
                    states = retune(hp, states)
                    numbers = jax.device_get(states.step.opt_state.hyperparams)
                    for name in EXPLORE:
                        np.testing.assert_array_equal(numbers[name], getattr(hp, name))
                placed = placed._replace(hparams=hp)
            stop = min((g + 1) * EVERY, total)
            states, history = runner.run(placed, states, history, fresh=g == 0, stop=stop)
        return runner.result(placed, states, history, compile_seconds=0.0, run_seconds=0.0), (
            np.stack(sources)
        )

    result, sources = replay(with_retune=True)
    np.testing.assert_array_equal(sources, out.sources)
    np.testing.assert_array_equal(result.diverged_step, out.result.diverged_step)
    for name, curve in result.history.items():
        assert np.array_equal(out.result.history[name], curve, equal_nan=True), name
    assert_trees_equal(out.result.params, result.params)

    unretuned, sources = replay(with_retune=False)
    np.testing.assert_array_equal(sources[0], out.sources[0])  # the first exploit still agrees
    assert not np.array_equal(
        unretuned.history["train_ll"], out.result.history["train_ll"], equal_nan=True
    )


# The same search in a process of its own on the CPU devices it is given: members chunked in
# twos on 1 device (4 chunks) as on 4 (one chunk each), so each member's program is the same.
_DEVICES_RUN = """
import sys
import jax
import numpy as np
from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.train import make_runner, member_keys
from cs109nn.train.population import population_based_training
from tests.test_population import BOUNDS, EVERY, OPTIONS, hyperparameters

data = load_dataset("spirals", seed=0, val_fraction=0.2, n=160)
runner = make_runner(model_from_spec("mlp:8:relu", num_classes=2), data, chunk_size=2, **OPTIONS)
out = population_based_training(
    runner, member_keys(range(8)), hyperparameters(), every=EVERY, bounds=BOUNDS, seed=5
)
saved = {"sources": out.sources, "selected": np.asarray(out.selected),
         "devices": np.asarray(jax.device_count())}
saved.update({"hp/" + k: v for k, v in out.hparams.items()})
saved.update({"history/" + k: v for k, v in out.result.history.items()})
saved.update({"final/" + k: v for k, v in out.result.final.items()})
np.savez(sys.argv[1], **saved)
"""


def test_one_and_four_devices_make_the_same_decisions(tmp_path):
    runs = {}
    for count in (1, 4):  # side by side: each is mostly compile time
        env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(count), JAX_PLATFORMS="cpu")
        path = tmp_path / f"devices-{count}.npz"
        runs[count] = (
            path,
            subprocess.Popen([sys.executable, "-c", _DEVICES_RUN, path], cwd=REPO, env=env),
        )
    saved = {}
    for count, (path, process) in runs.items():
        assert process.wait(timeout=300) == 0, count
        with np.load(path) as arrays:
            saved[count] = dict(arrays)
    one, four = saved[1], saved[4]
    assert int(one["devices"]) == 1 and int(four["devices"]) == 4
    assert one.keys() == four.keys()
    assert (one["sources"] >= 0).any()  # some exploit happened
    np.testing.assert_array_equal(one["sources"], four["sources"])
    assert int(one["selected"]) == int(four["selected"])
    for name in one:
        if name.startswith("hp/"):
            np.testing.assert_array_equal(one[name], four[name], err_msg=name)
        elif name.startswith(("history/", "final/")):
            np.testing.assert_allclose(one[name], four[name], rtol=1e-5, atol=1e-5, err_msg=name)
