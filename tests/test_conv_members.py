"""Conv-net members: the engine maps them one by one on a CPU (a vmapped convolution is a slow
grouped one there), and each equals a solo run of the same member."""

from __future__ import annotations

import jax
import numpy as np

from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.train import choose_chunk_size, make_runner, member_keys


def test_conv_members_are_mapped_and_equal_solo_runs():
    data = load_dataset("digits", n=240, val_fraction=0.2)
    model = model_from_spec("convnet:4x8", num_classes=data.num_classes)
    mlp = model_from_spec("softmax-mlp:16:relu", num_classes=data.num_classes)
    x = np.asarray(data.x_train)
    assert choose_chunk_size(model, x, 32, 6) == 1  # lax.map over members on a CPU
    assert choose_chunk_size(mlp, x, 32, 6) > 1  # dense layers stay vectorised
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
