"""Property tests (hypothesis) over random shapes, scales and label patterns.

For the lecture's logistic regression, the slides' two-layer network and every model family:
LL <= 0 per example; the gradient equals the slides' closed form; per-example gradients sum
to the full gradient. Every value the code under test computes is compared with something it
did not compute: a float64 numpy closed form written here, or an independent route (``jax.grad``
against the hand-written gradient, the vmap route against the Dense taps, ...). Tight under
float64, loose under float32; the absolute tolerance is scaled by the magnitude of the
computation (sum of |terms|, times 1 + |logit| where a sigmoid's input carries rounding), so
that saturated or cancelling sums are judged by what float arithmetic can give.

Deterministic: every test runs ``derandomize=True`` with no example database. Shapes are drawn
from small sets, because each new shape costs a compile.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cs109nn import lecture
from cs109nn.grads import per_example_gradients, summed_gradient
from cs109nn.models import model_from_spec
from cs109nn.models.objectives import log_likelihoods as model_log_likelihoods

DTYPES = [np.float32, np.float64]
# (rtol, absolute factor): atol = factor * magnitude, the factor ~ 100-500 machine epsilons.
TOLERANCE = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-13)}


def property_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --------------------------------------------------------------------------- references
def np_sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) in float64 without overflow."""
    z = np.asarray(z, np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def np_bernoulli_ll(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y log σ(z) + (1 − y) log(1 − σ(z)) in float64: log σ(z) = −log(1 + e^−z)."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    return -(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z))


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    top = z.max(axis=-1, keepdims=True)
    return z - top - np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True))


def with_ones(X: np.ndarray) -> np.ndarray:
    """x̃: x0 = 1 prepended, float64."""
    X = np.asarray(X, np.float64)
    return np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)


def assert_close(actual, expected, rtol: float, atol, what: str) -> None:
    """|actual − expected| <= atol + rtol·|expected| elementwise (atol may be an array)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: non-finite values {actual}"
    bound = np.broadcast_to(atol, expected.shape) + rtol * np.abs(expected)
    error = np.abs(actual - expected)
    bad = error > bound
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} entries off; first at {i}: "
            f"got {actual[i]!r}, expected {expected[i]!r}, |error| {error[i]:.3g} > "
            f"{bound[i]:.3g}"
        )


# --------------------------------------------------------------------------- strategies
# Entries of size below 1e-6 become 0: products of such numbers are subnormal in float32,
# which XLA flushes to zero (numpy does not); that is not what these properties are about.
UNIT = st.floats(-1, 1, width=32).map(lambda v: v if abs(v) >= 1e-6 else 0.0)
LOG_SCALE = st.floats(-3, 2)  # scale = 10**LOG_SCALE: 1e-3 .. 1e2


def binary_labels(n: int) -> st.SearchStrategy[np.ndarray]:
    """All 0, all 1, or a random mix of {0, 1}: [n] float64."""
    mixed = hnp.arrays(np.int8, n, elements=st.integers(0, 1))
    return st.one_of(st.just(np.zeros(n, np.int8)), st.just(np.ones(n, np.int8)), mixed).map(
        lambda y: y.astype(np.float64)
    )


def class_labels(n: int, k: int) -> st.SearchStrategy[np.ndarray]:
    """All one class, or a random mix of {0..k-1}: [n] int32."""
    same = st.integers(0, k - 1).map(lambda c: np.full(n, c, np.int32))
    mixed = hnp.arrays(np.int32, n, elements=st.integers(0, k - 1))
    return st.one_of(same, mixed)


@st.composite
def logistic_problems(draw, dtype):
    """(theta [m+1], X [n, m], y [n]) in ``dtype``, with random scales and label patterns."""
    n = draw(st.sampled_from([1, 4, 25]))
    m = draw(st.sampled_from([1, 6]))
    x_scale, theta_scale = 10 ** draw(LOG_SCALE), 10 ** draw(LOG_SCALE)
    X = draw(hnp.arrays(np.float64, (n, m), elements=UNIT)) * x_scale
    theta = draw(hnp.arrays(np.float64, m + 1, elements=UNIT)) * theta_scale
    y = draw(binary_labels(n))
    return theta.astype(dtype), X.astype(dtype), y.astype(dtype)


# --------------------------------------------------------------------------- 1. lecture LR
def lr_magnitude(theta: np.ndarray, X: np.ndarray) -> np.ndarray:
    """1 + Σₖ |θₖ x̃ₖ| per example: the size of the logit's rounding, in its units: [n]."""
    return 1 + np.abs(with_ones(X)) @ np.abs(np.asarray(theta, np.float64))


