"""The slides' logistic regression: autodiff vs the hand-derived gradient, stability, optima."""

from __future__ import annotations

import importlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from cs109nn import lecture
from tests.conftest import read_cs109_numpy

SHAPES = [(1, 1), (7, 3), (50, 20), (200, 5)]


def random_problem(n: int, m: int, seed: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m)).astype(np.float32)
    y = rng.integers(0, 2, size=n).astype(np.float32)
    theta = (scale * rng.normal(size=m + 1)).astype(np.float32)
    return theta, X, y


def numpy_ll64(theta, X, y) -> np.ndarray:
    """Float64 numpy reference of the slide's per-example LL, written from the slide."""
    theta, X, y = (np.asarray(a, np.float64) for a in (theta, X, y))
    z = theta[0] + X @ theta[1:]
    p = 1.0 / (1.0 + np.exp(-z))
    return y * np.log(p) + (1 - y) * np.log(1 - p)


@pytest.mark.parametrize("n,m", SHAPES)
@pytest.mark.parametrize("jit", [False, True])
def test_autodiff_equals_slide_gradient_and_sum_of_per_example(n, m, jit):
    theta, X, y = random_problem(n, m, seed=n * 100 + m)
    grad_ll = jax.grad(lecture.log_likelihood)
    per_example = lecture.per_example_gradients
    if jit:
        grad_ll, per_example = jax.jit(grad_ll), jax.jit(per_example)
    autodiff = grad_ll(theta, X, y)
    per = per_example(theta, X, y)
    chex.assert_shape(per, (n, m + 1))
    # The slide's closed form in float64 numpy, computed here, not by the package.
    X1 = np.c_[np.ones(n), X].astype(np.float64)
    closed = X1.T @ (y - 1 / (1 + np.exp(-(X1 @ theta.astype(np.float64)))))
    np.testing.assert_allclose(autodiff, closed, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(lecture.gradient(theta, X, y), closed, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.sum(per, axis=0), autodiff, rtol=2e-5, atol=2e-5)


def test_check_grads_on_log_likelihood():
    theta, X, y = random_problem(20, 4, seed=3)
    f = lambda t: lecture.log_likelihood(t, X.astype(np.float64), y.astype(np.float64))  # noqa: E731
    with jax.enable_x64(True):
        check_grads(f, (jnp.asarray(theta, jnp.float64),), order=2, modes=("fwd", "rev"))


def test_weighted_sum_uses_x0_equal_one():
    theta = np.array([0.5, 2.0, -1.0], np.float32)
    X = np.array([[1.0, 1.0], [0.0, 3.0]], np.float32)
    np.testing.assert_allclose(lecture.weighted_sum(theta, X), [0.5 + 2 - 1, 0.5 - 3])


def test_weighted_sum_rejects_wrong_theta_length():
    with pytest.raises(ValueError, match=r"theta has 2 entries but X has 2 features"):
        lecture.weighted_sum(np.zeros(2), np.zeros((3, 2)))


@pytest.mark.parametrize("z", [1e4, -1e4, 88.0, -104.0])
def test_log_likelihood_and_gradient_finite_at_extreme_logits(z):
    # One feature equal to 1, theta = (0, z): theta^T x = z exactly, in float32.
    theta = jnp.array([0.0, z], jnp.float32)
    X = jnp.ones((2, 1), jnp.float32)
    y = jnp.array([0.0, 1.0], jnp.float32)
    ll = lecture.log_likelihoods(theta, X, y)
    chex.assert_tree_all_finite(
        (ll, lecture.gradient(theta, X, y), jax.grad(lecture.log_likelihood)(theta, X, y))
    )
    # The wrong label costs |z| nats (log sigma(-|z|) ~ -|z|); the right one ~0.
    wrong = 0 if z > 0 else 1
    np.testing.assert_allclose(ll[wrong], -abs(z), rtol=1e-6)
    assert -1e-30 <= float(ll[1 - wrong]) <= 0


@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0])
def test_log_likelihoods_equal_float64_numpy(scale):
    theta, X, y = random_problem(100, 6, seed=7, scale=scale)
    np.testing.assert_allclose(
        lecture.log_likelihoods(theta, X, y), numpy_ll64(theta, X, y), rtol=1e-6, atol=1e-7
    )


def test_bernoulli_log_likelihoods_keep_any_shape_and_equal_float64_numpy():
    # The LL term logistic regression and the network share, on logits of any shape.
    rng = np.random.default_rng(11)
    z = rng.normal(scale=4.0, size=(3, 5)).astype(np.float32)
    y = rng.integers(0, 2, size=(3, 5))
    p = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
    expected = y * np.log(p) + (1 - y) * np.log(1 - p)
    got = lecture.bernoulli_log_likelihoods(z, y)
    chex.assert_shape(got, (3, 5))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_sigmoid_matches_closed_form():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(lecture.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-6)


