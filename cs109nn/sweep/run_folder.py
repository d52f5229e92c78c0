"""The run folder, the unit of trust: what a sweep leaves on disk and how it is written.

::

    RUN_DIR/
      manifest.json         resolved config and its hash, the plan, the environment (versions,
                            numerics flags, backend and devices, process count, git commit) of
                            the session that started the run, start/end times; ``sessions``:
                            each invocation (a resume is one) with its environment, start, end
                            (null if killed) and the groups it trained
      results.csv           one row per trained member (see ``results_columns``)
      curves/<group>.npz    per group: eval_steps [T], each history metric [M, T], seeds, ...
      params/<group>.npz    per group, when ``save_params``: flattened params, leading axis [M]

Every file is written atomically (``cs109nn.atomic_files``). results.csv is the record of
what is done: a group counts as finished once its rows are in it, and all its rows arrive in
one write. Values are written so that they read back exactly: floats as ``repr(float(x))``
(a float32 result reads back as float64 holding exactly that float32 value), booleans as
True/False, absent values as empty cells.
"""

from __future__ import annotations

import csv
import datetime
import importlib.metadata
import io
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import cs109nn
from cs109nn.atomic_files import write_atomic

MANIFEST = "manifest.json"
RESULTS = "results.csv"
CURVES = "curves"
PARAMS = "params"
MANIFEST_FORMAT = "cs109nn-run-folder/1"

CONFIG_COLUMNS = ("group", "dataset", "model", "optimizer", "steps", "batch_size")
MEMBER_COLUMNS = ("member", "seed")
# final values (after the last step) of the engine's history metrics of the same names
TRAIN_METRICS = ("final_train_ll", "final_train_acc")
TEST_METRICS = ("final_test_ll", "final_test_acc")
DIVERGENCE_COLUMNS = ("diverged", "diverged_step")
# The group's timings: they differ run to run, so comparisons of results leave them out.
TIMING_COLUMNS = ("group_wall_s", "group_compile_s")


def results_columns(hparam_names: Sequence[str], *, with_test: bool) -> tuple[str, ...]:
    """The header of results.csv. ``group`` is the group id; the test columns exist when some
    data set of the sweep has a test split, and are empty for one that has not."""
    metrics = TRAIN_METRICS + (TEST_METRICS if with_test else ())
    return (
        CONFIG_COLUMNS
        + MEMBER_COLUMNS
        + tuple(hparam_names)
        + metrics
        + DIVERGENCE_COLUMNS
        + TIMING_COLUMNS
    )


def format_value(value: Any) -> str:
    """One results.csv cell: exact and readable back by pandas without cleaning."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        # the shortest text that reads back (as float64, as pandas and Python read it) to
        # exactly the value computed: equal text is equal bits, and nothing is rounded
        return repr(float(value))
    return str(value)


def read_results(run_dir: str | os.PathLike) -> tuple[tuple[str, ...], list[list[str]]]:
    """results.csv as (header, rows of cells as written); ``((), [])`` when there is none."""
    path = Path(run_dir) / RESULTS
    if not path.exists():
        return (), []
    with open(path, newline="", encoding="utf-8") as file:
        lines = list(csv.reader(file))
    if not lines:
        return (), []
    return tuple(lines[0]), lines[1:]


def write_results(
    run_dir: str | os.PathLike, columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """Replace results.csv atomically with ``columns`` and ``rows`` (cells already formatted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    write_atomic(Path(run_dir) / RESULTS, buffer.getvalue())


def curves_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / CURVES / f"{group_id}.npz"


def params_path(run_dir: str | os.PathLike, group_id: str) -> Path:
    return Path(run_dir) / PARAMS / f"{group_id}.npz"


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """An .npz of ``arrays`` (no pickled objects), written atomically; folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{name: np.asarray(array) for name, array in arrays.items()})
    write_atomic(path, buffer.getvalue())


def flatten_params(params: Any) -> dict[str, np.ndarray]:
    """A params pytree as ``{"path/to/leaf": array}`` (each leaf keeps its leading axis)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(params)
    return {
        jax.tree_util.keystr(path, simple=True, separator="/"): np.asarray(leaf)
        for path, leaf in leaves
    }


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(run_dir: str | os.PathLike, manifest: Mapping[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, allow_nan=True) + "\n"
    write_atomic(Path(run_dir) / MANIFEST, text)


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
