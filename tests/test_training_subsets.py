"""Training subsets (``train_size``): a member on a subset trains as a solo run on those rows,
Naive Bayes in a sweep is ``fit_bernoulli`` on its member's rows, and the subsets are the
stratified random draws they claim to be."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cs109nn.data import Dataset, load_dataset
from cs109nn.lecture.inputs import DataError
from cs109nn.models import fit_bernoulli, model_from_spec
from cs109nn.report.read import read_run
from cs109nn.run_folder_schema import read_arrays
from cs109nn.sweep import SweepSpec, run_sweep
from cs109nn.sweep.spec import SpecError
from cs109nn.train import FitRunner, make_runner, member_keys, split_member_key, subset_weights

CS109 = "../shared/data/cs109"
FLOAT32_TOL = {"rtol": 2e-5, "atol": 2e-6}


# jitted, as the training programs trace it: one compile per (n, K), not one per eager op
_subset_weights = jax.jit(subset_weights, static_argnums=3)


def member_subset(seed: int, y: np.ndarray, size: float, num_classes: int = 2) -> np.ndarray:
    """The rows (a boolean mask) member ``seed`` with ``train_size=size`` trains on."""
    keys = split_member_key(jax.random.key(seed))
    return np.asarray(_subset_weights(keys.subset, y, size, num_classes)) == 1


def largest_remainder(counts: np.ndarray, size: int) -> np.ndarray:
    """Hamilton's apportionment with Python's exact fractions: the reference for the per-class
    quotas (equal remainders go to the lower class first)."""
    from fractions import Fraction

    share = [Fraction(size * int(c), int(counts.sum())) for c in counts]
    quota = [int(s) for s in share]
    order = sorted(range(len(counts)), key=lambda k: -(share[k] - quota[k]))  # stable
    for k in order[: size - sum(quota)]:
        quota[k] += 1
    return np.array(quota)


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=2, max_size=5),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_subset_is_stratified_and_of_the_asked_size(counts, fraction, seed):
    counts = np.array(counts)
    y = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    size = max(1, int(round(fraction * counts.sum())))
    mask = member_subset(seed, y, size, len(counts))
    assert mask.sum() == size
    kept = np.bincount(y[mask], minlength=len(counts))
    np.testing.assert_array_equal(kept, largest_remainder(counts, size))


def test_subsets_depend_on_seed_and_size_only_and_inf_is_everything():
    y = np.repeat([0, 1], [30, 20])
    assert member_subset(0, y, math.inf).all()
    assert member_subset(0, y, 50).all() and member_subset(0, y, 500).all()
    np.testing.assert_array_equal(member_subset(3, y, 10), member_subset(3, y, 10))
    assert (member_subset(3, y, 10) != member_subset(4, y, 10)).any()


def toy(n: int = 48, m: int = 3, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 20, m)).astype(np.float32)
    y = (x @ rng.normal(size=m) + 0.7 * rng.normal(size=n + 20) > 0).astype(np.int32)
    return Dataset("toy", x[:n], y[:n], x[n:], y[n:], ("a", "b", "c"))


@pytest.mark.parametrize(
    "spec,optimizer,batch_size,size",
    [
        ("logreg", "sgd", None, 12),
        ("mlp:5:tanh", "adam", None, 20),
        ("mlp:5:tanh", "momentum", 32, 9),  # a subset smaller than a batch: one batch
    ],
)
def test_member_on_a_subset_trains_as_a_solo_run_on_its_rows(spec, optimizer, batch_size, size):
    data = toy()
    seeds = [5, 7]
    hparams = {"learning_rate": [0.3, 0.1], "weight_decay": [0.0, 1e-3], "train_size": size}
    together = make_runner(
        model_from_spec(spec),
        data,
        optimizer=optimizer,
        steps=40,
        eval_every=10,
        batch_size=batch_size,
    )(member_keys(seeds), hparams)
    solo_runner = None  # every member's rows have one shape: one program, each on its own rows
    for i, seed in enumerate(seeds):
        rows = member_subset(seed, data.y_train, size)
        assert rows.sum() == size
        solo_data = data._replace(x_train=data.x_train[rows], y_train=data.y_train[rows])
        if solo_runner is None:
            solo_runner = make_runner(
                model_from_spec(spec), solo_data, optimizer=optimizer, steps=40, eval_every=10
            )
        solo = solo_runner(
            member_keys([seed]),
            {
                k: np.atleast_1d(v)[i : i + 1] if k != "train_size" else math.inf
                for k, v in hparams.items()
            },
            solo_data,
        )
        for name in together.history:
            np.testing.assert_allclose(
                together.history[name][i], solo.history[name][0], **FLOAT32_TOL
            )
        for a, b in zip(
            jax.tree.leaves(together.params), jax.tree.leaves(solo.params), strict=True
        ):
            np.testing.assert_allclose(a[i], b[0], **FLOAT32_TOL)


def test_minibatches_without_a_subset_are_unchanged_by_train_size_n():
    data = toy()
    runner = make_runner(
        model_from_spec("mlp:4:tanh"), data, optimizer="sgd", steps=30, batch_size=8, eval_every=10
    )
    whole = runner(member_keys([1]), {"train_size": [len(data.y_train)]})
    default = runner(member_keys([1]), {})
    for name in whole.history:
        np.testing.assert_array_equal(whole.history[name], default.history[name])


def bernoulli_numpy(x: np.ndarray, y: np.ndarray, alpha: float = 1.0):
    """Float64 counting: log prior [2], log P(x_j = 1 | y) [2, m]."""
    prior = np.array([np.mean(y == k) for k in (0, 1)])
    p = np.stack([(x[y == k].sum(0) + alpha) / ((y == k).sum() + 2 * alpha) for k in (0, 1)])
    return np.log(prior), p


@pytest.fixture(scope="module")
def nb_run(tmp_path_factory):
    spec = SweepSpec(
        name="nb",
        datasets=("cs109:netflix",),
        models=("naive-bayes", "logreg"),
        optimizers=("momentum",),
        steps=(20,),
        seeds=(0, 1, 2),
        train_size=(10, math.inf),
        data_dir=CS109,
        save_params=True,
    )
    return spec, run_sweep(spec, tmp_path_factory.mktemp("nb"))


def test_naive_bayes_in_a_sweep_is_fit_bernoulli_on_each_members_rows(nb_run):
    spec, run_dir = nb_run
    data = load_dataset("cs109:netflix", data_dir=CS109, val_fraction=spec.val_fraction)
    run = read_run(run_dir)
    nb_rows = [r for r in run.rows if r["model"] == "naive-bayes"]
    assert {r["optimizer"] for r in nb_rows} == {"fitted"} and {r["steps"] for r in nb_rows} == {0}
    (group,) = {r["group"] for r in nb_rows}
    params = read_arrays(run_dir / "params" / f"{group}.npz")
    x_test = np.asarray(data.x_test, np.float64)
    for member, row in enumerate(nb_rows):
        rows = member_subset(row["seed"], data.y_train, row["train_size"])
        direct = fit_bernoulli(data.x_train[rows], data.y_train[rows])  # no weights: the rows
        np.testing.assert_allclose(params["log_p"][member], direct.log_p, rtol=1e-6)
        np.testing.assert_allclose(params["log_prior"][member], direct.log_prior, rtol=1e-6)
        # and the recorded test accuracy against float64 numpy counting on the same rows
        log_prior, p = bernoulli_numpy(data.x_train[rows].astype(np.float64), data.y_train[rows])
        joint = log_prior + x_test @ np.log(p).T + (1 - x_test) @ np.log1p(-p).T
        accuracy = np.mean(np.argmax(joint, axis=1) == data.y_test)
        assert row["final_test_acc"] == pytest.approx(accuracy, abs=1e-6)


def test_naive_bayes_and_logreg_members_of_a_seed_share_their_subset(nb_run):
    spec, run_dir = nb_run
    data = load_dataset("cs109:netflix", data_dir=CS109, val_fraction=spec.val_fraction)
    run = read_run(run_dir)
    for model in ("naive-bayes", "logreg"):
        for row in (r for r in run.rows if r["model"] == model and r["train_size"] == 10):
            rows = member_subset(row["seed"], data.y_train, 10)
            # train accuracy is measured on the member's own subset: at most 10 examples
            assert round(row["final_train_acc"] * 10, 4) == round(row["final_train_acc"] * 10)
            assert rows.sum() == 10


def test_fit_runner_refuses_non_binary_features_naming_the_cell():
    data = load_dataset("moons", n=40)
    with pytest.raises(ValueError, match=r"x_train\[0, 0\]"):
        FitRunner(model_from_spec("naive-bayes"), data)
    FitRunner(model_from_spec("naive-bayes:gaussian"), data)  # real features are its kind


def test_bad_specs_fail_before_a_folder_exists(tmp_path):
    with pytest.raises(SpecError, match="train_size needs dp=False"):
        SweepSpec(dp=True, train_size=(8,))
    with pytest.raises(SpecError, match="train_size must lie in"):
        SweepSpec(train_size=(0,))
    out = tmp_path / "run"
    with pytest.raises(DataError, match=r"binary features; data set 'moons' has x_train\[0, 0\]"):
        run_sweep(SweepSpec(datasets=("moons",), models=("naive-bayes",)), out)
    assert not out.exists()


def test_subsets_of_a_split_too_large_for_exact_quotas_are_refused():
    from cs109nn.errors import ConfigError
    from cs109nn.train.subset import MAX_SUBSET_SPLIT, check_subset_sizes

    with pytest.raises(ConfigError, match="at most 65535 examples"):
        check_subset_sizes(np.array([8.0, math.inf]), MAX_SUBSET_SPLIT + 1)
    check_subset_sizes(np.array([math.inf]), MAX_SUBSET_SPLIT + 1)  # the whole split: fine
    check_subset_sizes(np.array([8.0]), MAX_SUBSET_SPLIT)
