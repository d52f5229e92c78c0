"""1 vs 8 CPU devices: same numbers within float32 tolerance, same random streams bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO


def run_with_devices(tmp_path, *counts: int) -> list[dict[str, np.ndarray]]:
    """One process per device count, all started at once (independent runs: they overlap
    their start-up and compiles on a multi-core machine), each's saved arrays."""
    outs = [tmp_path / f"devices-{count}.npz" for count in counts]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.device_run", str(out)],
            cwd=REPO,
            env=dict(os.environ, JAX_NUM_CPU_DEVICES=str(count), JAX_PLATFORMS="cpu"),
        )
        for count, out in zip(counts, outs, strict=True)
    ]
    try:
        codes = [process.wait(timeout=300) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert codes == [0] * len(counts), codes
    results = []
    for out in outs:
        with np.load(out) as saved:
            results.append(dict(saved))
    return results


def test_one_and_eight_devices_agree(tmp_path):
    one, eight = run_with_devices(tmp_path, 1, 8)
    assert int(one["num_devices"]) == 1 and int(eight["num_devices"]) == 8
    assert one.keys() == eight.keys()
    for name in one.keys() - {"num_devices"}:
        np.testing.assert_allclose(one[name], eight[name], rtol=2e-5, atol=2e-6, err_msg=name)
    # Member 2 has learning rate 1e-30: its kernels are its initialisation, drawn from its own
    # key whatever the device count, and must match bit for bit -- on 1 and 8 devices and as a
    # solo init from jax.random.key(2), computed here.
    import jax

    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import split_member_key

    model = model_from_spec("mlp:8:tanh")
    x = load_dataset("moons", n=200).x_train
    solo = model.init(split_member_key(jax.random.key(2)).init, x[:1])
    kernels = {
        "params" + jax.tree_util.keystr(path): leaf
        for path, leaf in jax.tree_util.tree_leaves_with_path(solo)
        if path[-1].key == "kernel"
    }
    assert len(kernels) == 2
    for name, leaf in kernels.items():
        np.testing.assert_array_equal(one[name][2], np.asarray(leaf), err_msg=name)
        np.testing.assert_array_equal(eight[name][2], np.asarray(leaf), err_msg=name)
