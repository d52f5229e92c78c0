"""curves/<group>.npz: a group's learning curves and its members' arrays, checked on write and
on read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from cs109nn.hyperparameters import HPARAM_NAMES
from cs109nn.run_folder_schema.files import (
    RunFolderFormatError,
    curves_path,
    read_arrays,
    write_arrays,
)

CURVE_MEMBER_ARRAYS = ("member", "seed", *HPARAM_NAMES, "diverged", "diverged_step")


class Curves(NamedTuple):
    """One group's learning curves, members in the group's member order.

    ``eval_steps: [T]``; ``metrics[name]: [M, T, ...]`` for each history metric of the file
    (``CURVE_METRICS``, and gradient statistics when the sweep recorded them); ``members[name]:
    [M]`` for each of ``CURVE_MEMBER_ARRAYS``.
    """

    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    members: dict[str, np.ndarray]

    def member_curve(self, member: int, metric: str) -> np.ndarray | None:
        """``[T]`` curve of ``metric`` for member index ``member``, or None if absent."""
        positions = np.flatnonzero(self.members["member"] == member)
        if metric not in self.metrics or positions.size == 0:
            return None
        return self.metrics[metric][positions[0]]


def write_curves(
    run_dir: str | os.PathLike,
    group_id: str,
    eval_steps: np.ndarray,
    metrics: Mapping[str, np.ndarray],
    members: Mapping[str, np.ndarray],
) -> None:
    """``curves/<group_id>.npz``: ``eval_steps [T]``, ``metrics`` (name -> [M, T, ...]) and
    ``members`` (each of ``CURVE_MEMBER_ARRAYS`` but ``member``, which is 0..M-1 -> [M]);
    checked as :func:`read_curves` checks it before anything is written."""
    path = curves_path(run_dir, group_id)
    arrays = {"eval_steps": eval_steps, "member": np.arange(len(members["seed"]))}
    arrays.update({**members, **metrics})
    _checked_curves(path, {name: np.asarray(array) for name, array in arrays.items()})
    write_arrays(path, arrays)


def read_curves(path: str | os.PathLike) -> Curves:
    """One curves file, checked: ``eval_steps [T]``, every array of ``CURVE_MEMBER_ARRAYS``
    [M], every other array [M, T, ...]; raises :class:`RunFolderFormatError` naming the file
    and the array."""
    return _checked_curves(path, read_arrays(path))


def _checked_curves(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Curves:
    missing = [name for name in ("eval_steps", *CURVE_MEMBER_ARRAYS) if name not in arrays]
    if missing:
        raise RunFolderFormatError(f"{path}: no array {missing[0]!r}")
    metrics = dict(arrays)
    eval_steps = metrics.pop("eval_steps")
    members = {name: metrics.pop(name) for name in CURVE_MEMBER_ARRAYS}
    steps, size = len(eval_steps), len(members["member"])
    shapes = [("eval_steps", eval_steps, (steps,), True)]
    shapes += [(name, array, (size,), True) for name, array in members.items()]
    shapes += [(name, array, (size, steps), False) for name, array in metrics.items()]
    for name, array, expected, exact in shapes:
        found = array.shape if exact else array.shape[:2]
        if found != expected:
            raise RunFolderFormatError(f"{path}: {name!r} has shape {array.shape}, not {expected}")
    return Curves(eval_steps=eval_steps, metrics=metrics, members=members)
