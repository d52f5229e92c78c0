"""The engine: one member's training as a pure function, and a runner that places it.

- :func:`make_train` (``member``): static set-up -> a pure ``train(data, key, hparams)`` for one
  member, to put under your own ``jax.jit`` / ``jax.vmap`` / ``jax.grad``.
- :func:`make_runner` (``runner``): that function vmapped over members, chunked, sharded over
  every device, compiled ahead of time, timed, gathered to numpy.
- :class:`TrainSetup` (``setup``): what compiles once, besides the model and the data's shapes.
- :data:`SCHEDULES` (``schedules``): learning-rate schedule kinds, static; their numbers traced.
- :class:`FitRunner` (``fitted``): the runner's call for models fitted in closed form (Naive
  Bayes); :func:`subset_weights` (``subset``): a member's training subset (``train_size``).
"""

from cs109nn.hyperparameters import HPARAM_NAMES, Hyperparameters, member_hyperparameters
from cs109nn.train.fitted import FitRunner
from cs109nn.train.member import (
    Arrays,
    MemberRun,
    Objective,
    StepCarry,
    as_arrays,
    make_train,
    objective_for,
    split_member_key,
)
from cs109nn.train.optimizers import OPTIMIZERS, make_optimizer
from cs109nn.train.runner import Runner, TrainResult, choose_chunk_size, make_runner, member_keys
from cs109nn.train.schedules import SCHEDULE_NUMBERS, SCHEDULES, learning_rate_schedule
from cs109nn.train.setup import FULL_BATCH, TrainSetup
from cs109nn.train.subset import subset_weights

__all__ = [
    "FULL_BATCH",
    "HPARAM_NAMES",
    "OPTIMIZERS",
    "SCHEDULES",
    "SCHEDULE_NUMBERS",
    "Arrays",
    "FitRunner",
    "Hyperparameters",
    "MemberRun",
    "Objective",
    "Runner",
    "StepCarry",
    "TrainResult",
    "TrainSetup",
    "as_arrays",
    "choose_chunk_size",
    "learning_rate_schedule",
    "make_optimizer",
    "make_runner",
    "make_train",
    "member_hyperparameters",
    "member_keys",
    "objective_for",
    "split_member_key",
    "subset_weights",
]
