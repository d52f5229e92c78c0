"""Searches in a sweep (``cs109nn.sweep.search``): the spec's refusals, the grid search's
points, the run folder's record of a search, and resume at rung granularity.

References: the closed form of a distribution's quantiles at cell centres (numpy), the
recorded rungs and lineage read back from the run folder with numpy / pandas, and an
uninterrupted sweep run in the same way (a subprocess on two CPU devices).
"""

from __future__ import annotations

import signal

import numpy as np
import pandas as pd
import pytest

from cs109nn.run_folder_schema import (
    CHECKPOINTS,
    read_arrays,
    search_path,
)
from cs109nn.sweep import SpecError, SweepSpec
from cs109nn.sweep.plan import make_plan
from tests.sweep_subprocess import rows_without_timing, sweep


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"searches": ("grid",)}, "samples = k"),  # no distribution to lay a grid over
        (
            {"searches": ("grid",), "learning_rate": "loguniform(0.01,1)", "momentum":
             "uniform(0,0.9)", "samples": 5},
            r"samples = k \*\* 2",
        ),  # 5 is no square
        ({"searches": ("halving",), "val_fraction": 0.0}, "validation"),
        ({"searches": ("pbt",), "val_fraction": 0.0}, "validation"),
        ({"searches": ("halving",), "steps": (40,), "eval_every": 10, "halving_rungs": 4},
         "rungs"),  # 4 evaluations cannot hold 4 rungs of eta = 3
        ({"searches": ("pbt",), "pbt_fraction": 0.75}, "fraction"),
        ({"searches": ("pbt",), "pbt_factors": (0.8, -1.0)}, "factors"),
        ({"searches": ("none", "random")}, "unknown searches"),
        ({"searches": ("none", "none")}, "repeats"),
    ],
)  # fmt: skip
def test_a_search_the_sweep_cannot_run_is_refused_by_the_spec(fields, says):
    with pytest.raises(SpecError, match=says):
        SweepSpec(**fields)


def test_grid_search_lays_the_quantiles_of_cell_centres_over_the_same_space():
    spec = SweepSpec(
        searches=("none", "grid"),
        learning_rate="loguniform(0.001,1.0)",
        momentum="uniform(0.0,0.9)",
        samples=9,
        seeds=(0, 1),
    )
    plan = make_plan(spec)
    grid_group = next(group for group in plan.groups if group.search == "grid")
    grid = plan.members_of(grid_group)
    centres = (np.arange(3) + 0.5) / 3
    rates = np.exp(np.log(1e-3) + centres * (np.log(1.0) - np.log(1e-3)))  # geometric
    momenta = 0.9 * centres
    expected = [(r, m) for r in rates for m in momenta for _ in (0, 1)]  # seeds fastest
    np.testing.assert_allclose(grid.hparams["learning_rate"], [r for r, _ in expected])
    np.testing.assert_allclose(grid.hparams["momentum"], [m for _, m in expected])
    # the same member count and seeds as the random draws of the other groups
    assert len(grid) == len(plan.members) == 18
    np.testing.assert_array_equal(grid.seeds, plan.members.seeds)
    assert grid_group.group_id.endswith("-grid")


EXPERIMENT = """\
from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="halving",
        datasets=("moons",),
        models=("mlp:8:relu",),
        optimizers=("momentum",),
        steps=(90,),
        batch_sizes=(16,),
        seeds=(0,),
        learning_rate="loguniform(0.003,3.0)",
        momentum="uniform(0.0,0.9)",
        samples=9,
        searches=("halving", "pbt"),
        halving_eta=3,
        halving_rungs=3,
        pbt_every=3,
        eval_every=10,
        n_examples=128,
        checkpoint_seconds=0.0,
    )
"""


def test_a_sweep_killed_between_rungs_resumes_at_the_rung_and_records_the_search(tmp_path):
    experiment, cache = tmp_path / "halving_experiment.py", tmp_path / "jax-cache"
    experiment.write_text(EXPERIMENT)
    reference = tmp_path / "reference"
    done = sweep(experiment, reference, cache)
    assert done.returncode == 0, done.stderr[-3000:]

    out = tmp_path / "killed"
    killed = sweep(experiment, out, cache, fault="after_checkpoint:1")  # after rung 1 of 3
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])
    assert any((out / CHECKPOINTS).rglob("*")), "no rung was checkpointed"
    resumed = sweep(experiment, out, cache)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "continued from its checkpoint after 1 of 3 rungs" in resumed.stderr
    assert rows_without_timing(out) == rows_without_timing(reference)
    for group in (
        "000-moons-mlp_8_relu-momentum-s90-b16-halving",
        "001-moons-mlp_8_relu-momentum-s90-b16-pbt",
    ):
        mine, theirs = (
            read_arrays(search_path(out, group)),
            read_arrays(search_path(reference, group)),
        )
        assert set(mine) == set(theirs)
        for name in theirs:
            np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)
    assert not (out / CHECKPOINTS).exists() or not any((out / CHECKPOINTS).rglob("*"))

    # The record, read back independently: halving's rungs and results agree
    table = pd.read_csv(reference / "results.csv")
    halving = table[table["search"] == "halving"].set_index("member")
    rungs = read_arrays(search_path(reference, "000-moons-mlp_8_relu-momentum-s90-b16-halving"))
    np.testing.assert_array_equal(rungs["rung_stop_step"], [10, 30, 90])
    assert rungs["rung_ran"].sum(axis=1).tolist() == [9, 3, 1]
    for r in range(2):  # the kept: the top third of the rung by validation accuracy, then LL
        ran = np.flatnonzero(rungs["rung_ran"][r])
        ranked = sorted(
            ran, key=lambda m: (-rungs["rung_val_acc"][r, m], -rungs["rung_val_ll"][r, m], m)
        )
        assert set(np.flatnonzero(rungs["rung_kept"][r])) == set(ranked[: len(ran) // 3])
        np.testing.assert_array_equal(rungs["rung_ran"][r + 1], rungs["rung_kept"][r])
    last_rung = [int(np.flatnonzero(row)[-1]) if row.any() else -1 for row in rungs["rung_ran"].T]
    np.testing.assert_array_equal(
        halving["steps_trained"].to_numpy(), rungs["rung_stop_step"][last_rung]
    )
    assert halving["selected"].sum() == 1
    assert bool(halving.loc[np.flatnonzero(rungs["rung_ran"][2])[0], "selected"])

    # PBT: every member trains all steps; lineage hparams are a source's times a factor
    pbt = table[table["search"] == "pbt"].set_index("member")
    assert (pbt["steps_trained"] == 90).all() and pbt["selected"].sum() == 1
    lineage = read_arrays(search_path(reference, "001-moons-mlp_8_relu-momentum-s90-b16-pbt"))
    np.testing.assert_array_equal(lineage["exploit_step"], [30, 60])
    np.testing.assert_allclose(
        lineage["hp_learning_rate"][0], pbt["learning_rate"].to_numpy(), rtol=1e-6
    )
    for g, sources in enumerate(lineage["source"]):
        assert (sources >= 0).sum() == int(0.25 * 9)
        for m, s in enumerate(sources):
            before, after = lineage["hp_learning_rate"][g], lineage["hp_learning_rate"][g + 1]
            if s < 0:
                assert after[m] == before[m]
            else:
                ratio = after[m] / before[s]
                clipped = np.isclose(after[m], [0.003, 3.0], rtol=1e-6).any()
                assert clipped or np.isclose(ratio, [0.8, 1.25], rtol=1e-5).any(), (g, m, ratio)
