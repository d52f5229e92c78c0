"""The exact LL maximum of logistic regression by Newton's method in float64.

The slides climb LL by gradient ascent; Newton's method gives the optimum that ascent (and
every trained model of the package) is tested against. Where the data are (quasi-)separable
the maximum is not attained: LL creeps up towards a supremum while some weights grow without
bound. That is reported as the named outcome ``"quasi_separated"``, never hidden as a number.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from cs109nn.lecture.inputs import DataError, check_examples

# A margin (2y-1) theta^T x above this fits an example to within e^-15 = 3e-7 of its label.
SATURATED = 15.0
# The smallest fraction t of a Newton step tried: below it the change in LL is float64 noise.
MIN_STEP = 1e-10

# "one_class": every label is the same, so LL's supremum 0 is approached as the intercept grows
# without bound (whatever the iterations did, that is the honest description of the result).
Outcome = Literal["converged", "quasi_separated", "not_converged", "one_class"]


class NewtonResult(NamedTuple):
    """theta: [m+1] float64 (intercept first); ll: LL(theta); ll_history: [iterations+1]."""

    theta: np.ndarray
    ll: float
    outcome: Outcome
    iterations: int
    gradient_norm: float
    ll_history: np.ndarray


def _log_likelihood(z: np.ndarray, y: np.ndarray) -> float:
    # log sigma(z) = -logaddexp(0, -z): float64 and stable for any z.
    return float(np.sum(-y * np.logaddexp(0.0, -z) - (1 - y) * np.logaddexp(0.0, z)))


def _saturated(z: np.ndarray, y: np.ndarray) -> bool:
    """Whether some example is fitted to within e^-SATURATED of its label: z [n], y [n]."""
    return bool(np.any((2 * y - 1) * z > SATURATED))


def _newton_step(hessian: np.ndarray, g: np.ndarray) -> np.ndarray:
    """H^-1 g for -H = ``hessian`` [m+1, m+1] and g [m+1] -> [m+1].

    A (near-)singular Hessian is itself a sign of separation; lstsq still gives a step.
    """
    return np.linalg.lstsq(hessian, g, rcond=None)[0]


def _halve_until_no_decrease(
    A: np.ndarray, y: np.ndarray, theta: np.ndarray, step: np.ndarray, ll: float
) -> tuple[np.ndarray, float] | None:
    """(theta + t step, its LL) for the largest t in 1, 1/2, 1/4, ... above MIN_STEP whose LL is
    >= ``ll``; None when every such t lowers LL. A: [n, m+1]; theta, step: [m+1]."""
    t = 1.0
    while t > MIN_STEP:
        candidate = theta + t * step
        candidate_ll = _log_likelihood(A @ candidate, y)
        if candidate_ll >= ll:
            return candidate, candidate_ll
        t /= 2
    return None


def newton(
    X: np.ndarray,
    y: np.ndarray,
    *,
    max_iterations: int = 100,
    tol: float = 1e-10,
    separation_norm: float = 1e3,
) -> NewtonResult:
    """Maximise LL(theta) = sum_i y log sigma(theta^T x) + (1-y) log(1 - sigma(theta^T x)).

    X: [n, m] (no intercept column; x0 = 1 is added); y: [n] in {0, 1}. Newton steps
    theta += t H^-1 g with g = sum (y - p) x and -H = sum p(1-p) x x^T, halving t from 1 while
    t > ``MIN_STEP`` until LL does not decrease. Stops when the Newton decrement
    g^T H^-1 g / 2 < tol: "converged" if no example is fitted to within e^-15 of its label,
    else "quasi_separated" (the gradient vanished only because weights grew until some examples
    saturated; ``ll`` is then the supremum approached, within ~tol). Also "quasi_separated" when
    |theta| passes ``separation_norm``, or the iterations run out with |theta| still growing.

    LL never decreases: when every t > ``MIN_STEP`` lowers LL, the current theta is kept and
    the search stops, "quasi_separated" if some example is saturated (LL flat in float64 along
    growing weights is what separation looks like), else "not_converged" (the decrement says
    LL can still rise, but no step found a rise). ``ll_history`` holds the accepted steps only,
    so ``ll == ll_history[-1] == max(ll_history)``.
    """
    check_examples(X, y)
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    if X.ndim != 2:
        raise DataError(f"expected X [n, m]; got X of shape {X.shape}")
    A = np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)
    theta = np.zeros(A.shape[1])
    ll = _log_likelihood(A @ theta, y)
    history = [ll]
    norms = [0.0]
    outcome: Outcome = "not_converged"
    grad_norm = np.inf
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        z = A @ theta
        p = 1.0 / (1.0 + np.exp(-z))
        g = A.T @ (y - p)
        grad_norm = float(np.linalg.norm(g))
        hessian = (A * (p * (1 - p))[:, None]).T @ A
        step = _newton_step(hessian, g)
        decrement = float(g @ step) / 2
        if decrement < tol:
            # A vanishing gradient is also what separation looks like: the fit has pushed some
            # examples to within e^-SATURATED of their labels, so LL is a supremum, not a max.
            outcome = "quasi_separated" if _saturated(z, y) else "converged"
            iteration -= 1
            break
        accepted = _halve_until_no_decrease(A, y, theta, step, ll)
        if accepted is None:
            # Every step lowered LL: keep theta (a worse point is never returned) and stop, as
            # the next iteration would compute the same step again.
            outcome = "quasi_separated" if _saturated(z, y) else "not_converged"
            iteration -= 1
            break
        theta, ll = accepted
        history.append(ll)
        norms.append(float(np.linalg.norm(theta)))
        if norms[-1] > separation_norm:
            outcome = "quasi_separated"
            break
    else:
        # Out of iterations: weights still growing steadily means the sup is not attained.
        if len(norms) > 10 and all(np.diff(norms[-10:]) > 0):
            outcome = "quasi_separated"
    if np.unique(y).size == 1:
        outcome = "one_class"  # the sup LL = 0 is approached by theta_0 -> +-inf, never attained
    return NewtonResult(theta, float(ll), outcome, iteration, grad_norm, np.asarray(history))