@jax.jit
def lecture_lr(theta, X, y):
    """Every lecture LR quantity in one compiled program (one compile per shape and dtype; the
    data checks, which need concrete values, are exercised eagerly below)."""
    return {
        "ll": lecture.log_likelihoods(theta, X, y),
        "total": lecture.log_likelihood(theta, X, y),
        "hand": lecture.gradient(theta, X, y),
        "autodiff": jax.grad(lecture.log_likelihood)(theta, X, y),
        "rows": lecture.per_example_gradients(theta, X, y),
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@property_settings(max_examples=25)
@given(data=st.data())
def test_lecture_logistic_regression(dtype, data):
    """LL <= 0 and = the float64 closed form; ``gradient`` = Σ (y − σ(θᵀx̃)) x̃ (numpy) =
    ``jax.grad(log_likelihood)``; ``per_example_gradients`` rows = (y − σ) x̃ and sum to it."""
    rtol, factor = TOLERANCE[dtype]
    with jax.enable_x64(dtype == np.float64):
        theta, X, y = data.draw(logistic_problems(dtype))
        A = with_ones(X)  # the inputs as the code got them, in float64
        z = A @ theta.astype(np.float64)
        mag = lr_magnitude(theta, X)
        out = {k: np.asarray(v) for k, v in lecture_lr(theta, X, y).items()}
        assert all(v.dtype == dtype for v in out.values()), {k: v.dtype for k, v in out.items()}

        ll = out["ll"]
        assert np.all(np.isfinite(ll)) and np.all(ll <= 0), ll
        assert_close(ll, np_bernoulli_ll(z, y), rtol, factor * mag, "log_likelihoods")
        assert_close(out["total"], np.sum(np_bernoulli_ll(z, y)), rtol, factor * np.sum(mag), "LL")

        residual = y.astype(np.float64) - np_sigmoid(z)  # [n]
        closed_form = A.T @ residual  # the slide: Σᵢ (y − σ(θᵀx̃)) x̃ⱼ
        atol = factor * (np.abs(A).T @ mag)  # [m+1]
        assert_close(out["hand"], closed_form, rtol, atol, "gradient vs closed form")
        assert_close(out["autodiff"], closed_form, rtol, atol, "jax.grad(LL) vs closed form")
        assert_close(out["hand"], out["autodiff"], rtol, atol, "gradient vs jax.grad(LL)")

        rows = out["rows"]
        row_atol = factor * np.abs(A) * mag[:, None]
        assert_close(rows, residual[:, None] * A, rtol, row_atol, "per-example rows")
        assert_close(rows.astype(np.float64).sum(0), out["hand"], rtol, atol, "Σ rows vs gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@property_settings(max_examples=15)
@given(data=st.data())
def test_lecture_ll_finite_for_huge_logits(dtype, data):
    """Logits of size 1e3..1e5 (wrong and right side): per-example LL finite, <= 0 and equal to
    the float64 closed form (≈ −|z| on the wrong side); ∂LL/∂z = y − σ(z) (closed form) by
    ``jax.grad``; the LR gradient stays finite and equals Σ (y − σ) x̃."""
    rtol, factor = TOLERANCE[dtype]
    with jax.enable_x64(dtype == np.float64):
        n = data.draw(st.sampled_from([4, 9]))
        size = 10 ** data.draw(hnp.arrays(np.float64, n, elements=st.floats(3, 5)))
        sign = data.draw(hnp.arrays(np.int8, n, elements=st.sampled_from([-1, 1])))
        z = (sign * size).astype(dtype)
        y = data.draw(binary_labels(n)).astype(dtype)

        ll = np.asarray(lecture.bernoulli_log_likelihoods(z, y))
        assert np.all(np.isfinite(ll)) and np.all(ll <= 0), ll
        assert_close(ll, np_bernoulli_ll(z, y), rtol, factor * (1 + np.abs(z)), "LL(z)")
        dz = np.asarray(jax.grad(lambda t: jnp.sum(lecture.bernoulli_log_likelihoods(t, y)))(z))
        assert_close(dz, y - np_sigmoid(z), rtol, factor, "dLL/dz")

        # the same logits through logistic regression: one feature x = z, theta = (0, 1)
        X, theta = z[:, None], np.array([0, 1], dtype)
        ll = np.asarray(lecture.log_likelihoods(theta, X, y))
        assert np.all(np.isfinite(ll)) and np.all(ll <= 0), ll
        A = with_ones(X)
        closed_form = A.T @ (y - np_sigmoid(z))
        atol = factor * (np.abs(A).T @ lr_magnitude(theta, X))
        assert_close(lecture.gradient(theta, X, y), closed_form, rtol, atol, "gradient")
        autodiff = jax.grad(lecture.log_likelihood)(jnp.asarray(theta), X, y)
        assert_close(autodiff, closed_form, rtol, atol, "jax.grad(LL)")


@st.composite
def invalid_labels(draw):
    """y [n] with at least one value outside {0, 1}: the {-1, 1} convention, a class 2.., a
    negative label, or a soft label such as 0.5."""
    n = draw(st.sampled_from([1, 3, 8]))
    kind = draw(st.sampled_from(["plus_minus_one", "too_big", "negative", "fraction"]))
    if kind == "plus_minus_one":
        y = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([-1.0, 1.0])))
        y[draw(st.integers(0, n - 1))] = -1.0
        return y
    y = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0])))
    bad = {
        "too_big": st.integers(2, 9).map(float),
        "negative": st.integers(-9, -1).map(float),
        "fraction": st.floats(-2, 3).filter(lambda v: v != round(v)),
    }[kind]
    for i in draw(st.sets(st.integers(0, n - 1), min_size=1)):
        y[i] = draw(bad)
    return y


