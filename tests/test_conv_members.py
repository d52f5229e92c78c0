"""Conv-net members: the package's conv layers compute patches @ kernel (equal to XLA's own
convolution, flax's ``nn.Conv`` without the patch function), so the engine vectorises them over
members like dense layers, and each member equals a solo run of the same member -- with
per-example gradients too (gradient statistics, DP-SGD), vectorised and one by one."""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import pytest

from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.models.patch_conv import patch_conv_general_dilated
from cs109nn.train import (
    as_arrays,
    choose_chunk_size,
    make_runner,
    make_train,
    member_hyperparameters,
    member_keys,
)


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((1, 2), (0, 1))])
@pytest.mark.parametrize(("strides", "dilation"), [((1, 1), (1, 1)), ((2, 1), (1, 2))])
def test_patch_convolution_is_xlas_convolution(padding, strides, dilation):
    x = jax.random.normal(jax.random.key(0), (5, 8, 7, 3))
    options = dict(strides=strides, padding=padding, kernel_dilation=dilation)
    xla = nn.Conv(4, (3, 2), **options)
    params = xla.init(jax.random.key(1), x)
    patched = nn.Conv(4, (3, 2), conv_general_dilated=patch_conv_general_dilated, **options)
    np.testing.assert_allclose(patched.apply(params, x), xla.apply(params, x), atol=2e-6)


def test_conv_members_are_vectorised_and_equal_solo_runs():
    data = load_dataset("digits", n=240, val_fraction=0.2)
    model = model_from_spec("convnet:4x8", num_classes=data.num_classes)
    x = np.asarray(data.x_train)
    assert choose_chunk_size(model, x, 32, 6) > 1  # no convolution left to map one by one
    options = dict(optimizer="adam", steps=12, eval_every=4, batch_size=32)
    seeds, lrs = [0, 1, 2], [0.01, 0.03, 0.003]
    together = make_runner(model, data, **options)(member_keys(seeds), {"learning_rate": lrs})
    solo_runner = make_runner(model, data, devices=jax.devices()[:1], chunk_size=1, **options)
    for i, (seed, lr) in enumerate(zip(seeds, lrs, strict=True)):
        solo = solo_runner(member_keys([seed]), {"learning_rate": [lr]})
        for name in ("train_ll", "val_ll", "test_ll"):
            np.testing.assert_allclose(
                together.history[name][i], solo.history[name][0], rtol=1e-4, atol=1e-5
            )
        for a, b in zip(
            jax.tree.leaves(together.params), jax.tree.leaves(solo.params), strict=True
        ):
            np.testing.assert_allclose(a[i], b[0], rtol=1e-4, atol=1e-5)


def test_conv_members_with_statistics_and_dp_equal_solo_members():
    # Per-example gradients of a conv net under a vmap over members, on the training split all
    # members share: the full-batch DP step and the gradient statistics both take it (the case
    # that vmap(grad) over examples has no conv batching rule for). Compiles dominate: one
    # setup with both, three programs (vectorised, mapped, solo).
    data = load_dataset("digits", n=150, val_fraction=0.2)
    model = model_from_spec("convnet:3x4", num_classes=data.num_classes)
    options = dict(steps=4, eval_every=2, gradient_statistics=True, dp=True, batch_size=None)
    seeds = [0, 1]
    values = {"learning_rate": [0.1, 0.3], "clip_norm": [0.5, 2.0], "noise_multiplier": [0.5, 1.0]}
    # The reference: make_train's member function jitted alone, one member at a time.
    solo_train = jax.jit(make_train(model, **options))
    hparams = member_hyperparameters(values, len(seeds), np.float32)
    solo = [
        jax.device_get(
            solo_train(
                as_arrays(data), member_keys([seed])[0], jax.tree.map(lambda a, i=i: a[i], hparams)
            )
        )
        for i, seed in enumerate(seeds)
    ]
    for chunk in (2, 1):  # vectorised (a GPU's choice) and mapped (the CPU default)
        run = make_runner(model, data, chunk_size=chunk, **options)(member_keys(seeds), values)
        assert np.all(np.isfinite(run.history["grad_norm_mean"]))
        for i in range(len(seeds)):
            for name, curve in solo[i].history.items():
                np.testing.assert_allclose(
                    run.history[name][i], curve, rtol=2e-4, atol=1e-5, err_msg=f"{chunk} {name}"
                )
            leaves = zip(jax.tree.leaves(run.params), jax.tree.leaves(solo[i].params), strict=True)
            for a, b in leaves:
                np.testing.assert_allclose(a[i], b, rtol=2e-4, atol=1e-5)
