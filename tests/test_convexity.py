"""experiments/convexity.py: gradient ascent against Newton's LL* over a step-size grid.

The script's numbers are checked against an independent float64 numpy reference: L from the
design matrix, the slides' loop θ += η X̃ᵀ(y − σ(X̃θ)) and a plain Newton iteration for LL*.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "convexity.py"
STEPS = 300


def _load_script():
    spec = importlib.util.spec_from_file_location("convexity_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _design(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = table[:, :-1], table[:, -1]
    return np.concatenate([np.ones((len(X), 1)), X], axis=1), y


def _ll(A: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    z = A @ theta
    return float(np.sum(-y * np.logaddexp(0.0, -z) - (1 - y) * np.logaddexp(0.0, z)))


def _ascent_gaps(A, y, lr, steps, ll_star) -> np.ndarray:
    theta = np.zeros(A.shape[1])
    gaps = np.empty(steps)
    for t in range(steps):
        theta = theta + lr * A.T @ (y - 1.0 / (1.0 + np.exp(-(A @ theta))))
        gaps[t] = ll_star - _ll(A, y, theta)
    return gaps


def _newton_ll(A, y, iterations: int = 30) -> float:
    theta = np.zeros(A.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(A @ theta)))
        theta = theta + np.linalg.solve((A * (p * (1 - p))[:, None]).T @ A, A.T @ (y - p))
    return _ll(A, y, theta)


@pytest.fixture(scope="module")
def netflix_run(cs109_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("convexity")
    result = _load_script().main(
        ["--data-dir", str(cs109_dir), "--out", str(out), "--steps", str(STEPS)]
        + ["--datasets", "netflix", "--bisect", "3"]
    )
    return out, result


def _entry(record: dict, lr_times_L: float) -> dict:
    (entry,) = [e for e in record["grid"] if math.isclose(e["lr_times_L"], lr_times_L)]
    return entry


def test_writes_json_png_md(netflix_run):
    out, result = netflix_run
    assert (out / "convexity_netflix.png").stat().st_size > 10_000
    saved = json.loads((out / "convexity.json").read_text())
    assert saved["datasets"]["netflix"]["steps"] == STEPS
    assert set(saved["datasets"]) == {"netflix"} == set(result["datasets"])
    assert (out / "convexity.md").read_text().count("netflix") >= 1


def test_L_and_ll_star_match_numpy(netflix_run, cs109_dir):
    record = netflix_run[1]["datasets"]["netflix"]
    A, y = _design(cs109_dir / "netflix-train.csv")
    L = np.linalg.eigvalsh(A.T @ A)[-1] / 4
    assert record["L"] == pytest.approx(L, rel=1e-10)
    assert record["two_over_L"] == pytest.approx(2 / L, rel=1e-10)
    assert (record["n"], record["m"]) == (100, 20)
    assert record["newton_outcome"] == "converged"
    assert record["ll_star"] == pytest.approx(_newton_ll(A, y), abs=1e-8)
    assert record["ll_star"] == pytest.approx(-40.2726, abs=1e-4)


def test_small_step_climbs_monotonically_to_ll_star(netflix_run, cs109_dir):
    record = netflix_run[1]["datasets"]["netflix"]
    A, y = _design(cs109_dir / "netflix-train.csv")
    lr = 0.5 / record["L"]
    gaps = _ascent_gaps(A, y, lr, STEPS, record["ll_star"])
    entry = _entry(record, 0.5)
    # The script's float64 run is the slides' loop: the same final gap as numpy's.
    assert entry["final_gap"] == pytest.approx(gaps[-1], rel=1e-9)
    assert entry["monotone"] and entry["stable"]
    assert np.all(np.diff(gaps) < 0)  # η ≤ 1/L: LL rises at every step
    # ... and with enough steps it reaches LL* within the script's tolerance.
    long = _ascent_gaps(A, y, lr, 20_000, record["ll_star"])
    assert 0 <= long[-1] <= record["gap_tol"] == pytest.approx(1e-6 * 100)


def test_large_step_is_flagged_and_threshold_brackets_the_edge(netflix_run, cs109_dir):
    record = netflix_run[1]["datasets"]["netflix"]
    entry = _entry(record, 4.0)
    assert not entry["converged"] and not entry["stable"]
    assert entry["status"] in ("oscillating", "diverged")
    A, y = _design(cs109_dir / "netflix-train.csv")
    gaps = _ascent_gaps(A, y, 4.0 / record["L"], STEPS, record["ll_star"])
    assert np.max(np.diff(gaps[-STEPS // 10 - 1 :])) > 0  # numpy sees it rise late, too
    th = record["threshold"]
    assert th["stable_up_to"] < th["unstable_from"] <= 4.0 / record["L"]
    assert _entry(record, 1.0)["stable"] and th["stable_up_to"] >= record["two_over_L"] / 2
