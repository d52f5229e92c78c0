"""Checkpoints inside long groups (``cs109nn.train.checkpoints``).

A group trained in segments gives the bits of one program for the whole run; a sweep killed
(SIGKILL) right after a group's checkpoint and run again continues that group from the
checkpoint, and ends with the rows and curves of an uninterrupted run, bit for bit (the same
device count), with no checkpoint left behind -- in one process, and in two processes joined by
jax.distributed on 127.0.0.1 (orbax writes each process's shards into one checkpoint).
"""

from __future__ import annotations

import signal

import jax
import numpy as np
import pytest

from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.run_folder_schema import (
    CHECKPOINTS,
    curves_path,
    read_arrays,
    read_results,
)
from cs109nn.train import make_runner, member_keys
from cs109nn.train.checkpoints import CheckpointPolicy, segment_intervals
from tests.sweep_subprocess import rows_without_timing, sweep, sweep_processes


def test_segments_divide_the_evaluations_evenly():
    assert segment_intervals(100) == 10 and segment_intervals(16) == 2
    assert segment_intervals(7) == 1 and segment_intervals(1) == 1  # a prime: one per segment
    assert segment_intervals(10, every=3) == 3 and segment_intervals(2, every=5) == 2


def test_a_run_in_segments_is_the_one_program_run_bit_for_bit(tmp_path):
    data = load_dataset("moons", n=64)
    model = model_from_spec("mlp:8:tanh")
    runner = make_runner(model, data, steps=60, eval_every=6, optimizer="adam", batch_size=16)
    keys, hparams = member_keys([0, 1, 2, 3]), {"learning_rate": [0.01, 0.1, 3.0, 1e6]}
    whole = runner(keys, hparams)
    for every in (3, 4):  # 10 evaluations: segments 3+3+3+1 (two programs) and 4+4+2
        policy = CheckpointPolicy(tmp_path / f"every{every}", every=every, seconds=0.0)
        parts = runner(keys, hparams, checkpoints=policy)
        assert parts.resumed_intervals == 0
        np.testing.assert_array_equal(parts.diverged_step, whole.diverged_step)
        for name, curve in whole.history.items():
            np.testing.assert_array_equal(parts.history[name], curve, err_msg=name)
        jax.tree.map(np.testing.assert_array_equal, parts.params, whole.params)
        assert not policy.directory.exists()  # saved every segment, removed at the end


EXPERIMENT = """\
from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="checkpoints",
        datasets=("moons",),
        models=("mlp:16:relu",),
        optimizers=("adam",),
        steps=(400,),
        batch_sizes=(16,),
        seeds=(0, 1, 2),
        learning_rate=(0.003, 0.03),
        eval_every=40,
        n_examples=128,
        checkpoint_seconds=0.0,
        checkpoint_every=2,
    )
"""


@pytest.mark.slow
def test_a_sweep_killed_after_a_checkpoint_continues_from_it_and_ends_bit_for_bit(tmp_path):
    experiment, cache = tmp_path / "checkpoints_experiment.py", tmp_path / "jax-cache"
    experiment.write_text(EXPERIMENT)
    reference = tmp_path / "reference"
    done = sweep(experiment, reference, cache)
    assert done.returncode == 0, done.stderr[-3000:]
    (group,) = [path.stem for path in (reference / "curves").glob("*.npz")]

    out = tmp_path / "killed"
    killed = sweep(experiment, out, cache, fault="after_checkpoint:2")
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])
    # killed after the second save: 4 of 10 evaluations on disk, the group not recorded
    saved = list((out / CHECKPOINTS / group).glob("*/4"))
    assert saved, sorted(str(p) for p in (out / CHECKPOINTS).rglob("*"))
    assert not (out / "results.csv").exists() or len(read_results(out)[1]) == 0

    resumed = sweep(experiment, out, cache)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"group {group}: continued from its checkpoint after 4 of 10" in resumed.stderr
    assert rows_without_timing(out) == rows_without_timing(reference)
    assert_same_curves(out, reference, group)
    assert not any((out / CHECKPOINTS).rglob("*")), "a finished group left its checkpoints"


def assert_same_curves(out, reference, group: str) -> None:
    mine, theirs = read_arrays(curves_path(out, group)), read_arrays(curves_path(reference, group))
    assert set(mine) == set(theirs)
    for name in theirs:
        np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


@pytest.mark.slow
def test_two_processes_killed_after_a_checkpoint_continue_from_it_bit_for_bit(tmp_path):
    """Multi-host: 2 processes × 2 CPU devices. Both are SIGKILLed right after the group's second
    save; two processes started again restore every member's state (each process its own
    shards) and end with the rows and curves of an uninterrupted two-process run."""
    experiment, cache = tmp_path / "checkpoints_experiment.py", tmp_path / "jax-cache"
    experiment.write_text(EXPERIMENT)
    reference = tmp_path / "reference"
    done = sweep_processes(experiment, reference, cache)
    assert [code for code, _ in done] == [0, 0], "\n".join(log[-3000:] for _, log in done)
    (group,) = [path.stem for path in (reference / "curves").glob("*.npz")]

    out = tmp_path / "killed"
    killed = sweep_processes(experiment, out, cache, fault="after_checkpoint:2")
    assert [code for code, _ in killed] == [-signal.SIGKILL] * 2, [log[-2000:] for _, log in killed]
    (saved,) = list((out / CHECKPOINTS / group).glob("*devices4/4"))
    assert (saved / "commit_success.txt").exists()  # the save completed before the kill

    resumed = sweep_processes(experiment, out, cache)
    assert [code for code, _ in resumed] == [0, 0], "\n".join(log[-3000:] for _, log in resumed)
    assert f"group {group}: continued from its checkpoint after 4 of 10" in resumed[0][1]
    assert rows_without_timing(out) == rows_without_timing(reference)
    assert_same_curves(out, reference, group)
    assert not any((out / CHECKPOINTS).rglob("*")), "a finished group left its checkpoints"
