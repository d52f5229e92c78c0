"""Shared test set-up: where CS109's data lives, and a strict numeric environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