LECTURE_FUNCTIONS = {
    "log_likelihoods": lambda X, y: lecture.log_likelihoods(np.zeros(X.shape[1] + 1), X, y),
    "log_likelihood": lambda X, y: lecture.log_likelihood(np.zeros(X.shape[1] + 1), X, y),
    "gradient": lambda X, y: lecture.gradient(np.zeros(X.shape[1] + 1), X, y),
    "per_example_gradients": lambda X, y: lecture.per_example_gradients(
        np.zeros(X.shape[1] + 1), X, y
    ),
    "network_log_likelihood": lambda X, y: lecture.network_log_likelihood(
        np.ones((X.shape[1] + 1, 2)), np.ones(3), X, y
    ),
    "network_gradients": lambda X, y: lecture.network_gradients(
        np.ones((X.shape[1] + 1, 2)), np.ones(3), X, y
    ),
}


@pytest.mark.parametrize("name", sorted(LECTURE_FUNCTIONS))
# no shrinking: a failure is already small, and shrinking an eager vmap costs seconds a call
@settings(property_settings(max_examples=10), phases=[Phase.explicit, Phase.generate])
@given(y=invalid_labels())
def test_lecture_refuses_labels_outside_0_1(name, y):
    """Any label set with a value outside {0, 1} raises DataError, never a number."""
    X = np.linspace(-1, 1, 2 * y.shape[0]).reshape(y.shape[0], 2)
    with pytest.raises(lecture.DataError):
        LECTURE_FUNCTIONS[name](X, y)


# --------------------------------------------------------------------------- 2. the network
@jax.jit
def lecture_network(theta_h, theta_y, X, y):
    return {
        "ll": lecture.network_log_likelihoods(theta_h, theta_y, X, y),
        "total": lecture.network_log_likelihood(theta_h, theta_y, X, y),
        "hand": lecture.network_gradients(theta_h, theta_y, X, y),
        "autodiff": jax.grad(lecture.network_log_likelihood, argnums=(0, 1))(
            theta_h, theta_y, X, y
        ),
    }


