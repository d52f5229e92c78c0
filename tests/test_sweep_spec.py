"""Sweep specs, --set overrides, the config hash and the plan (no training here)."""

from __future__ import annotations

import hashlib
import json
import math
import typing

import pytest

from cs109nn.sweep import SpecError, SweepSpec, apply_overrides, config_hash, make_plan
from cs109nn.sweep.distributions import Distribution
from cs109nn.sweep.spec import (
    changed_keys,
    from_config,
    load_experiment,
    to_config,
)
from cs109nn.train import HPARAM_NAMES


def test_spec_has_a_float_grid_or_distribution_field_for_every_engine_hyperparameter():
    hints = typing.get_type_hints(SweepSpec)
    for name in HPARAM_NAMES:
        assert hints[name] == tuple[float, ...] | Distribution, name


def test_overrides_parse_each_value_by_its_field_type():
    spec = apply_overrides(
        SweepSpec(),
        [
            "seeds=0,1,2",
            "steps=200",
            "learning_rate=0.1, 1",
            "momentum=",
            "models=logreg,mlp:32x32:sigmoid,stack:dense=4-relu",
            "save_params=true",
            "dp=0",
            "data_dir=none",
            "n_examples=50",
            "eval_every=5",
            "name=my-run",
        ],
    )
    assert spec.seeds == (0, 1, 2)
    assert spec.steps == (200,)
    assert spec.learning_rate == (0.1, 1.0) and all(type(v) is float for v in spec.learning_rate)
    assert spec.momentum == ()
    assert spec.models == ("logreg", "mlp:32x32:sigmoid", "stack:dense=4-relu")
    assert spec.save_params is True and spec.dp is False
    assert spec.data_dir is None and spec.n_examples == 50 and spec.eval_every == 5
    assert spec.name == "my-run"


def test_overrides_accept_infinity_for_a_float_grid():
    assert apply_overrides(SweepSpec(), ["clip_norm=inf,1.0"]).clip_norm == (math.inf, 1.0)


def test_unknown_override_key_is_refused_with_the_valid_keys_and_a_suggestion():
    with pytest.raises(SpecError) as error:
        apply_overrides(SweepSpec(), ["learning_rates=0.1"])
    message = str(error.value)
    assert "'learning_rates'" in message
    assert "did you mean 'learning_rate'" in message
    for key in ("seeds", "datasets", "models", "steps", "batch_sizes", "save_params"):
        assert key in message


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("steps=abc", ("steps", "int", "'abc'")),
        ("seeds=0,x", ("seeds", "int", "'x'")),
        ("learning_rate=fast", ("learning_rate", "float", "'fast'")),
        ("save_params=maybe", ("save_params", "true or false")),
        ("eval_every=2.5", ("eval_every", "int")),
        ("steps", ("key=value",)),
    ],
)
def test_bad_override_values_are_refused_naming_key_and_expected_type(override, words):
    with pytest.raises(SpecError) as error:
        apply_overrides(SweepSpec(), [override])
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"seeds": (0, 0)},
        {"learning_rate": (0.1, 0.1)},
        {"optimizers": ("lbfgs",)},
        {"steps": (0,)},
        {"datasets": ()},
        {"batch_sizes": (-1,)},
        {"batch_sizes": (0,)},  # full batch is spelt None
        {"eval_every": 0},
        {"learning_rate": (math.nan,)},
        {"name": "a/b"},
        {"seeds": 3},
        {"steps": (1.5,)},
    ],
)
def test_invalid_specs_are_refused(changes):
    with pytest.raises(SpecError):
        SweepSpec(**changes)


def test_lists_and_ints_in_a_config_are_normalised_so_they_hash_alike():
    a = SweepSpec(seeds=[0, 1], learning_rate=[1, 0.5])
    b = SweepSpec(seeds=(0, 1), learning_rate=(1.0, 0.5))
    assert a == b and config_hash(a) == config_hash(b)


def test_config_hash_is_sha256_of_the_canonical_json_of_the_config():
    spec = SweepSpec(seeds=(3, 4), models=("logreg", "mlp:8:relu"), clip_norm=(math.inf,))
    config = {
        "name": "sweep",
        "claim": "",
        "datasets": ["xor"],
        "models": ["logreg", "mlp:8:relu"],
        "optimizers": ["sgd"],
        "schedules": ["constant"],
        "steps": [200],
        "batch_sizes": [None],
        "seeds": [3, 4],
        "learning_rate": [],
        "momentum": [],
        "weight_decay": [],
        "init_scale": [],
        "clip_norm": [math.inf],
        "noise_multiplier": [],
        "train_size": [],
        "warmup_fraction": [],
        "final_fraction": [],
        "decay_rate": [],
        "decay_interval": [],
        "width": [],
        "depth": [],
        "samples": 0,
        "search_seed": 0,
        "searches": ["none"],
        "halving_eta": 3,
        "halving_rungs": 3,
        "pbt_every": 3,
        "pbt_fraction": 0.25,
        "pbt_factors": [0.8, 1.25],
        "eval_every": 10,
        "dp": False,
        "data_dir": None,
        "data_seed": 0,
        "val_fraction": 0.2,
        "n_examples": None,
        "save_params": False,
        "boundary_grid": 0,
        "save_predictions": False,
        "memory_budget": None,
        "checkpoint_seconds": 120.0,
        "checkpoint_every": None,
    }
    assert to_config(spec) == config
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    assert config_hash(spec) == hashlib.sha256(text.encode()).hexdigest()
    assert config_hash(apply_overrides(spec, ["steps=210"])) != config_hash(spec)


