"""Learning-rate schedules with traced numbers, against optax's own schedules: step by step,
through whole training runs (a vectorised member vs a solo loop whose learning rate is optax's
schedule object), and by an independent compile counter."""

from __future__ import annotations

import csv
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cs109nn.data import Dataset
from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import Hyperparameters
from cs109nn.models import model_from_spec
from cs109nn.report import write_report
from cs109nn.sweep import SpecError, SweepSpec, apply_overrides, make_plan, run_sweep
from cs109nn.train import (
    TrainSetup,
    learning_rate_schedule,
    make_runner,
    member_keys,
    split_member_key,
)

STEPS = 40
EVAL_EVERY = 10
# vmap and solo runs reduce in different orders: float32 results agree to ~1e-6, not bits.
FLOAT32_TOL = dict(rtol=2e-5, atol=2e-6)


def optax_schedule(kind: str, peak: float, numbers: dict[str, float], steps: int):
    """optax's own schedule of ``kind``, built from concrete numbers as the engine defines them
    (cs109nn.train.schedules): W = round(warmup_fraction T), K = round(decay_interval T)."""
    if kind == "warmup_cosine":
        warmup = round(numbers["warmup_fraction"] * steps)
        end = numbers["final_fraction"] * peak
        return optax.warmup_cosine_decay_schedule(0.0, peak, warmup, steps, end)
    interval = round(numbers["decay_interval"] * steps)
    if kind == "exponential":
        return optax.exponential_decay(peak, interval, numbers["decay_rate"])
    # step decay: x decay_rate at every multiple of K, as optax's piecewise constant schedule
    boundaries = {k * interval: numbers["decay_rate"] for k in range(1, steps // interval + 2)}
    return optax.piecewise_constant_schedule(peak, boundaries)


# (peak, numbers) per member; the numbers of one kind vary across members, the first two of
# each kind away from their defaults (the training runs take those two).
GRIDS = {
    "warmup_cosine": [
        (0.3, {"warmup_fraction": 0.1, "final_fraction": 0.0}),
        (1.0, {"warmup_fraction": 0.25, "final_fraction": 0.5}),
        (0.5, {"warmup_fraction": 0.0, "final_fraction": 0.0}),
        (0.2, {"warmup_fraction": 0.5, "final_fraction": 1.0}),
    ],
    "exponential": [
        (0.5, {"decay_rate": 0.1, "decay_interval": 1.0}),
        (0.3, {"decay_rate": 0.5, "decay_interval": 0.25}),
        (1.0, {"decay_rate": 1.0, "decay_interval": 0.1}),
    ],
    "step": [
        (0.3, {"decay_rate": 0.5, "decay_interval": 0.25}),
        (1.0, {"decay_rate": 0.9, "decay_interval": 0.1}),
        (0.5, {"decay_rate": 0.1, "decay_interval": 0.5}),
    ],
}
TRAINED = 2  # members per kind trained against solo runs (each solo run is its own compile)


def member_grid(kind: str, members: int | None = None) -> Hyperparameters:
    """The first ``members`` (default all) of ``GRIDS[kind]`` as Hyperparameters of float32
    arrays [M]."""
    grid = GRIDS[kind][:members]
    values = {"learning_rate": [peak for peak, _ in grid]}
    for name in grid[0][1]:
        values[name] = [numbers[name] for _, numbers in grid]
    defaults = Hyperparameters()._asdict()
    return Hyperparameters(
        **{
            name: np.asarray(values.get(name, [default] * len(grid)), np.float32)
            for name, default in defaults.items()
        }
    )


@pytest.mark.parametrize("kind", sorted(GRIDS))
def test_a_schedule_with_traced_numbers_equals_optaxs_own_schedule_at_every_step(kind):
    counts = jnp.arange(STEPS + 5, dtype=jnp.int32)  # past the run's end too

    @jax.jit  # the numbers are traced: one program for every member of the grid
    def values(hparams: Hyperparameters) -> jax.Array:
        return jax.vmap(lambda h: jax.vmap(learning_rate_schedule(kind, h, STEPS))(counts))(hparams)

    ours = np.asarray(values(member_grid(kind)))
    for member, (peak, numbers) in enumerate(GRIDS[kind]):
        reference = optax_schedule(kind, peak, numbers, STEPS)
        expected = np.array([reference(int(t)) for t in counts], np.float32)
        np.testing.assert_allclose(ours[member], expected, rtol=1e-6, atol=1e-7)


def test_step_decay_is_optaxs_staircase_exponential_decay_too():
    hparams = member_grid("step")
    for member, (peak, numbers) in enumerate(GRIDS["step"]):
        one = jax.tree.map(lambda a, m=member: a[m], hparams)
        schedule = learning_rate_schedule("step", one, STEPS)
        interval = round(numbers["decay_interval"] * STEPS)
        staircase = optax.exponential_decay(peak, interval, numbers["decay_rate"], staircase=True)
        for t in range(STEPS):
            np.testing.assert_allclose(schedule(t), staircase(t), rtol=1e-6)


def test_the_constant_kind_is_the_learning_rate_itself():
    hparams = Hyperparameters(learning_rate=jnp.float32(0.25))
    assert learning_rate_schedule("constant", hparams, STEPS) is hparams.learning_rate


def small_problem(n: int = 60, m: int = 4, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m)).astype(np.float32)
    y = (x @ rng.normal(size=m) + 0.5 * rng.normal(size=n) > 0).astype(np.int32)
    return Dataset("small", x[:40], y[:40], x[40:], y[40:], tuple(f"x{i}" for i in range(m)))


def optax_optimizer(optimizer: str, schedule, momentum: float, weight_decay: float):
    """The optimizer families of cs109nn.train.optimizers, built here from optax alone, with
    optax's schedule object as the learning rate."""
    if optimizer == "adam":
        return optax.adamw(schedule, b1=momentum, weight_decay=weight_decay)
    beta = momentum if optimizer == "momentum" else None
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(schedule, beta))