@st.composite
def network_problems(draw, dtype):
    """(theta_h [m+1, H], theta_y [H+1], X [n, m], y [n]) in ``dtype``."""
    n = draw(st.sampled_from([1, 9]))
    m, H = draw(st.sampled_from([(1, 1), (3, 4)]))
    X = draw(hnp.arrays(np.float64, (n, m), elements=UNIT)) * 10 ** draw(LOG_SCALE)
    scale_h, scale_y = (10 ** draw(st.floats(-3, 1)) for _ in range(2))
    theta_h = draw(hnp.arrays(np.float64, (m + 1, H), elements=UNIT)) * scale_h
    theta_y = draw(hnp.arrays(np.float64, H + 1, elements=UNIT)) * scale_y
    y = draw(binary_labels(n))
    return tuple(a.astype(dtype) for a in (theta_h, theta_y, X, y))


def np_network(theta_h, theta_y, X, y):
    """The slides' forward pass and backprop in float64 numpy: (LL [n], dθ⁽ʰ⁾, dθ⁽ʸ⁾)."""
    theta_h, theta_y, y = (np.asarray(a, np.float64) for a in (theta_h, theta_y, y))
    A = with_ones(X)  # [n, m+1], x0 = 1
    h = np_sigmoid(A @ theta_h)  # hⱼ = σ(Σₖ xₖ θ⁽ʰ⁾ₖⱼ): [n, H]
    B = with_ones(h)  # h0 = 1
    z = B @ theta_y  # ŷ = σ(z)
    residual = y - np_sigmoid(z)  # y − ŷ
    d_theta_y = B.T @ residual  # Σᵢ (y − ŷ) hⱼ
    delta = residual[:, None] * theta_y[None, 1:] * h * (1 - h)
    d_theta_h = A.T @ delta  # Σᵢ (y − ŷ) θ⁽ʸ⁾ⱼ hⱼ (1 − hⱼ) xₖ
    return np_bernoulli_ll(z, y), d_theta_h, d_theta_y


def network_magnitudes(theta_h, theta_y, X):
    """Rounding scales: of the hidden logits [n, H], the output logit [n], and the atol units
    of dθ⁽ʰ⁾ [m+1, H] and dθ⁽ʸ⁾ [H+1]."""
    theta_h, theta_y = np.abs(np.asarray(theta_h, np.float64)), np.abs(np.asarray(theta_y, float))
    A = np.abs(with_ones(X))
    hidden = 1 + A @ theta_h
    h = np_sigmoid(with_ones(X) @ np.asarray(theta_h, np.float64))
    output = 1 + with_ones(h) @ theta_y + 0.25 * hidden @ theta_y[1:]
    d_y = np.abs(with_ones(h)).T @ output + np.concatenate([[0.0], hidden.sum(0)])
    d_h = A.T @ ((output[:, None] + hidden) * (1 + theta_y[None, 1:]))
    return output, d_h, d_y


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@property_settings(max_examples=20)
@given(data=st.data())
def test_lecture_network(dtype, data):
    """The slides' network: LL <= 0 and = float64 numpy; ``network_gradients`` (hand backprop)
    = a float64 numpy backprop = ``jax.grad(network_log_likelihood)`` for both thetas."""
    rtol, factor = TOLERANCE[dtype]
    with jax.enable_x64(dtype == np.float64):
        theta_h, theta_y, X, y = data.draw(network_problems(dtype))
        out = lecture_network(theta_h, theta_y, X, y)
        ll_ref, d_h_ref, d_y_ref = np_network(theta_h, theta_y, X, y)
        mag_ll, mag_h, mag_y = network_magnitudes(theta_h, theta_y, X)

        ll = np.asarray(out["ll"])
        assert ll.dtype == dtype
        assert np.all(np.isfinite(ll)) and np.all(ll <= 0), ll
        assert_close(ll, ll_ref, rtol, factor * mag_ll, "network LL")
        assert_close(out["total"], ll_ref.sum(), rtol, factor * mag_ll.sum(), "network LL sum")
        for route in ("hand", "autodiff"):
            d_h, d_y = (np.asarray(g) for g in out[route])
            assert d_h.dtype == d_y.dtype == dtype
            assert_close(d_h, d_h_ref, rtol, factor * mag_h, f"{route} dLL/dtheta_h")
            assert_close(d_y, d_y_ref, rtol, factor * mag_y, f"{route} dLL/dtheta_y")
        for hand, autodiff, mag in zip(out["hand"], out["autodiff"], (mag_h, mag_y), strict=True):
            assert_close(hand, autodiff, rtol, factor * mag, "network_gradients vs jax.grad")


