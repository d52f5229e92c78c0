"""Shared test set-up: where CS109's data lives, a strict numeric environment (equinox's habit:
implicit rank promotion raises, so a [n, 1] against [n] broadcast is an error, not a wrong
number; a reused PRNG key raises), and an independent compile counter."""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

import jax
import numpy as np
import pytest

from cs109nn.train.runner import TRAINING_PROGRAMS

jax.config.update("jax_numpy_rank_promotion", "raise")
# A PRNG key used twice is an error, not a silently correlated stream.
jax.config.update("jax_debug_key_reuse", True)

REPO = Path(__file__).resolve().parents[1]
CS109_DATA = REPO.parent / "shared" / "data" / "cs109"


@pytest.fixture(scope="session")
def cs109_dir() -> Path:
    """The folder of CS109's CSV data sets (``../shared/data/cs109`` beside the repo)."""
    if not (CS109_DATA / "netflix-train.csv").exists():
        pytest.skip(f"CS109 data not found at {CS109_DATA}")
    return CS109_DATA


def read_cs109_numpy(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """An independent reader for references: float64 numpy, label in the last column."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1]


# The runner's SPMD program is the jitted function of this name (cs109nn.train.runner).


class CompileCount:
    """XLA compilations seen while a ``count_compiles()`` block ran, by jax's own compile log.

    backend: every XLA compilation; programs: those of the runner's training program;
    names: the jitted functions compiled, in order.
    """

    def __init__(self) -> None:
        self.names: list[str] = []

    @property
    def backend(self) -> int:
        return len(self.names)

    @property
    def programs(self) -> int:
        return sum(name in TRAINING_PROGRAMS for name in self.names)


class _CompileLog(logging.Handler):
    # "Finished XLA compilation of jit(NAME) in ... sec": one line per backend compile.
    pattern = re.compile(r"Finished XLA compilation of (?:jit|pjit)\((\w+)\)")

    def __init__(self, count: CompileCount) -> None:
        super().__init__(logging.DEBUG)
        self.count = count

    def emit(self, record: logging.LogRecord) -> None:
        match = self.pattern.search(record.getMessage())
        if match:
            self.count.names.append(match.group(1))


@pytest.fixture
def count_compiles():
    """``with count_compiles() as c: ...`` counts compiles independently of the code under
    test: jax's compile log (``jax.log_compiles``), not a counter the runner keeps."""

    @contextlib.contextmanager
    def counting():
        count = CompileCount()
        handler = _CompileLog(count)
        logger = logging.getLogger("jax")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            with jax.log_compiles(True):
                yield count
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)

    return counting
