"""The write side of the run folder that needs JAX: the environment a result's bits depend on,
params as named arrays, and the time. Everything else about the folder -- file names, columns,
cells, manifest, arrays -- is :mod:`cs109nn.run_folder_schema`, re-exported here for the sweep.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import jax
import numpy as np

import cs109nn
from cs109nn.run_folder_schema import (  # noqa: F401  (re-exported for the sweep)
    CONFIG_COLUMNS,
    CURVES,
    DIVERGENCE_COLUMNS,
    MANIFEST,
    MANIFEST_FORMAT,
    MEMBER_COLUMNS,
    PARAMS,
    RESULTS,
    RUN_FOLDER_ENTRIES,
    SEARCH_COLUMNS,
    TEST_METRICS,
    TIMING_COLUMNS,
    TRAIN_METRICS,
    VAL_METRICS,
    batch_size_cell,
    curves_path,
    delete_run,
    format_value,
    params_path,
    read_manifest,
    read_results,
    write_arrays,
    write_curves,
    write_manifest,
    write_results,
)


def flatten_params(params: Any) -> dict[str, np.ndarray]:
    """A params pytree as ``{"path/to/leaf": array}`` (each leaf keeps its leading axis)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(params)
    return {
        jax.tree_util.keystr(path, simple=True, separator="/"): np.asarray(leaf)
        for path, leaf in leaves
    }


def now() -> str:
    """The current time, ISO 8601 in UTC to the second."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def environment() -> dict[str, Any]:
    """What a result's bits depend on beyond the config: versions, numerics flags, devices."""
    devices = jax.devices()
    return {
        "versions": {
            "python": platform.python_version(),
            **{name: _version(name) for name in ("jax", "jaxlib", "flax", "optax", "numpy")},
            "cs109nn": cs109nn.__version__,
        },
        "flags": {
            "jax_threefry_partitionable": bool(jax.config.jax_threefry_partitionable),
            "jax_default_prng_impl": str(jax.config.jax_default_prng_impl),
            "jax_enable_x64": bool(jax.config.jax_enable_x64),
        },
        "backend": jax.default_backend(),
        "device_kinds": sorted({device.device_kind for device in devices}),
        "device_count": len(devices),
        "local_device_count": jax.local_device_count(),
        "process_count": jax.process_count(),
        "host": {"system": platform.system(), "machine": platform.machine(), "cpu": _cpu()},
        **_git_commit(),
    }


# Fields of ``environment()`` under which the same config gives the same bits.
NUMERICS_FIELDS = (
    "versions",
    "flags",
    "backend",
    "device_kinds",
    "device_count",
    "process_count",
    "host",
)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git_commit() -> dict[str, Any]:
    """``git_commit``: HEAD of the repository holding the cs109nn package, ``git_dirty``:
    whether tracked files have local changes; both None outside a repository or without git."""
    package = Path(cs109nn.__file__).parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=package, capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    # the package's own file must be tracked, or this is some other repository around it
    commit = None
    if git("ls-files", "--error-unmatch", "__init__.py") is not None:
        commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status)}