def test_config_round_trips_through_json():
    spec = SweepSpec(seeds=(1, 2), clip_norm=(math.inf, 2.0), data_dir="/data", save_params=True)
    text = json.dumps(to_config(spec))
    assert from_config(json.loads(text)) == spec


def test_changed_keys_names_exactly_the_fields_that_differ():
    old = to_config(SweepSpec())
    new = to_config(SweepSpec(steps=(300,), seeds=(0, 1)))
    assert changed_keys(old, new) == ["seeds", "steps"]
    assert changed_keys(old, old) == []


def test_plan_groups_are_the_static_product_in_spec_order():
    spec = SweepSpec(
        datasets=("xor", "cs109:netflix"),
        models=("logreg", "mlp:32x32:sigmoid"),
        optimizers=("sgd", "adam"),
        steps=(100,),
        batch_sizes=(None, 32),
    )
    plan = make_plan(spec)
    expected = [
        (d, m, o, 100, b)
        for d in ("xor", "cs109:netflix")
        for m in ("logreg", "mlp:32x32:sigmoid")
        for o in ("sgd", "adam")
        for b in (None, 32)
    ]
    got = [(g.dataset, g.model, g.optimizer, g.steps, g.batch_size) for g in plan.groups]
    assert got == expected
    ids = [g.group_id for g in plan.groups]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert ids[0] == "000-xor-logreg-sgd-s100-full"
    assert ids[-1] == "015-cs109_netflix-mlp_32x32_sigmoid-adam-s100-b32"
    assert all("/" not in i and ":" not in i for i in ids)


def test_plan_members_vary_seeds_fastest_then_the_grid_in_engine_order():
    spec = SweepSpec(seeds=(7, 3), learning_rate=(0.1, 1.0), momentum=(0.0, 0.9))
    members = make_plan(spec).members
    expected = [(lr, mom, seed) for lr in (0.1, 1.0) for mom in (0.0, 0.9) for seed in (7, 3)]
    got = list(
        zip(
            members.hparams["learning_rate"].tolist(),
            members.hparams["momentum"].tolist(),
            members.seeds.tolist(),
            strict=True,
        )
    )
    assert got == expected
    assert set(members.hparams) == {"learning_rate", "momentum"}  # the rest: engine defaults


def test_plan_counts_models_as_groups_times_members():
    spec = SweepSpec(models=("logreg", "mlp:4"), seeds=tuple(range(5)), init_scale=(0.5, 1.0))
    plan = make_plan(spec)
    assert len(plan.members) == 5 * 1 * 2  # seeds x learning_rate x init_scale
    assert plan.num_models == 2 * 10


def test_load_experiment_calls_get_config_and_lets_a_variant_import_its_base(tmp_path):
    (tmp_path / "base.py").write_text(
        "from cs109nn.sweep import SweepSpec\n"
        "def get_config():\n"
        "    return SweepSpec(name='base', seeds=(0, 1))\n"
    )
    (tmp_path / "variant.py").write_text(
        "import dataclasses\n"
        "import base\n"
        "def get_config():\n"
        "    return dataclasses.replace(base.get_config(), name='variant', steps=(20,))\n"
    )
    spec = load_experiment(tmp_path / "variant.py")
    assert spec == SweepSpec(name="variant", seeds=(0, 1), steps=(20,))
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(SpecError, match="get_config"):
        load_experiment(tmp_path / "empty.py")
    with pytest.raises(SpecError, match="no experiment file"):
        load_experiment(tmp_path / "missing.py")


def test_full_batch_has_one_spelling_none_also_on_the_command_line():
    spec = apply_overrides(SweepSpec(), ["batch_sizes=none,16"])
    assert spec.batch_sizes == (None, 16)
    groups = make_plan(spec).groups
    assert [g.setup.batch_size for g in groups] == [None, 16]
    assert groups[0].group_id.endswith("-full") and groups[1].group_id.endswith("-b16")


def test_eval_every_that_does_not_divide_steps_is_refused_when_planning():
    with pytest.raises(SpecError, match="eval_every=7 must divide steps=20"):
        make_plan(SweepSpec(steps=(20,), eval_every=7))
