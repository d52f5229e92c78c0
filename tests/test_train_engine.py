"""The engine against independent references: the lecture's loop, solo runs, compile counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn import lecture
from cs109nn.data import Dataset, load_dataset
from cs109nn.models import model_from_spec
from cs109nn.train import (
    HPARAM_NAMES,
    Hyperparameters,
    as_arrays,
    choose_chunk_size,
    make_runner,
    make_train,
    member_hyperparameters,
    member_keys,
)
from cs109nn.train.runner import MAX_CHUNK

# vmap and solo runs reduce in different orders: float32 results agree to ~1e-6, not bits.
FLOAT32_TOL = dict(rtol=2e-5, atol=2e-6)


def small_problem(n: int = 60, m: int = 4, seed: int = 0, dtype=np.float32) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m)).astype(dtype)
    y = (x @ rng.normal(size=m) + 0.5 * rng.normal(size=n) > 0).astype(np.int32)
    return Dataset("small", x[:40], y[:40], x[40:], y[40:], tuple(f"x{i}" for i in range(m)))


def test_logreg_full_batch_sgd_is_the_lectures_gradient_ascent():
    data = small_problem()
    n = len(data.y_train)
    trainer = make_runner(model_from_spec("logreg"), data, optimizer="sgd", steps=50)
    # The engine minimises -mean LL; the slides climb the summed LL: eta_engine = n eta_slides.
    eta = 0.01
    result = trainer(member_keys([0]), {"learning_rate": [n * eta], "init_scale": [0.0]})
    reference = lecture.gradient_ascent(data.x_train, data.y_train, eta, 50)
    output = result.params["params"]["output"]
    theta = np.asarray(reference.theta)
    # The logreg model's bias is theta[0] (x0 = 1), its kernel theta[1:].
    np.testing.assert_allclose(np.ravel(output["bias"][0]), theta[:1], **FLOAT32_TOL)
    np.testing.assert_allclose(np.ravel(output["kernel"][0]), theta[1:], **FLOAT32_TOL)
    np.testing.assert_allclose(
        result.final["train_ll"][0], float(reference.ll[-1]) / n, **FLOAT32_TOL
    )


def test_one_compile_for_many_seeds_and_hyperparameter_values(count_compiles):
    data = small_problem()
    trainer = make_runner(
        model_from_spec("mlp:8:sigmoid"), data, optimizer="momentum", steps=20, eval_every=10
    )
    seeds = np.repeat(np.arange(4), 3)
    grid = {
        "learning_rate": np.tile([0.01, 0.1, 1.0], 4),
        "momentum": np.tile([0.0, 0.5, 0.9], 4),
        "init_scale": np.linspace(0.5, 2, 12),
    }
    with count_compiles() as first:
        trainer(member_keys(seeds), grid)
    grid2 = {name: value[::-1] * 0.5 for name, value in grid.items()}  # in range, all new
    with count_compiles() as second:
        trainer(member_keys(seeds + 100), grid2)
    assert first.programs == 1  # the whole sharded training program, once
    assert second.backend == 0  # new seeds and values: no new XLA compile


def run_solo_and_vectorised(data, spec, optimizer, hparams, seeds, **options):
    trainer = make_runner(model_from_spec(spec), data, optimizer=optimizer, **options)
    together = trainer(member_keys(seeds), hparams)
    solos = [
        trainer(member_keys([seed]), {k: np.asarray(v)[i : i + 1] for k, v in hparams.items()})
        for i, seed in enumerate(seeds)
    ]
    return together, solos


@pytest.mark.parametrize("optimizer,batch_size", [("sgd", None), ("adam", 16), ("momentum", 8)])
def test_member_of_vectorised_run_equals_solo_run(optimizer, batch_size):
    data = small_problem()
    seeds = [3, 1, 4, 1, 5]
    hparams = {"learning_rate": [0.1, 0.05, 0.2, 0.01, 0.1], "weight_decay": [0, 1e-3, 0, 0, 0]}
    together, solos = run_solo_and_vectorised(
        data,
        "mlp:6:tanh",
        optimizer,
        hparams,
        seeds,
        steps=30,
        eval_every=10,
        batch_size=batch_size,
    )
    for i, solo in enumerate(solos):
        for name in together.history:
            np.testing.assert_allclose(
                together.history[name][i], solo.history[name][0], **FLOAT32_TOL
            )
        for a, b in zip(
            jax.tree.leaves(together.params), jax.tree.leaves(solo.params), strict=True
        ):
            np.testing.assert_allclose(a[i], b[0], **FLOAT32_TOL)


def test_float64_vectorised_equals_solo_to_1e12():
    with jax.enable_x64(True):
        data = small_problem(dtype=np.float64)
        together, solos = run_solo_and_vectorised(
            data,
            "mlp:6:sigmoid",
            "sgd",
            {"learning_rate": [0.5, 0.1, 1.0]},
            [0, 1, 2],
            steps=30,
        )
        assert together.history["train_ll"].dtype == np.float64
        for i, solo in enumerate(solos):
            np.testing.assert_allclose(
                together.history["train_ll"][i], solo.history["train_ll"][0], rtol=1e-12, atol=1e-12
            )


def test_same_program_gives_identical_bits_run_to_run():
    data = small_problem()
    trainer = make_runner(
        model_from_spec("mlp:8:relu"), data, optimizer="adam", steps=20, batch_size=10, eval_every=5
    )
    hp = {"learning_rate": [0.01, 0.1, 0.03]}
    a = trainer(member_keys([7, 8, 9]), hp)
    b = trainer(member_keys([7, 8, 9]), hp)
    for x, y in zip(
        jax.tree.leaves((a.params, a.history)), jax.tree.leaves((b.params, b.history)), strict=True
    ):
        np.testing.assert_array_equal(x, y)


def test_absurd_learning_rate_diverges_alone_and_is_flagged_with_its_step():
    data = small_problem()
    trainer = make_runner(
        model_from_spec("mlp:8:relu"), data, optimizer="sgd", steps=40, eval_every=10
    )
    lrs = [0.1, 1e30, 0.3]
    result = trainer(member_keys([0, 1, 2]), {"learning_rate": lrs})
    assert result.diverged.tolist() == [False, True, False]
    assert 1 <= result.diverged_step[1] <= 40 and result.diverged_step[0] == -1
    # The diverged member is frozen at finite values: no silent NaN anywhere.
    for leaf in jax.tree.leaves((result.params, result.history)):
        assert np.all(np.isfinite(leaf))
    # The others train as if it were not there: as in a run (of the same program) where a sane
    # member takes its place.
    sane = trainer(member_keys([0, 2, 2]), {"learning_rate": [0.1, 0.3, 0.3]})
    assert not sane.diverged.any()
    np.testing.assert_allclose(
        result.history["train_ll"][[0, 2]], sane.history["train_ll"][[0, 1]], **FLOAT32_TOL
    )


def test_dp_sgd_without_clipping_or_noise_is_plain_sgd():
    data = small_problem()
    model = model_from_spec("mlp:5:tanh")
    hp = {
        "learning_rate": [0.3, 0.1],
        "clip_norm": [np.inf, np.inf],
        "noise_multiplier": [0.0, 0.0],
    }
    plain = make_runner(model, data, steps=25, batch_size=20)(member_keys([0, 1]), hp)
    private = make_runner(model, data, steps=25, batch_size=20, dp=True)(member_keys([0, 1]), hp)
    for a, b in zip(jax.tree.leaves(plain.params), jax.tree.leaves(private.params), strict=True):
        np.testing.assert_allclose(a, b, **FLOAT32_TOL)


def test_dp_noise_changes_training_and_depends_on_the_seed_alone():
    data = small_problem()
    trainer = make_runner(model_from_spec("logreg"), data, steps=10, batch_size=20, dp=True)
    hp = {"learning_rate": [0.1] * 3, "clip_norm": [1.0] * 3, "noise_multiplier": [1.0] * 3}
    result = trainer(member_keys([0, 0, 1]), hp)
    w = jax.tree.leaves(result.params)[0]
    np.testing.assert_array_equal(w[0], w[1])
    assert not np.allclose(w[0], w[2])


def test_minibatch_of_the_whole_set_is_full_batch():
    data = small_problem()
    model = model_from_spec("mlp:4:sigmoid")
    full = make_runner(model, data, steps=15)(member_keys([2]), {})
    whole = make_runner(model, data, steps=15, batch_size=len(data.y_train))(member_keys([2]), {})
    np.testing.assert_allclose(full.history["train_ll"], whole.history["train_ll"], **FLOAT32_TOL)


def test_softmax_and_digits_history_shapes_and_learning():
    data = load_dataset("digits", n=400)
    trainer = make_runner(
        model_from_spec("softmax", num_classes=10), data, optimizer="adam", steps=60, eval_every=20
    )
    result = trainer(member_keys([0, 1]), {"learning_rate": [0.05, 0.05]})
    assert result.history["test_acc"].shape == (2, 3)
    assert result.eval_steps.tolist() == [20, 40, 60]
    assert np.all(result.final["test_acc"] > 0.8)  # chance is 0.1


def test_bad_options_raise_clear_errors():
    data = small_problem()
    model = model_from_spec("logreg")
    with pytest.raises(ValueError, match="eval_every=7 must divide steps=20"):
        make_runner(model, data, steps=20, eval_every=7)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_runner(model, data, optimizer="lbfgs", steps=5)
    trainer = make_runner(model, data, steps=5)
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['lr'\]"):
        trainer(member_keys([0]), {"lr": [0.1]})
    with pytest.raises(ValueError, match=r"'learning_rate' has shape \(2,\)"):
        trainer(member_keys([0, 1, 2]), {"learning_rate": [0.1, 0.2]})
    assert "learning_rate" in HPARAM_NAMES


def test_member_key_is_its_seed_alone():
    keys = member_keys([5, 9])
    np.testing.assert_array_equal(
        jax.random.key_data(keys[1]), jax.random.key_data(jax.random.key(9))
    )
    assert jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)


def test_a_data_set_of_the_same_shapes_reuses_the_program_and_trains_as_its_own(
    count_compiles,
):
    first, second = small_problem(seed=0), small_problem(seed=1)
    model = model_from_spec("mlp:4:tanh")
    trainer = make_runner(model, first, steps=20)
    trainer(member_keys([0, 1]), {})
    with count_compiles() as compiles:
        reused = trainer(member_keys([0, 1]), {}, second)
    assert compiles.backend == 0
    fresh = make_runner(model, second, steps=20)(member_keys([0, 1]), {})
    np.testing.assert_allclose(reused.history["test_ll"], fresh.history["test_ll"], **FLOAT32_TOL)
    with pytest.raises(ValueError, match="does not fit this runner's program"):
        trainer(member_keys([0]), {}, small_problem(n=70))


@pytest.mark.parametrize("members", [1, 7, 300, 1024, 1025])
def test_chunks_are_balanced_capped_and_cover_every_member(members):
    data = small_problem()
    chunk = choose_chunk_size(model_from_spec("logreg"), data.x_train, 40, members)
    chunks = -(-members // chunk)
    assert 1 <= chunk <= min(members, MAX_CHUNK)
    assert chunks * chunk - members < chunks  # padding below one member per chunk


def test_gradient_statistics_equal_the_slides_per_example_gradients():
    data = small_problem()
    trainer = make_runner(
        model_from_spec("logreg"), data, steps=20, eval_every=10, gradient_statistics=True
    )
    result = trainer(member_keys([0, 1]), {"learning_rate": [0.5, 2.0]})
    X1 = np.c_[np.ones(len(data.y_train)), data.x_train].astype(np.float64)
    for i in range(2):
        bias = np.ravel(result.params["params"]["output"]["bias"][i])
        kernel = np.ravel(result.params["params"]["output"]["kernel"][i])
        theta = np.r_[bias, kernel].astype(np.float64)
        # Per-example gradient of the loss -LL_i: (sigma(theta^T x) - y) x, with x0 = 1.
        per = (1 / (1 + np.exp(-X1 @ theta)) - data.y_train)[:, None] * X1
        norms = np.linalg.norm(per, axis=1)
        n = len(norms)
        mean_sq = np.sum(per.mean(axis=0) ** 2)
        trace = (np.sum(norms**2) - n * mean_sq) / (n - 1)
        np.testing.assert_allclose(result.history["grad_norm_mean"][i, -1], norms.mean(), rtol=1e-5)
        np.testing.assert_allclose(
            result.history["grad_norm_p90"][i, -1], np.quantile(norms, 0.9), rtol=1e-5
        )
        np.testing.assert_allclose(
            result.history["noise_scale"][i, -1], trace / (mean_sq - trace / n), rtol=1e-3
        )


def test_the_pure_train_under_the_users_own_jit_and_vmap_equals_the_runner():
    # The runner pads, chunks and shards the pure function; none of that may change a number.
    data = small_problem()
    model = model_from_spec("mlp:6:tanh")
    seeds, lrs = [3, 1, 4], [0.1, 0.3, 0.03]
    train = make_train(model, optimizer="momentum", steps=20, eval_every=5, batch_size=8)
    hp = member_hyperparameters({"learning_rate": lrs}, 3, np.float32)
    runs = jax.jit(jax.vmap(train, in_axes=(None, 0, 0)))(as_arrays(data), member_keys(seeds), hp)
    runner = make_runner(
        model, data, optimizer="momentum", steps=20, eval_every=5, batch_size=8, chunk_size=2
    )
    placed = runner(member_keys(seeds), {"learning_rate": lrs})
    for name, curve in placed.history.items():
        np.testing.assert_allclose(np.asarray(runs.history[name]), curve, **FLOAT32_TOL)
    np.testing.assert_array_equal(np.asarray(runs.diverged_step), placed.diverged_step)


def test_the_pure_train_is_differentiable_in_its_hyperparameters():
    # d(final train LL)/d(learning rate) by jax.grad through the whole scan, against a central
    # finite difference of the same ten steps written in float64 numpy.
    data = small_problem()
    X = np.c_[np.ones(len(data.y_train)), data.x_train].astype(np.float64)
    y = data.y_train.astype(np.float64)

    def numpy_final_ll(lr: float) -> float:
        theta = np.zeros(X.shape[1])  # logreg starts at theta = 0, as on the slides
        for _ in range(10):
            theta = theta + lr * X.T @ (y - 1 / (1 + np.exp(-X @ theta))) / len(y)
        z = X @ theta
        return float(np.mean(-y * np.logaddexp(0, -z) - (1 - y) * np.logaddexp(0, z)))

    train = make_train(model_from_spec("logreg"), steps=10)
    arrays = as_arrays(data)

    def final_ll(lr):  # the same member every call: a fresh key of the same seed
        history = train(arrays, jax.random.key(0), Hyperparameters(learning_rate=lr)).history
        return history["train_ll"][-1]

    lr, h = 0.5, 1e-5
    numeric = (numpy_final_ll(lr + h) - numpy_final_ll(lr - h)) / (2 * h)
    np.testing.assert_allclose(final_ll(lr), numpy_final_ll(lr), rtol=1e-6)
    np.testing.assert_allclose(jax.grad(final_ll)(lr), numeric, rtol=1e-4)


def test_validation_metrics_are_the_final_parameters_measured_on_the_validation_split():
    from cs109nn.data import with_validation

    data = with_validation(small_problem(n=100), 0.25, seed=1)
    assert data.x_val.shape == (10, 4) and data.x_train.shape == (30, 4)
    result = make_runner(model_from_spec("logreg"), data, steps=30)(member_keys([0]), {})
    out = result.params["params"]["output"]
    z = data.x_val.astype(np.float64) @ np.ravel(out["kernel"][0]) + out["bias"][0, 0]
    y = data.y_val
    ll = np.mean(y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z))
    np.testing.assert_allclose(result.final["val_ll"][0], ll, rtol=1e-5)
    np.testing.assert_allclose(result.final["val_acc"][0], np.mean((z > 0) == (y == 1)))


@pytest.mark.parametrize("spec", ["mlp:8:relu", "mlp:8:sigmoid"])
def test_absurd_learning_rates_leave_finite_frozen_curves(spec):
    """Learning rates 1e10 ... 1e30: every member diverges, is flagged with a step within the
    run, and its curves stay finite and flat from the first evaluation after that step (it is
    frozen there), for an unbounded (relu) and a saturating (sigmoid) activation."""
    data = small_problem()
    trainer = make_runner(model_from_spec(spec), data, optimizer="sgd", steps=40, eval_every=10)
    lrs = [1e10, 1e15, 1e20, 1e25, 1e30]
    result = trainer(member_keys(list(range(len(lrs)))), {"learning_rate": lrs})
    assert result.diverged.all()
    assert ((result.diverged_step >= 1) & (result.diverged_step <= 40)).all()
    for leaf in jax.tree.leaves((result.params, result.history)):
        assert np.all(np.isfinite(leaf))
    for i, step in enumerate(result.diverged_step):
        frozen_from = int(np.searchsorted(result.eval_steps, step))  # first evaluation at/after
        for curve in result.history.values():
            np.testing.assert_array_equal(curve[i, frozen_from:], curve[i, frozen_from])