# --------------------------------------------------------------------------- 3. model families
# (spec, K, feature shape, every parameter a Dense kernel/bias)
FAMILIES = [
    ("logreg", 2, (3,), True),
    ("mlp:4:tanh", 2, (3,), True),
    ("mlp:3x3:sigmoid", 2, (3,), True),
    ("softmax", 3, (3,), True),
    ("softmax-mlp:4:relu", 3, (3,), True),
    ("stack:dense=4-gelu", 2, (3,), True),
    ("convnet:4x4", 3, (16,), False),
    ("convnet:4x4", 3, (4, 4, 1), False),
]


@functools.cache
def family(spec: str, k: int, dense: bool):
    """(model, one jitted program giving logits, LL, the summed gradient by two routes and the
    per-example gradients by each method)."""
    model = model_from_spec(spec, num_classes=k)

    def loss_fn(params, x, y):
        return -model_log_likelihoods(model.apply(params, x), y, model.output)

    @jax.jit
    def run(params, x, y):
        logits = model.apply(params, x)
        out = {
            "logits": logits,
            "ll": model_log_likelihoods(logits, y, model.output),
            "full": jax.grad(lambda p: jnp.sum(loss_fn(p, x, y)))(params),
            "summed": summed_gradient(loss_fn, params, x, y),
            "auto": per_example_gradients(loss_fn, params, x, y, method="auto"),
            "vmap": per_example_gradients(loss_fn, params, x, y, method="vmap"),
        }
        if dense:
            out["dense"] = per_example_gradients(loss_fn, params, x, y, method="dense")
        return out

    return model, run


def leaves64(tree) -> list[np.ndarray]:
    return [np.asarray(leaf, np.float64) for leaf in jax.tree.leaves(tree)]


def closed_form_per_example(spec: str, params, x: np.ndarray, y: np.ndarray):
    """logreg / softmax: per-example gradients of −LL in float64 numpy, (bias [n, K'], kernel
    [n, m, K']), the slides' (y − σ(θᵀx̃)) x̃ and its K-class form (onehot − softmax) ⊗ x̃;
    with each one's atol unit. None for the other families."""
    if spec not in ("logreg", "softmax"):
        return None
    layer = params["params"]["output"]
    bias, kernel = (np.asarray(layer[name], np.float64) for name in ("bias", "kernel"))
    x = np.asarray(x, np.float64)
    z = x @ kernel + bias  # [n, K'] (K' = 1 for logreg)
    if spec == "logreg":
        error = y[:, None] - np_sigmoid(z)
    else:
        error = np.eye(kernel.shape[1])[y] - np.exp(np_log_softmax(z))
    mag = 1 + np.abs(x) @ np.abs(kernel).max(axis=1) + np.abs(bias).max()  # [n]
    bias_ref, kernel_ref = -error, -x[:, :, None] * error[:, None, :]
    atol_bias = np.broadcast_to(mag[:, None], bias_ref.shape)
    atol_kernel = np.broadcast_to((np.abs(x) * mag[:, None])[:, :, None], kernel_ref.shape)
    return (bias_ref, atol_bias), (kernel_ref, atol_kernel)