def test_gradient_ascent_starts_at_zero_and_climbs():
    _, X, y = random_problem(40, 3, seed=1)
    result = lecture.gradient_ascent(X, y, lr=0.01, steps=50)
    # After one step from theta = 0 the slide's update is eta * gradient(0).
    one = lecture.gradient_ascent(X, y, lr=0.01, steps=1)
    np.testing.assert_allclose(
        one.theta, 0.01 * lecture.gradient(np.zeros(4, np.float32), X, y), rtol=1e-6
    )
    assert np.all(np.diff(np.asarray(result.ll)) >= -1e-4)
    assert float(result.ll[0]) > 40 * np.log(0.5)  # better than theta = 0's LL = n log 1/2


def test_netflix_ascent_and_newton_reach_the_same_optimum(cs109_dir):
    X, y = read_cs109_numpy(cs109_dir / "netflix-train.csv")
    newton = lecture.newton(X, y)
    assert newton.outcome == "converged"
    assert newton.iterations <= 50
    np.testing.assert_allclose(newton.ll, -40.2726, atol=1e-4)
    # eta below 2 / lambda_max of -H (about 251 at theta = 0) keeps the slide's loop stable.
    ascent = lecture.gradient_ascent(X.astype(np.float32), y, lr=0.007, steps=20_000)
    assert abs(float(ascent.ll[-1]) - newton.ll) < 1e-3


def test_netflix_newton_matches_scikit_learn(cs109_dir):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = read_cs109_numpy(cs109_dir / "netflix-train.csv")
    fit = linear_model.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    theta_sklearn = np.r_[fit.intercept_, fit.coef_.ravel()]
    newton = lecture.newton(X, y)
    np.testing.assert_allclose(newton.theta, theta_sklearn, atol=1e-3)
    assert abs(newton.ll - float(np.sum(numpy_ll64(theta_sklearn, X, y)))) < 1e-6


@pytest.mark.parametrize("name,ll_star", [("heart", -23.8421), ("ancestry", -72.0620)])
def test_newton_reaches_optimum_or_reports_quasi_separation(cs109_dir, name, ll_star):
    X, y = read_cs109_numpy(cs109_dir / f"{name}-train.csv")
    result = lecture.newton(X, y)
    assert result.outcome in ("converged", "quasi_separated")
    # Never a silent wrong number: either outcome comes with the supremum reached.
    assert abs(result.ll - ll_star) < 1e-3


def test_newton_reports_separable_data():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    result = lecture.newton(X, y)
    assert result.outcome == "quasi_separated"
    assert result.ll > -1e-5  # LL creeps up to its supremum 0, never attained


def test_newton_rejects_mismatched_shapes():
    with pytest.raises(
        ValueError, match=r"4 examples but y has 3 labels \(shapes \(4, 2\) and \(3,\)\)"
    ):
        lecture.newton(np.zeros((4, 2)), np.zeros(3))


def numpy_ll64_from_logits(theta, X, y) -> float:
    """LL(theta) in float64 numpy by another identity than the package's: y z - log(1 + e^z)."""
    z = theta[0] + np.asarray(X, np.float64) @ theta[1:]
    return float(np.sum(y * z - np.logaddexp(0.0, z)))


def noisy_problem():
    """Not separable: after 2 Newton steps no example is near saturation."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    return X, (rng.random(40) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.float64)


def separable_problem():
    """Separable: after 8 Newton steps the example at x = 3 has margin ~22 > SATURATED."""
    return np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "data,good_steps,outcome",
    [(noisy_problem, 2, "not_converged"), (separable_problem, 8, "quasi_separated")],
    ids=["noisy", "separable"],
)
def test_newton_keeps_its_point_when_step_halving_runs_out(monkeypatch, data, good_steps, outcome):
    # `lecture.newton` is the function; the module is reached by its import path.
    newton_module = importlib.import_module("cs109nn.lecture.newton")
    true_step = newton_module._newton_step
    calls = []

    def step_that_lowers_ll_at_every_t(hessian, g):
        # After `good_steps` true steps, add a component of length 1e8 orthogonal to g: the
        # Newton decrement g.step / 2 is unchanged (so no "converged" stop), yet even at
        # t = 2^-33 the step moves theta by ~0.01 sideways, where the concave LL's second-order
        # loss dwarfs the first-order gain t * g.step: every halving lowers LL.
        calls.append(len(calls))
        step = true_step(hessian, g)
        if len(calls) <= good_steps:
            return step
        v = np.random.default_rng(0).normal(size=g.shape)
        w = v - (v @ g) / (g @ g) * g
        return step + 1e8 * w / np.linalg.norm(w)

    monkeypatch.setattr(newton_module, "_newton_step", step_that_lowers_ll_at_every_t)
    X, y = data()
    result = lecture.newton(X, y)

    assert len(calls) == good_steps + 1  # stopped at the first step no halving could save
    assert result.outcome == outcome
    assert result.iterations == good_steps == len(result.ll_history) - 1
    assert np.all(result.ll >= result.ll_history)
    assert result.ll == result.ll_history[-1]
    np.testing.assert_allclose(
        result.ll, numpy_ll64_from_logits(result.theta, X, y), rtol=1e-12, atol=1e-14
    )
