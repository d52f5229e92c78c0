"""Built-in data sets and transforms, checked against scikit-learn and numpy computed here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from cs109nn.data import (
    DATASETS,
    circles,
    digits,
    load_dataset,
    moons,
    one_hot,
    ratings,
    spirals,
    standardize,
    star_ratings,
    train_test_split,
    xor,
)

PLANAR = {"xor": xor, "circles": circles, "moons": moons, "spirals": spirals}
SEEDS = (0, 1, 2)


def _logistic_regression_test_accuracy(ds) -> float:
    model = LogisticRegression(max_iter=1000).fit(ds.x_train, ds.y_train)
    return model.score(ds.x_test, ds.y_test)


# --- 2-D sets no line separates ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PLANAR))
def test_planar_shapes_dtypes_and_both_classes(name):
    ds = PLANAR[name](n=200, seed=0)
    assert ds.name == name and ds.num_classes == 2 and ds.feature_names == ("x1", "x2")
    assert ds.x_train.shape == (150, 2) and ds.x_test.shape == (50, 2)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    for y in (ds.y_train, ds.y_test):
        assert set(np.unique(y)) == {0, 1}
    assert np.isfinite(ds.x_train).all()


@pytest.mark.parametrize("name", sorted(PLANAR))
def test_planar_is_a_pure_function_of_n_noise_seed(name):
    make = PLANAR[name]
    a, b, c = make(100, 0.1, 3), make(100, 0.1, 3), make(100, 0.1, 4)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", ["xor", "circles", "spirals"])
def test_no_line_separates_xor_circles_spirals(name):
    for seed in SEEDS:
        accuracy = _logistic_regression_test_accuracy(PLANAR[name](seed=seed))
        assert accuracy < 0.8, (name, seed, accuracy)


def test_moons_needs_a_hidden_layer_to_be_separated():
    for seed in SEEDS:
        ds = moons(seed=seed)
        linear = _logistic_regression_test_accuracy(ds)
        mlp = MLPClassifier((32, 32), max_iter=2000, random_state=0).fit(ds.x_train, ds.y_train)
        assert linear < 0.95 and mlp.score(ds.x_test, ds.y_test) >= linear + 0.04, seed


def test_circles_radii_match_the_definition():
    ds = circles(n=400, noise=0.0, seed=0, factor=0.3)
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)


def test_noiseless_xor_labels_are_opposite_signs():
    ds = xor(n=300, noise=0.0, seed=1)
    np.testing.assert_array_equal(ds.y_train, ds.x_train[:, 0] * ds.x_train[:, 1] < 0)


# --- digits -------------------------------------------------------------------------------


def _pairs(images: np.ndarray, labels: np.ndarray) -> list[tuple[bytes, int]]:
    """The multiset of (image as 0..16 integers, label), order-free."""
    flat = np.rint(np.asarray(images).reshape(len(labels), -1)).astype(np.int64)
    return sorted(zip((row.tobytes() for row in flat), labels.tolist(), strict=True))


@pytest.fixture(scope="module")
def sklearn_digits():
    return load_digits()


def test_digits_is_sklearn_digits_scaled_to_unit_range(sklearn_digits):
    ds = digits(seed=0)
    assert ds.num_classes == 10 and len(ds.feature_names) == 64
    assert ds.x_train.shape[1:] == (64,) and ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int32
    assert len(ds.y_train) + len(ds.y_test) == 1797
    x = np.concatenate([ds.x_train, ds.x_test])
    assert x.min() == 0.0 and x.max() == 1.0
    y = np.concatenate([ds.y_train, ds.y_test])
    assert _pairs(x * 16, y) == _pairs(sklearn_digits.data, sklearn_digits.target)


def test_digits_binary_is_digit_at_least_five(sklearn_digits):
    ds = digits(binary=True, seed=0)
    assert ds.num_classes == 2
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    expected = (sklearn_digits.target >= 5).astype(int)
    assert _pairs(x * 16, y) == _pairs(sklearn_digits.data, expected)


def test_digits_images_are_8x8x1_and_reshape_to_the_flat_rows(sklearn_digits):
    images, flat = digits(images=True, seed=5), digits(seed=5)
    assert images.x_train.shape[1:] == (8, 8, 1) and images.x_test.shape[1:] == (8, 8, 1)
    np.testing.assert_array_equal(images.x_train.reshape(-1, 64), flat.x_train)
    np.testing.assert_array_equal(images.y_test, flat.y_test)
    x = np.concatenate([images.x_train, images.x_test])[..., 0] * 16
    y = np.concatenate([images.y_train, images.y_test])
    assert _pairs(x, y) == _pairs(sklearn_digits.images, sklearn_digits.target)


def test_digits_split_is_stratified_seeded_and_deterministic():
    a, b, c = digits(seed=1), digits(seed=1), digits(seed=2)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    counts_train, counts_test = np.bincount(a.y_train), np.bincount(a.y_test)
    share = counts_test / (counts_train + counts_test)
    assert np.all(np.abs(share - 0.2) < 0.01), share


def test_digits_subset_has_n_examples():
    ds = digits(n=300, seed=0)
    assert len(ds.y_train) + len(ds.y_test) == 300


# --- generated ratings ------------------------------------------------------------------


def test_ratings_are_deterministic_in_the_seed():
    a, b, c = ratings(seed=7), ratings(seed=7), ratings(seed=8)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_ratings_features_are_binary_and_named_like_movies():
    ds = ratings(n=400, seed=0)
    assert set(np.unique(ds.x_train)) == {0.0, 1.0} and ds.x_train.dtype == np.float32
    assert ds.feature_names[:2] == ("movie_00", "movie_01")
    assert ds.feature_names[-1] == "Demographic" and len(ds.feature_names) == 20
    assert ratings(n=50, seed=0, demographic=False).x_train.shape[1] == 19


def test_ratings_binarise_five_stars_of_the_latent_model():
    stars, tastes = star_ratings(500, 20, seed=3)
    assert stars.min() >= 1 and stars.max() <= 5 and len(np.unique(stars)) == 5
    ds = ratings(n=500, seed=3, test_fraction=0.0)  # no split: rows keep their order
    np.testing.assert_array_equal(ds.x_train[:, :19], stars[:, :19] == 5)
    np.testing.assert_array_equal(ds.y_train, stars[:, 19] == 5)
    # The demographic bit leans with the first taste, as documented.
    assert np.corrcoef(ds.x_train[:, 19], tastes[:, 0])[0, 1] > 0.3


def test_more_users_keep_the_first_users_ratings():
    small, _ = star_ratings(100, 20, seed=0)
    large, _ = star_ratings(300, 20, seed=0)
    np.testing.assert_array_equal(small, large[:100])


def test_ratings_label_is_predictable_above_the_base_rate():
    gains = []
    for seed in range(5):
        ds = ratings(n=1000, seed=seed)
        assert 0 < ds.y_train.mean() < 1
        majority = max(ds.y_test.mean(), 1 - ds.y_test.mean())
        gain = _logistic_regression_test_accuracy(ds) - majority
        assert gain > 0, (seed, gain)
        gains.append(gain)
    assert np.mean(gains) > 0.05, gains


# --- transforms ---------------------------------------------------------------------------


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, size=(50, 4))
    x_test = rng.normal(-1.0, 5.0, size=(20, 4))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    train, test = standardize(x_train, x_test)
    np.testing.assert_allclose(train, (x_train - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(test, (x_test - mean) / std, rtol=1e-5, atol=1e-5)
    assert train.dtype == np.float32 and test.dtype == np.float32
    # Test statistics stay what they were: the test split is not re-centred on itself.
    assert np.abs(test.mean(axis=0)).min() > 0.5


def test_standardize_leaves_constant_columns_finite():
    x_train = np.array([[1.0, 5.0], [3.0, 5.0]])
    train, test = standardize(x_train, np.array([[2.0, 7.0]]))
    np.testing.assert_array_equal(train, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(test, [[0.0, 2.0]])
    assert standardize(x_train)[1] is None


def test_one_hot_of_the_slides_a_b_c_example():
    encoded, categories = one_hot(["A", "B", "C", "A"])
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(encoded, expected)
    assert categories == ("A", "B", "C") and encoded.dtype == np.float32


def test_one_hot_integer_codes_and_explicit_categories():
    encoded, categories = one_hot(np.array([2, 0]), num_values=4)
    np.testing.assert_array_equal(encoded, [[0, 0, 1, 0], [1, 0, 0, 0]])
    assert categories == (0, 1, 2, 3)
    encoded, categories = one_hot(["b", "a"], categories=["b", "a", "z"])
    np.testing.assert_array_equal(encoded, [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="'q'"):
        one_hot(["a", "q"], categories=["a", "b"])
    with pytest.raises(ValueError, match="5"):
        one_hot([5], num_values=3)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 60),
    test_fraction=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**32 - 1),
    stratify=st.booleans(),
)
def test_train_test_split_partitions_the_examples(n, test_fraction, seed, stratify):
    x = np.arange(n) * 10
    y = np.arange(n) % 3
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_fraction, seed, stratify=stratify
    )
    assert sorted(np.concatenate([x_train, x_test]).tolist()) == x.tolist()
    np.testing.assert_array_equal(y_train, (x_train // 10) % 3)  # pairs stay together
    np.testing.assert_array_equal(y_test, (x_test // 10) % 3)
    if stratify:
        for c in range(3):
            assert (y_test == c).sum() == round((y == c).sum() * test_fraction)
    else:
        assert len(x_test) == round(n * test_fraction)
    again = train_test_split(x, y, test_fraction, seed, stratify=stratify)
    np.testing.assert_array_equal(again[1], x_test)


# --- registry -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [s for s in DATASETS if not s.startswith("cs109:")])
def test_every_builtin_spec_loads_a_consistent_dataset(spec):
    ds = load_dataset(spec, seed=1)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.x_train.shape[0] == ds.y_train.shape[0] > 0
    assert ds.x_test.shape[1:] == ds.x_train.shape[1:]
    assert int(np.prod(ds.x_train.shape[1:])) == len(ds.feature_names)
    assert set(np.unique(ds.y_train)) == set(range(ds.num_classes))


def test_registry_specs_pick_the_right_variant():
    assert load_dataset("digits-images").x_train.shape[1:] == (8, 8, 1)
    assert load_dataset("digits-binary").num_classes == 2
    assert load_dataset("digits").num_classes == 10
    moons_ds = load_dataset("moons", seed=4, n=120)
    np.testing.assert_array_equal(moons_ds.x_test, moons(n=120, seed=4).x_test)
    assert (
        len(load_dataset("ratings", n=80).y_train) + len(load_dataset("ratings", n=80).y_test) == 80
    )


def test_unknown_spec_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown data set 'mnist'.*digits-binary.*spirals"):
        load_dataset("mnist")


@pytest.mark.parametrize("spec", ["xor", "digits", "cs109:heart"])
def test_the_validation_split_is_carved_from_train_disjoint_stratified_and_seeded(spec, cs109_dir):
    plain = load_dataset(spec, data_dir=str(cs109_dir), seed=3)
    split = load_dataset(spec, data_dir=str(cs109_dir), seed=3, val_fraction=0.2)

    # train and validation together are the plain training split, each example exactly once
    # (as multisets: CS109's binary files hold repeated rows)
    def rows(x, y):
        return sorted(row.tobytes() + bytes([label]) for row, label in zip(
            np.asarray(x).reshape(len(y), -1), y, strict=True))  # fmt: skip

    assert sorted(rows(split.x_train, split.y_train) + rows(split.x_val, split.y_val)) == rows(
        plain.x_train, plain.y_train
    )
    # the test split is untouched
    np.testing.assert_array_equal(split.x_test, plain.x_test)
    # stratified: each class's share of validation is round(0.2 * its training count)
    for c in np.unique(plain.y_train):
        assert np.sum(split.y_val == c) == round(0.2 * np.sum(plain.y_train == c))
    again = load_dataset(spec, data_dir=str(cs109_dir), seed=3, val_fraction=0.2)
    np.testing.assert_array_equal(again.x_val, split.x_val)
