"""Train a fixed small sweep and save everything; run as a subprocess with N CPU devices.

Usage: python -m tests.device_run OUT.npz   (set JAX_NUM_CPU_DEVICES before starting).
"""

from __future__ import annotations

import sys

import jax
import numpy as np

from cs109nn.data import load_dataset
from cs109nn.models import model_from_spec
from cs109nn.train import make_runner, member_keys

SEEDS = [0, 1, 2, 3, 4]  # 5 members: padded to a multiple of the device count


def main(out: str) -> None:
    data = load_dataset("moons", n=200)
    model = model_from_spec("mlp:8:tanh")
    hp = {
        # member 2: a step size so small that its kernels keep their initial bits (|update| <
        # 1e-27 against entries far above 1e-20); the learning rate must be > 0
        "learning_rate": [0.3, 0.1, 1e-30, 0.2, 0.05],
        "clip_norm": [1.0] * 5,
        "noise_multiplier": [0.5] * 5,
    }
    trainer = make_runner(
        model,
        data,
        optimizer="momentum",
        steps=30,
        batch_size=32,
        eval_every=10,
        dp=True,
        chunk_size=1,
    )
    result = trainer(member_keys(SEEDS), hp)
    saved = {f"history/{k}": v for k, v in result.history.items()}
    for path, leaf in jax.tree_util.tree_leaves_with_path(result.params):
        saved["params" + jax.tree_util.keystr(path)] = leaf
    saved["diverged_step"] = result.diverged_step
    saved["num_devices"] = np.asarray(len(jax.devices()))
    np.savez(out, **saved)


if __name__ == "__main__":
    main(sys.argv[1])