def solo_run(model, data: Dataset, seed: int, tx) -> tuple[dict, np.ndarray]:
    """Full-batch training of one member with ``tx``, written here: (final params, train LL
    [T] after every EVAL_EVERY steps). The initial parameters are the member's own (its seed's
    init stream, as every run of the engine draws them)."""
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train).astype(jnp.float32)
    params = model.init(split_member_key(jax.random.key(seed)).init, x[:1])

    def train_ll(p) -> jax.Array:  # the lecture's Bernoulli LL from logits, mean per example
        z = model.apply(p, x)
        return jnp.mean(y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z))

    def step(carry, _):
        p, state = carry
        updates, state = tx.update(jax.grad(lambda q: -train_ll(q))(p), state, p)
        return (optax.apply_updates(p, updates), state), None

    def interval(carry, _):
        carry, _ = jax.lax.scan(step, carry, None, length=EVAL_EVERY)
        return carry, train_ll(carry[0])

    (params, _), curve = jax.jit(
        lambda p: jax.lax.scan(interval, (p, tx.init(p)), None, length=STEPS // EVAL_EVERY)
    )(params)
    return params, np.asarray(curve)


# Adam steps about η in every weight: at the grids' peaks (up to 1) float32 rounding compounds
# past the tolerance in a constant-rate run as well, so its peaks are a tenth of the grid's.
@pytest.mark.parametrize(
    "kind, optimizer, momentum, weight_decay, scale",
    [
        ("warmup_cosine", "momentum", 0.9, 0.01, 1.0),
        ("exponential", "adam", 0.9, 0.01, 0.1),
        ("step", "sgd", 0.0, 0.01, 1.0),
    ],
)
def test_a_schedule_member_trains_as_a_solo_run_with_optaxs_schedule(
    kind, optimizer, momentum, weight_decay, scale
):
    data = small_problem()
    model = model_from_spec("mlp:8:tanh")
    runner = make_runner(
        model, data, optimizer=optimizer, steps=STEPS, eval_every=EVAL_EVERY, schedule=kind
    )
    hparams = member_grid(kind, TRAINED)
    peaks = hparams.learning_rate * np.float32(scale)
    hparams = hparams._replace(learning_rate=peaks, momentum=momentum, weight_decay=weight_decay)
    seeds = [3 + member for member in range(TRAINED)]
    result = runner(member_keys(seeds), hparams)
    for member, (_, numbers) in enumerate(GRIDS[kind][:TRAINED]):
        schedule = optax_schedule(kind, float(peaks[member]), numbers, STEPS)
        tx = optax_optimizer(optimizer, schedule, momentum, weight_decay)
        params, curve = solo_run(model, data, seeds[member], tx)
        np.testing.assert_allclose(result.history["train_ll"][member], curve, **FLOAT32_TOL)
        for ours, theirs in zip(
            jax.tree.leaves(result.params), jax.tree.leaves(params), strict=True
        ):
            np.testing.assert_allclose(ours[member], theirs, **FLOAT32_TOL)
        assert result.diverged_step[member] == -1


def test_a_schedule_grid_of_one_group_compiles_once(count_compiles, tmp_path):
    spec = SweepSpec(
        name="schedules",
        datasets=("xor",),
        models=("logreg",),
        schedules=("warmup_cosine",),
        steps=(20,),
        eval_every=10,
        n_examples=60,
        seeds=(0, 1),
        learning_rate=(0.3, 1.0),
        warmup_fraction=(0.0, 0.1, 0.2),
        final_fraction=(0.0, 0.5),
    )
    assert len(make_plan(spec).groups) == 1
    with count_compiles() as compiles:
        run_dir = run_sweep(spec, tmp_path / "run")
    assert compiles.programs == 1  # 24 members of 12 schedule values: one training program
    with open(run_dir / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 * 2 * 3 * 2
    assert {row["schedule"] for row in rows} == {"warmup_cosine"}
    names = ("learning_rate", "warmup_fraction", "final_fraction")
    recorded = {tuple(float(row[name]) for name in names) for row in rows}
    assert recorded == {(lr, w, f) for lr in (0.3, 1.0) for w in (0.0, 0.1, 0.2) for f in (0, 0.5)}


def test_schedule_kinds_are_static_groups_and_ids_of_constant_runs_are_unchanged():
    spec = SweepSpec(schedules=("constant", "step"), optimizers=("sgd", "adam"), decay_rate=(0.5,))
    groups = make_plan(spec).groups
    assert [(g.optimizer, g.schedule) for g in groups] == [
        ("sgd", "constant"),
        ("sgd", "step"),
        ("adam", "constant"),
        ("adam", "step"),
    ]
    assert [g.group_id for g in groups] == [
        "000-xor-logreg-sgd-s200-full",
        "001-xor-logreg-sgd-step-s200-full",
        "002-xor-logreg-adam-s200-full",
        "003-xor-logreg-adam-step-s200-full",
    ]
    assert groups[1].setup == dataclasses.replace(groups[0].setup, schedule="step")


def test_schedules_parse_from_the_command_line():
    spec = apply_overrides(
        SweepSpec(), ["schedules=warmup_cosine", "warmup_fraction=0.05,0.1", "final_fraction=0"]
    )
    assert spec.schedules == ("warmup_cosine",)
    assert spec.warmup_fraction == (0.05, 0.1) and spec.final_fraction == (0.0,)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"schedules": ("cosine",)}, "unknown schedules"),
        ({"warmup_fraction": (0.1,)}, "read by the schedules"),
        (
            {"schedules": ("constant", "warmup_cosine"), "warmup_fraction": (0.0, 0.1)},
            "does not read it",
        ),
        ({"schedules": ("warmup_cosine",), "warmup_fraction": (1.0,)}, r"warmup_fraction must"),
        ({"schedules": ("step",), "decay_rate": (0.0,)}, r"decay_rate must lie in \(0, 1\]"),
        ({"schedules": ("step",), "decay_interval": (1.5,)}, "decay_interval must"),
    ],
)
def test_a_spec_refuses_schedules_and_numbers_it_cannot_use(changes, message):
    with pytest.raises(SpecError, match=message):
        SweepSpec(**changes)


def test_a_train_setup_refuses_an_unknown_schedule():
    with pytest.raises(ConfigError, match="unknown schedule 'cosine'"):
        TrainSetup(steps=10, schedule="cosine")


def test_the_report_tells_configs_apart_by_their_schedule_kind(tmp_path):
    spec = SweepSpec(
        name="kinds",
        datasets=("xor",),
        models=("logreg",),
        schedules=("constant", "exponential"),
        steps=(10,),
        eval_every=10,
        n_examples=40,
        seeds=(0, 1),
        learning_rate=(0.3, 1.0),
        decay_rate=(0.1,),
    )
    run_dir = run_sweep(spec, tmp_path / "run")
    report = write_report(run_dir).read_text()
    assert "schedule=exponential" in report
    assert list((run_dir / "figures").glob("accuracy_vs_learning_rate_*.png"))
