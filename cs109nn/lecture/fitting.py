"""Fitting the lecture's logistic regression, with a named outcome: what ``cs109nn train`` runs.

Either the slides' gradient ascent from θ = 0 or Newton's exact optimum; the result says how it
ended -- "converged", "not_converged", "diverged" (with the step), "one_class" for ascent,
Newton's own outcomes otherwise -- never a bare number that may be meaningless.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from cs109nn.lecture.logistic_regression import gradient_ascent, weighted_sum
from cs109nn.lecture.newton import newton

Method = Literal["ascent", "newton"]
# Ascent has converged when the last 1% of its steps moved LL by less than this per example.
SETTLED_PER_EXAMPLE = 1e-6


class Fit(NamedTuple):
    """theta: [m+1] float64 (intercept first); train_ll: LL(theta), NaN when diverged;
    outcome: how the fit ended; details: method-specific counts (steps, iterations, the
    diverged step)."""

    theta: np.ndarray
    train_ll: float
    outcome: str
    details: dict[str, int]


def fit(X: np.ndarray, y: np.ndarray, method: Method, lr: float, steps: int) -> Fit:
    """Fit θ on X: [n, m], y: [n] in {0, 1}, by ``method``: Newton, or ``steps`` of ascent
    with step size ``lr`` (η on the summed LL, as on the slides)."""
    if method == "newton":
        result = newton(X, y)
        return Fit(result.theta, result.ll, result.outcome, {"iterations": result.iterations})
    ascent = gradient_ascent(np.asarray(X, np.float32), y, lr, steps)
    theta = np.asarray(ascent.theta, np.float64)
    ll = np.asarray(ascent.ll)
    finite = np.isfinite(ll) & np.all(np.isfinite(theta))
    if not np.all(finite):
        step = int(np.argmin(np.isfinite(ll))) + 1
        return Fit(theta, float("nan"), "diverged", {"diverged_step": step})
    tail = ll[-max(2, steps // 100) :]
    settled = abs(float(tail[-1] - tail[0])) < SETTLED_PER_EXAMPLE * len(y)
    outcome = "converged" if settled else "not_converged"
    if np.unique(np.asarray(y)).size == 1:
        outcome = "one_class"  # as Newton says: the LL has no maximum to converge to
    return Fit(theta, float(ll[-1]), outcome, {"steps": steps})


def accuracy(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples where the prediction 1[σ(θᵀx) > 1/2] equals the label."""
    prediction = np.asarray(weighted_sum(np.asarray(theta, np.float64), X)) > 0
    return float(np.mean(prediction == (np.asarray(y) == 1)))