@st.composite
def model_problems(draw, k, feature_shape, dtype):
    """(params, x [n, *feature_shape], y [n]): params from ``init`` with a random key, plus
    N(0, 1) noise (logreg / softmax initialise to zeros), times a random scale."""
    n = draw(st.sampled_from([1, 5]))
    x = draw(hnp.arrays(np.float64, (n, *feature_shape), elements=UNIT))
    x = (x * 10 ** draw(st.floats(-2, 2))).astype(dtype)
    y = draw(binary_labels(n) if k == 2 else class_labels(n, k))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = 10 ** draw(st.floats(-2, 1))
    return seed, scale, x, y


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize(
    ("spec", "k", "feature_shape", "dense"),
    FAMILIES,
    ids=[f"{spec}-{'x'.join(map(str, shape))}" for spec, _, shape, _ in FAMILIES],
)
@property_settings(max_examples=6)
@given(data=st.data())
def test_model_family(spec, k, feature_shape, dense, dtype, data):
    """Each family: per-example LL <= 0 and = float64 numpy on the logits; per-example
    gradients (auto, vmap) sum to the test's jax.grad of the summed loss (and to
    ``summed_gradient``); dense = vmap where every layer is Dense; logreg / softmax per-example
    gradients = the slides' closed form."""
    rtol, factor = TOLERANCE[dtype]
    model, run = family(spec, k, dense)
    with jax.enable_x64(dtype == np.float64):
        seed, scale, x, y = data.draw(model_problems(k, feature_shape, dtype))
        rng = np.random.default_rng(seed)
        params = model.init(jax.random.key(seed), np.zeros((1, *feature_shape), np.float32))
        params = jax.tree.map(
            lambda p: (scale * (np.asarray(p) + rng.normal(size=p.shape))).astype(dtype), params
        )
        y_in = y.astype(dtype) if model.output == "binary" else y
        out = run(params, x, y_in)

        logits = np.asarray(out["logits"], np.float64)
        ll = np.asarray(out["ll"])
        assert ll.shape == (x.shape[0],) and ll.dtype == dtype
        assert np.all(np.isfinite(ll)) and np.all(ll <= 0), ll
        if model.output == "binary":
            assert logits.shape == (x.shape[0],)
            ll_ref = np_bernoulli_ll(logits, y)
        else:
            assert logits.shape == (x.shape[0], k)
            ll_ref = np_log_softmax(logits)[np.arange(x.shape[0]), y]
        mag = 1 + np.abs(logits).reshape(x.shape[0], -1).sum(axis=1)
        assert_close(ll, ll_ref, rtol, factor * mag, f"{spec} LL")

        full = leaves64(out["full"])
        assert all(np.asarray(g).dtype == dtype for g in jax.tree.leaves(out["full"]))
        vmap = leaves64(out["vmap"])
        # atol unit per leaf: Σᵢ |gᵢ| (a sum of n terms that may cancel)
        units = [np.abs(g).sum(axis=0) + np.abs(f) for g, f in zip(vmap, full, strict=True)]
        for name, tree in (("summed_gradient", out["summed"]),):
            for i, (a, f) in enumerate(zip(leaves64(tree), full, strict=True)):
                assert_close(a, f, rtol, factor * units[i], f"{spec} {name} leaf {i}")
        for method in ("auto", "vmap", "dense") if dense else ("auto", "vmap"):
            per_example = leaves64(out[method])
            for i, (g, f) in enumerate(zip(per_example, full, strict=True)):
                assert g.shape == (x.shape[0], *f.shape)
                assert_close(g.sum(axis=0), f, rtol, factor * units[i], f"{spec} Σ {method} {i}")
        if dense:
            for i, (d, v) in enumerate(zip(leaves64(out["dense"]), vmap, strict=True)):
                # per example, relative to that example's largest entry of the leaf
                unit = np.abs(v).reshape(v.shape[0], -1).max(axis=1)
                unit = unit.reshape(-1, *([1] * (v.ndim - 1)))
                assert_close(d, v, rtol, factor * unit, f"{spec} dense vs vmap leaf {i}")

        reference = closed_form_per_example(spec, params, x, y)
        if reference is not None:
            gradient = out["vmap"]["params"]["output"]
            for (ref, unit), name in zip(reference, ("bias", "kernel"), strict=True):
                got = np.asarray(gradient[name], np.float64)
                assert_close(got, ref, rtol, factor * unit, f"{spec} per-example {name}")
                assert_close(got.sum(0), ref.sum(0), rtol, factor * unit.sum(0), f"Σ {name}")
