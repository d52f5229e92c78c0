"""Checkpoints inside a long group: every member's state at an evaluation boundary, via orbax.

A runner given a :class:`CheckpointPolicy` trains in segments of ``every`` evaluation
intervals (one compiled program per segment length; the members' state stays on the devices
between segments) and, at the end of a segment once ``seconds`` have passed since the group
started or last saved, writes one orbax checkpoint: every member's
:class:`~cs109nn.train.member.MemberState` (parameters, optimizer state, step carry, training
subset, divergence bookkeeping), the history so far and the number of intervals done. The
members' random streams need nothing more: they are their keys', folded with the global step.
A run given the same policy finds the latest checkpoint of its layout and continues from it:
the same segment programs on the same state, hence the same bits as an uninterrupted run on
the same device count. The group's checkpoints are removed when it finishes.

orbax writes a checkpoint into a temporary folder and renames it when complete, so a process
killed while saving leaves the previous checkpoint; saves here are synchronous (a checkpoint
that ``save`` returned from is on disk).

Test hook: with ``CS109NN_FAULT=after_checkpoint:N`` (``cs109nn.atomic_files``) the N-th save
of a process SIGKILLs it right after the checkpoint is complete.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from cs109nn.atomic_files import fault_point
from cs109nn.errors import ConfigError


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where and how often a group saves its state.

    directory: the group's own folder (its checkpoints go in a sub-folder per member layout);
    every: evaluation intervals per segment (None: :func:`segment_intervals`); seconds: save at
    the first segment end after this long since the start or the last save (0: every segment).
    """

    directory: Path
    every: int | None = None
    seconds: float = 120.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Path(self.directory))
        check_checkpointing(self.every, self.seconds)


def check_checkpointing(every: int | None, seconds: float | None) -> None:
    """Raise ConfigError for a bad ``checkpoint_every`` (>= 1 interval, or None: automatic) or
    ``checkpoint_seconds`` (>= 0, or None: no checkpoints)."""
    if every is not None and (isinstance(every, bool) or every < 1):
        raise ConfigError(
            f"checkpoint_every must be >= 1 evaluation interval, or none for automatic; got "
            f"{every!r}"
        )
    if seconds is not None and not seconds >= 0:
        raise ConfigError(
            f"checkpoint_seconds must be >= 0, or none for no checkpoints; got {seconds!r}"
        )


def segment_intervals(num_evaluations: int, every: int | None = None) -> int:
    """Evaluation intervals per segment: ``every``, or by default the largest divisor of the
    group's ``num_evaluations`` not above an eighth of them (about eight segments, all of one
    length, so one segment program serves the whole group)."""
    if every is not None:
        return min(every, num_evaluations)
    limit = max(1, num_evaluations // 8)
    return max(d for d in range(1, limit + 1) if num_evaluations % d == 0)


class GroupCheckpoints:
    """One group's checkpoints for one member layout: save, find the latest, remove all."""

    def __init__(self, policy: CheckpointPolicy, layout: str) -> None:
        import orbax.checkpoint as ocp  # imported when a group checkpoints (it takes ~1.5 s)

        self._ocp, self.policy = ocp, policy
        self.folder = policy.directory / layout
        options = ocp.CheckpointManagerOptions(
            max_to_keep=1, enable_async_checkpointing=False, create=True
        )
        self._manager = ocp.CheckpointManager(self.folder.resolve(), options=options)

    def latest(self, like: Any) -> tuple[int, Any] | None:
        """(intervals done, the saved tree restored in ``like``'s shapes, dtypes and
        shardings; numpy leaves as numpy) of the latest checkpoint, or None when there is
        none."""
        step = self._manager.latest_step()
        if step is None:
            return None
        abstract = jax.tree.map(_abstract, like)
        return int(step), self._manager.restore(step, args=self._ocp.args.StandardRestore(abstract))

    def save(self, intervals_done: int, tree: Any) -> None:
        """Write ``tree`` (jax arrays, sharded or not, and numpy arrays) as the checkpoint after
        ``intervals_done`` intervals; the previous one is removed once this one is complete."""
        self._manager.save(intervals_done, args=self._ocp.args.StandardSave(tree), force=True)
        self._manager.wait_until_finished()
        fault_point("after_checkpoint")

    def remove(self) -> None:
        """Delete the group's checkpoints (every layout): the group has finished."""
        self._manager.close()
        if jax.process_index() == 0:
            shutil.rmtree(self.policy.directory, ignore_errors=True)
            with contextlib.suppress(OSError):  # the run's checkpoint folder, once empty
                self.policy.directory.parent.rmdir()


def due(policy: CheckpointPolicy, seconds_since_save: float) -> bool:
    """Whether a segment end this long after the start or the last save should save."""
    return math.isfinite(policy.seconds) and seconds_since_save >= policy.seconds


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct | np.ndarray:
    if isinstance(leaf, np.ndarray):  # a host array is restored as one
        return leaf
    sharding = getattr(leaf, "sharding", None)
    return jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=sharding)
