"""The runner's cheap divergence bookkeeping against the per-step rule it replaces.

``Trainer.advance_members`` checks finiteness once per evaluation interval and replays the
interval with the per-step rule only when a running member ended it non-finite;
``Trainer.train`` applies the per-step rule at every step (vmapped here by jax itself). On
members that diverge inside an interval, at an evaluation (the LL bound) and never, both must
give the same diverged steps exactly, and the same frozen parameters and curves (to float32
rounding: the two are different programs, whose fusions may round differently).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from jax import lax

from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.train import as_arrays, make_runner, make_train, member_hyperparameters, member_keys

EVAL_EVERY = 10
STEPS = 60
# From harmless to absurd: with momentum these members diverge at different steps, some with
# a non-finite gradient or parameters mid-interval, some by leaving the LL bound at an
# evaluation, some never. The test asserts that spread, so it cannot quietly lose a case.
LEARNING_RATES = np.array([0.05, 1.0, 30.0, 1e3, 1e5, 1e8, 1e12, 1e20, 1e30], np.float32)


def per_step_rule(model, options, data, keys, hparams, chunk: int):
    """``make_train``'s per-step rule, vmapped by jax over chunks of ``chunk`` members and
    lax.map-ped over the chunks: the runner's placement, without its rule."""
    train = jax.vmap(make_train(model, **options), in_axes=(None, 0, 0))
    members = len(keys)
    split = lambda a: a.reshape(members // chunk, chunk, *a.shape[1:])  # noqa: E731
    hp = member_hyperparameters(hparams, members, np.float32)

    @jax.jit
    def run(arrays, keys, hp):
        out = lax.map(lambda kh: train(arrays, *kh), jax.tree.map(split, (keys, hp)))
        return jax.tree.map(lambda a: a.reshape(members, *a.shape[2:]), out)

    return jax.device_get(run(as_arrays(data), keys, hp))


# (activation, members per chunk): all nine at once, and a replay shared by a chunk of three
@pytest.mark.parametrize(("activation", "chunk"), [("relu", 9), ("relu", 3), ("sigmoid", 3)])
def test_interval_checks_give_the_per_step_rule_exactly(activation, chunk):
    data = load_dataset("spirals", n=64)
    model = model_from_spec(f"mlp:12:{activation}", num_classes=data.num_classes)
    options = dict(steps=STEPS, eval_every=EVAL_EVERY, optimizer="momentum")
    seeds = np.arange(len(LEARNING_RATES)) % 3
    hparams = {"learning_rate": LEARNING_RATES}

    reference = per_step_rule(model, options, data, member_keys(seeds), hparams, chunk)
    steps = np.asarray(reference.diverged_step)
    diverged = steps[steps >= 0]
    assert (steps == -1).any(), steps
    assert (diverged % EVAL_EVERY == 0).any(), f"no member left the LL bound: {diverged}"
    if activation == "relu":  # (a sigmoid's gradient stays finite: the bound catches it)
        assert (diverged % EVAL_EVERY != 0).any(), f"none diverged mid-interval: {diverged}"

    run = make_runner(model, data, chunk_size=chunk, devices=jax.devices()[:1], **options)(
        member_keys(seeds), hparams
    )
    np.testing.assert_array_equal(run.diverged_step, steps)
    for name, curve in run.history.items():
        np.testing.assert_array_equal(curve, reference.history[name], err_msg=name)
        assert np.isfinite(curve).all(), name  # frozen members' curves stay finite
    jax.tree.map(np.testing.assert_array_equal, run.params, reference.params)
