"""Random search: distributions in a sweep spec, their draws (reproducible, independent of the
device count, of the stated distribution) and how they combine with grids and seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import jax
import numpy as np
import pytest
import scipy.stats

from cs109nn import run_folder_schema as schema
from cs109nn.hyperparameters import HPARAM_NAMES
from cs109nn.sweep import (
    SpecError,
    SweepSpec,
    apply_overrides,
    config_hash,
    make_plan,
    run_sweep,
)
from cs109nn.sweep.distributions import Distribution, draw_samples, parse_distribution
from cs109nn.sweep.spec import from_config, to_config
from tests.conftest import REPO

LOGUNIFORM = "loguniform(1e-3, 1)"


def drawn(spec: SweepSpec) -> dict[str, np.ndarray]:
    return make_plan(spec).members.hparams


def test_the_written_form_parses_to_a_canonical_string():
    distribution = parse_distribution(" loguniform( 1e-3 ,1 ) ")
    assert distribution == Distribution("loguniform", (0.001, 1.0))
    assert str(distribution) == "loguniform(0.001,1.0)"
    assert str(parse_distribution("choice(0, .5, inf)")) == "choice(0.0,0.5,inf)"
    assert parse_distribution(str(distribution)) == distribution


def test_the_same_search_seed_draws_the_same_values_and_another_seed_others():
    spec = SweepSpec(learning_rate=LOGUNIFORM, momentum="uniform(0, 0.9)", samples=8)
    first, again = drawn(spec), drawn(SweepSpec(**to_config(spec)))
    other = drawn(SweepSpec(**{**to_config(spec), "search_seed": 1}))
    for name in ("learning_rate", "momentum"):
        np.testing.assert_array_equal(first[name], again[name])
        assert not np.isin(first[name], other[name]).any()
        assert len(set(first[name].tolist())) == 8  # eight distinct draws


def test_a_fields_draws_depend_on_neither_the_other_fields_nor_the_sample_count():
    alone = drawn(SweepSpec(learning_rate=LOGUNIFORM, samples=4))["learning_rate"]
    beside = drawn(SweepSpec(learning_rate=LOGUNIFORM, momentum="choice(0,0.9)", samples=8))
    np.testing.assert_array_equal(beside["learning_rate"][:4], alone)  # more samples extend


def test_draws_are_numpy_pcg64_keyed_by_the_search_seed_and_the_field_name():
    # a stored config must reproduce its draws on any device and in later versions: the
    # stream is pinned, restated here from numpy alone
    values = draw_samples({"momentum": parse_distribution("uniform(0.2,0.7)")}, 5, 7)["momentum"]
    key = np.random.SeedSequence([7, zlib.crc32(b"momentum")])
    expected = 0.2 + (0.7 - 0.2) * np.random.Generator(np.random.PCG64(key)).random(5)
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("loguniform(1e-3,1)", scipy.stats.loguniform(1e-3, 1.0)),
        ("uniform(0,0.9)", scipy.stats.uniform(0.0, 0.9)),  # loc, scale
    ],
)
def test_continuous_draws_have_the_stated_distribution(text, reference):
    values = draw_samples({"learning_rate": parse_distribution(text)}, 2000, 0)["learning_rate"]
    assert scipy.stats.kstest(values, reference.cdf).pvalue > 1e-3


def test_choice_draws_each_value_equally_often():
    values = (0.0, 0.5, 0.9, 0.99)
    draws = draw_samples({"momentum": Distribution("choice", values)}, 2000, 0)["momentum"]
    counts = [int(np.sum(draws == v)) for v in values]
    assert sum(counts) == 2000  # nothing but the listed values
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_members_are_grid_points_times_samples_times_seeds_seeds_fastest():
    spec = SweepSpec(
        seeds=(5, 6), init_scale=(0.5, 2.0), learning_rate=LOGUNIFORM, samples=3, search_seed=4
    )
    members = make_plan(spec).members
    assert len(members) == 2 * 3 * 2
    draws = draw_samples({"learning_rate": parse_distribution(LOGUNIFORM)}, 3, 4)["learning_rate"]
    expected = [
        (scale, float(draws[k]), seed) for scale in (0.5, 2.0) for k in range(3) for seed in (5, 6)
    ]
    got = list(
        zip(
            members.hparams["init_scale"].tolist(),
            members.hparams["learning_rate"].tolist(),
            members.seeds.tolist(),
            strict=True,
        )
    )
    assert got == expected
    assert list(members.hparams) == ["learning_rate", "init_scale"]  # HPARAM_NAMES order


def test_a_sample_is_a_joint_draw_of_every_distribution_field():
    spec = SweepSpec(learning_rate=LOGUNIFORM, momentum="choice(0,0.5,0.9)", samples=6)
    members = make_plan(spec).members
    assert len(members) == 6
    pairs = set(zip(members.hparams["learning_rate"], members.hparams["momentum"], strict=True))
    assert len(pairs) == 6  # one member per draw, not a product of the two fields' draws


def test_config_round_trips_distributions_through_json_and_hashes_their_canonical_form():
    spec = SweepSpec(learning_rate="loguniform(0.001, 1.0)", clip_norm="choice(1, inf)", samples=4)
    config = to_config(spec)
    assert config["learning_rate"] == "loguniform(0.001,1.0)"
    assert config["clip_norm"] == "choice(1.0,inf)"
    assert config["samples"] == 4 and config["search_seed"] == 0
    assert from_config(json.loads(json.dumps(config))) == spec
    same = SweepSpec(learning_rate="loguniform(1e-3,1)", clip_norm="choice(1,inf)", samples=4)
    assert config_hash(same) == config_hash(spec)
    assert config_hash(apply_overrides(spec, ["search_seed=1"])) != config_hash(spec)


def test_overrides_set_a_distribution_and_the_sample_count():
    spec = apply_overrides(SweepSpec(), ["learning_rate=loguniform(1e-3,1)", "samples=8"])
    assert spec.learning_rate == Distribution("loguniform", (1e-3, 1.0))
    assert spec.samples == 8 and len(make_plan(spec).members) == 8
    back = apply_overrides(spec, ["learning_rate=0.1,1", "samples=0"])  # back to a grid
    assert back.learning_rate == (0.1, 1.0)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"learning_rate": "loguniform(0,1)", "samples": 2}, ("loguniform", "low > 0", "0.0")),
        ({"learning_rate": "uniform(0,1)", "samples": 2}, ("learning_rate=uniform", "0.0")),
        ({"momentum": "uniform(0.5,1)", "samples": 2}, ("momentum=uniform", "[0, 1)", "1.0")),
        ({"momentum": "choice(0,1.5)", "samples": 2}, ("momentum=choice", "1.5")),
        ({"momentum": "uniform(0.9,0.1)", "samples": 2}, ("momentum", "low < high")),
        ({"momentum": "choice(0.5,0.5)", "samples": 2}, ("momentum", "repeats")),
        ({"momentum": "gauss(0,1)", "samples": 2}, ("unknown distribution", "loguniform")),
        ({"momentum": "uniform(0,x)", "samples": 2}, ("momentum", "numbers")),
        ({"momentum": "0.5", "samples": 2}, ("momentum", "neither grid values")),
        ({"learning_rate": LOGUNIFORM}, ("learning_rate=loguniform(0.001,1.0)", "samples=0")),
        ({"samples": 4}, ("samples=4", "no hyperparameter holds a distribution")),
        ({"learning_rate": LOGUNIFORM, "samples": -1}, ("samples must be >= 0",)),
        ({"learning_rate": LOGUNIFORM, "samples": 2, "search_seed": -1}, ("search_seed",)),
        ({"width": "choice(4,8)", "samples": 2}, ("width takes grid values only",)),
    ],
)
def test_bad_distributions_and_sample_counts_are_refused_naming_what_is_wrong(changes, words):
    with pytest.raises(SpecError) as error:
        SweepSpec(**changes)
    for word in words:
        assert word in str(error.value)


def test_a_schedule_number_drawn_for_a_kind_that_ignores_it_is_refused():
    with pytest.raises(SpecError, match="warmup_fraction has 4 values"):
        SweepSpec(
            schedules=("constant", "warmup_cosine"), warmup_fraction="uniform(0,0.5)", samples=4
        )


SEARCH = SweepSpec(
    name="search",
    datasets=("xor",),
    steps=(20,),
    seeds=(0, 1),
    n_examples=64,
    learning_rate="loguniform(1e-2,1)",
    momentum="choice(0,0.5,0.9)",
    samples=3,
    checkpoint_seconds=None,
)
# the same sweep in a process of its own, on the number of CPU devices it is given
_SWEEP = """
import json, sys
import jax
from cs109nn.sweep import from_config, run_sweep
run_sweep(from_config(json.loads(sys.argv[1])), sys.argv[2])
print(jax.device_count())
"""


@pytest.mark.slow
def test_results_record_the_same_drawn_values_on_another_device_count(tmp_path):
    # the draws are host numpy: another device count writes the same cells, bit for bit
    devices = jax.device_count() + 1
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(devices), JAX_PLATFORMS="cpu")
    config = json.dumps(to_config(SEARCH))
    with subprocess.Popen(  # beside this process's own run of the sweep
        [sys.executable, "-c", _SWEEP, config, str(tmp_path / "other")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as other_run:
        run_sweep(SEARCH, tmp_path / "here")
        stdout, _ = other_run.communicate(timeout=300)
    assert other_run.returncode == 0
    assert stdout.split()[-1] == str(devices)
    header, here = schema.read_results(tmp_path / "here")
    _, other = schema.read_results(tmp_path / "other")
    columns = [header.index(name) for name in ("member", "seed", *HPARAM_NAMES)]
    assert len(here) == 3 * 2
    assert [[row[c] for c in columns] for row in here] == [
        [row[c] for c in columns] for row in other
    ]
    # results.csv holds the draws, and the manifest's config reproduces them
    manifest = schema.read_manifest(tmp_path / "here")
    assert manifest["config"]["momentum"] == "choice(0.0,0.5,0.9)"
    members = make_plan(from_config(manifest["config"])).members
    for name in ("learning_rate", "momentum"):
        cells = [float(row[header.index(name)]) for row in here]
        np.testing.assert_array_equal(cells, members.hparams[name])
    assert len({float(row[header.index("learning_rate")]) for row in here}) == 3
