"""Naive Bayes against hand counts and scikit-learn's BernoulliNB / GaussianNB."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.naive_bayes import BernoulliNB, GaussianNB

from cs109nn.models import naive_bayes as nb
from cs109nn.models import objectives

# a tiny data set whose counts are written out below by hand
X_TINY = np.asarray([[1, 0], [1, 1], [0, 1], [1, 0], [0, 0]], np.float32)
Y_TINY = np.asarray([1, 1, 0, 0, 1])


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """An independent reader: header row, label in the last column."""
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1].astype(int)


def test_bernoulli_parameters_equal_hand_counts_with_laplace_smoothing():
    params = nb.fit_bernoulli(X_TINY, Y_TINY, num_classes=2, alpha=1.0)
    # class 1: rows 0, 1, 4 -> x1 = 1 in 2 of 3, x2 = 1 in 1 of 3; class 0: rows 2, 3
    np.testing.assert_allclose(np.exp(params.log_prior), [2 / 5, 3 / 5], rtol=1e-6)
    np.testing.assert_allclose(
        np.exp(params.log_p), [[(1 + 1) / (2 + 2), (1 + 1) / (2 + 2)], [3 / 5, 2 / 5]], rtol=1e-6
    )
    np.testing.assert_allclose(np.exp(params.log_not_p), 1 - np.exp(params.log_p), rtol=1e-6)
    plain = nb.fit_bernoulli(X_TINY, Y_TINY, num_classes=2, alpha=0.0)  # the MLE
    np.testing.assert_allclose(np.exp(plain.log_p), [[1 / 2, 1 / 2], [2 / 3, 1 / 3]], rtol=1e-6)


def test_bernoulli_binary_logits_are_the_hand_computed_log_odds():
    params = nb.fit_bernoulli(X_TINY, Y_TINY, num_classes=2, alpha=1.0)
    x = np.asarray([[1, 1]], np.float32)
    # P(y=1) P(x1=1|1) P(x2=1|1) vs P(y=0) P(x1=1|0) P(x2=1|0)
    want = np.log((3 / 5) * (3 / 5) * (2 / 5)) - np.log((2 / 5) * (2 / 4) * (2 / 4))
    np.testing.assert_allclose(nb.predict_logits(params, x), [want], rtol=1e-5)
    assert nb.predict_logits(params, x, "categorical").shape == (1, 2)


def test_gaussian_parameters_equal_hand_moments():
    x = np.asarray([[0.0], [2.0], [10.0], [14.0]], np.float32)
    y = np.asarray([0, 0, 1, 1])
    params = nb.fit_gaussian(x, y, num_classes=2, var_smoothing=0.0)
    np.testing.assert_allclose(params.mean, [[1.0], [12.0]], rtol=1e-6)
    np.testing.assert_allclose(params.var, [[1.0], [4.0]], rtol=1e-6)  # MLE: divide by n_k
    smoothed = nb.fit_gaussian(x, y, num_classes=2, var_smoothing=0.5)
    overall_var = np.var([0.0, 2.0, 10.0, 14.0])
    np.testing.assert_allclose(smoothed.var, [[1 + 0.5 * overall_var], [4 + 0.5 * overall_var]])


def test_resample_weights_fit_what_the_repeated_rows_fit_and_vmap_over_resamples():
    counts = np.asarray([[2, 0, 1, 1, 3], [0, 2, 2, 0, 3]], np.float32)  # 7 rows each
    fits = jax.vmap(lambda w: nb.fit_bernoulli(X_TINY, Y_TINY, 2, 1.0, w))(jnp.asarray(counts))
    gfits = jax.vmap(lambda w: nb.fit_gaussian(X_TINY, Y_TINY, 2, 1e-3, w))(jnp.asarray(counts))
    for r, w in enumerate(counts.astype(int)):
        rows = np.repeat(np.arange(len(w)), w)
        solo = nb.fit_bernoulli(X_TINY[rows], Y_TINY[rows], num_classes=2, alpha=1.0)
        for got, want in zip(fits, solo, strict=True):
            np.testing.assert_allclose(got[r], want, rtol=1e-5)
        gsolo = nb.fit_gaussian(X_TINY[rows], Y_TINY[rows], num_classes=2, var_smoothing=1e-3)
        for got, want in zip(gfits, gsolo, strict=True):
            np.testing.assert_allclose(got[r], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["netflix", "heart", "ancestry"])
def test_bernoulli_predictions_on_cs109_data_equal_scikit_learn(cs109_dir, name):
    x_train, y_train = _read_csv(cs109_dir / f"{name}-train.csv")
    x_test, y_test = _read_csv(cs109_dir / f"{name}-test.csv")
    reference = BernoulliNB(alpha=1.0).fit(x_train, y_train)
    params = nb.fit_bernoulli(x_train, y_train, num_classes=2, alpha=1.0)

    logits = nb.predict_logits(params, x_test)
    assert logits.shape == (len(x_test),)
    np.testing.assert_array_equal(
        np.asarray(objectives.predict(logits, "binary")), reference.predict(x_test)
    )
    ref_log_proba = reference.predict_log_proba(x_test)
    np.testing.assert_allclose(nb.predict_log_proba(params, x_test), ref_log_proba, atol=1e-4)
    np.testing.assert_allclose(logits, ref_log_proba[:, 1] - ref_log_proba[:, 0], atol=1e-4)
    np.testing.assert_allclose(
        objectives.accuracy(logits, y_test, "binary"), reference.score(x_test, y_test), atol=1e-6
    )


def test_gaussian_on_three_planar_blobs_equals_scikit_learn():
    x, y = make_blobs(n_samples=300, centers=3, n_features=2, cluster_std=2.0, random_state=0)
    x_train, y_train, x_test = x[:200], y[:200], x[200:]
    reference = GaussianNB(var_smoothing=1e-9).fit(x_train, y_train)
    params = nb.fit_gaussian(x_train, y_train, num_classes=3, var_smoothing=1e-9)
    np.testing.assert_allclose(params.mean, reference.theta_, rtol=1e-5)
    np.testing.assert_allclose(params.var, reference.var_, rtol=1e-4)
    np.testing.assert_allclose(np.exp(params.log_prior), reference.class_prior_, rtol=1e-6)
    logits = nb.predict_logits(params, x_test)
    assert logits.shape == (100, 3)
    np.testing.assert_array_equal(
        np.asarray(objectives.predict(logits, "categorical")), reference.predict(x_test)
    )
    np.testing.assert_allclose(
        nb.predict_log_proba(params, x_test), reference.predict_log_proba(x_test), atol=1e-3
    )


def test_gaussian_on_digits_predicts_as_scikit_learn():
    # var_smoothing well above the default: pixels constant within a class would otherwise
    # give variances of ~1e-8 and joint likelihoods beyond float32's resolution
    x, y = load_digits(return_X_y=True)
    reference = GaussianNB(var_smoothing=0.1).fit(x[:1200], y[:1200])
    params = nb.fit_gaussian(x[:1200], y[:1200], num_classes=10, var_smoothing=0.1)
    got = np.asarray(objectives.predict(nb.predict_logits(params, x[1200:]), "categorical"))
    np.testing.assert_array_equal(got, reference.predict(x[1200:]))
