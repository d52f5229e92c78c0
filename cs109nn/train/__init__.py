"""The engine: one member's training as a pure function, vmapped, scanned, jitted, sharded."""

from cs109nn.train.engine import Trainer, TrainResult, choose_chunk_size, make_train, member_keys
from cs109nn.train.hyperparameters import DEFAULT_HPARAMS, HPARAM_NAMES
from cs109nn.train.member import Arrays, MemberRun, Objective, objective_for, split_member_key
from cs109nn.train.optimizers import OPTIMIZERS, make_optimizer

__all__ = [
    "DEFAULT_HPARAMS",
    "HPARAM_NAMES",
    "OPTIMIZERS",
    "Arrays",
    "MemberRun",
    "Objective",
    "TrainResult",
    "Trainer",
    "choose_chunk_size",
    "make_optimizer",
    "make_train",
    "member_keys",
    "objective_for",
    "split_member_key",
]
