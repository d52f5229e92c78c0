"""What compiles once: the static set-up of a training run, besides the model and data shapes.

A :class:`TrainSetup` is hashable and checked when it is made, so a bad value fails before
anything traces. Full batch has one spelling here and everywhere above it: ``batch_size=None``
(the lecture's loop: every step sees every training example).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cs109nn.errors import ConfigError
from cs109nn.train.optimizers import check_optimizer
from cs109nn.train.schedules import check_schedule

FULL_BATCH = None


@dataclass(frozen=True)
class TrainSetup:
    """The static options of one compiled training program.

    steps: gradient steps; optimizer: "sgd" | "momentum" | "adam"; batch_size: examples per
    step, ``None`` for full batch (a size of at least n is full batch too); eval_every: steps
    between evaluations (must divide ``steps``; None: once, at the end); dp: DP-SGD (clip each
    example's gradient to clip_norm, add noise); dp_microbatch: examples per chunk of the
    per-example gradient computation; gradient_statistics: per-example gradient norm quantiles
    and the gradient noise scale at every evaluation; schedule: the learning rate's kind, one
    of ``cs109nn.train.schedules.SCHEDULES`` (its numbers are traced hyperparameters);
    architectures: members carry their own width and depth (hyperparameters) inside the model's
    widest architecture, masked (``cs109nn.models.masked``; an MLP spec).
    """

    steps: int
    optimizer: str = "sgd"
    batch_size: int | None = FULL_BATCH
    eval_every: int | None = None
    dp: bool = False
    dp_microbatch: int | None = None
    gradient_statistics: bool = False
    schedule: str = "constant"
    architectures: bool = False

    def __post_init__(self) -> None:
        check_optimizer(self.optimizer)
        check_schedule(self.schedule)
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1; got {self.steps}")
        if self.eval_every is None:
            object.__setattr__(self, "eval_every", self.steps)
        if self.eval_every < 1 or self.steps % self.eval_every:
            raise ConfigError(f"eval_every={self.eval_every} must divide steps={self.steps}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(
                f"batch_size must be >= 1, or None for full batch; got {self.batch_size}"
            )

    @property
    def num_evaluations(self) -> int:
        """T: the number of history columns."""
        return self.steps // self.eval_every

    @property
    def eval_steps(self) -> np.ndarray:
        """[T]: the step after which each history column is measured."""
        return np.arange(1, self.num_evaluations + 1) * self.eval_every

    def rows_per_step(self, num_train: int) -> int:
        """Examples one step sees: all ``num_train`` for full batch, else the batch size."""
        return num_train if self.is_full_batch(num_train) else self.batch_size

    def is_full_batch(self, num_train: int) -> bool:
        """Whether every step sees the whole training set (no shuffling)."""
        return self.batch_size is None or self.batch_size >= num_train
