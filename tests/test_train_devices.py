"""1 vs 8 CPU devices: same numbers within float32 tolerance, same random streams bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from tests.conftest import REPO


def run_with_devices(tmp_path, count: int) -> dict[str, np.ndarray]:
    out = tmp_path / f"devices-{count}.npz"
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(count), JAX_PLATFORMS="cpu")
    subprocess.run(
        [sys.executable, "-m", "tests.device_run", str(out)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )
    with np.load(out) as saved:
        return dict(saved)


def test_one_and_eight_devices_agree(tmp_path):
    one, eight = run_with_devices(tmp_path, 1), run_with_devices(tmp_path, 8)
    assert int(one["num_devices"]) == 1 and int(eight["num_devices"]) == 8
    assert one.keys() == eight.keys()
    for name in one.keys() - {"num_devices"}:
        np.testing.assert_allclose(one[name], eight[name], rtol=2e-5, atol=2e-6, err_msg=name)
    # Member 2 has learning rate 0: its parameters are its initialisation, drawn from its own
    # key whatever the device count, and must match bit for bit.
    for name in one:
        if name.startswith("params"):
            np.testing.assert_array_equal(one[name][2], eight[name][2], err_msg=name)
