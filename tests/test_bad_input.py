"""Ordinary mistakes get a clear error, a documented flagged result, or the same numbers as the
plain input: one test per class of input, at every entry point (the lecture's functions,
Newton, the engine, the sweep, the commands)."""

from __future__ import annotations

import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn import lecture
from cs109nn.cli.main import main
from cs109nn.data import Dataset
from cs109nn.errors import ConfigError
from cs109nn.lecture import DataError, OneClassWarning
from cs109nn.models import model_from_spec
from cs109nn.sweep import SpecError, SweepSpec
from cs109nn.train import make_runner, member_keys


def problem(n: int = 40, m: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m)).astype(np.float32)
    y = (X @ rng.normal(size=m) + rng.normal(size=n) > 0).astype(np.int32)
    return X, y


def as_dataset(X, y) -> Dataset:
    return Dataset("mine", X, y, None, None, tuple(f"x{i}" for i in range(X.shape[1])))


def fit_everywhere(X, y, **runner_options):
    """The same data through every fitter: the slides' ascent, Newton, the engine."""
    lecture.gradient_ascent(X, y, 0.01, 5)
    lecture.newton(X, y)
    make_runner(model_from_spec("logreg"), as_dataset(X, y), steps=5, **runner_options)


# --- labels ---------------------------------------------------------------------------------


def test_labels_minus_one_one_are_refused_everywhere_naming_the_fix():
    X, y = problem()
    for fit in (
        lambda: lecture.gradient_ascent(X, 2 * y - 1, 0.01, 5),
        lambda: lecture.newton(X, 2 * y - 1),
        lambda: lecture.log_likelihood(np.zeros(4), X, 2 * y - 1),
        lambda: make_runner(model_from_spec("logreg"), as_dataset(X, 2 * y - 1), steps=5),
    ):
        with pytest.raises(DataError, match=r"\{-1, 1\}.*\(y(_train)? \+ 1\) // 2"):
            fit()


def test_three_classes_on_a_binary_model_are_refused_pointing_to_softmax():
    X, y = problem()
    y3 = y + (X[:, 0] > 1)  # labels 0, 1, 2
    with pytest.raises(DataError, match="categorical model"):
        make_runner(model_from_spec("logreg"), as_dataset(X, y3), steps=5)
    with pytest.raises(DataError, match=r"outside \{0, \.\.\., 1\}"):
        lecture.newton(X, y3)
    # the same labels are fine for a 3-class head
    make_runner(model_from_spec("softmax", num_classes=3), as_dataset(X, y3), steps=5)


def test_soft_labels_are_refused_unless_explicitly_allowed():
    X, y = problem()
    soft = np.where(y == 1, 0.7, 0.3)
    with pytest.raises(DataError, match="allow_soft_labels"):
        lecture.log_likelihoods(np.zeros(4), X, soft)
    lecture.check_examples(X, soft, allow_soft_labels=True)  # probabilities: accepted


def test_a_single_class_training_set_warns_and_the_fitters_say_so():
    X, _ = problem()
    ones = np.ones(len(X), np.int32)
    with pytest.warns(OneClassWarning, match="single-class"):
        lecture.gradient_ascent(X, ones, 0.01, 5)
    with pytest.warns(OneClassWarning):
        result = lecture.newton(X, ones)
    assert result.outcome == "one_class"
    with pytest.warns(OneClassWarning):
        make_runner(model_from_spec("logreg"), as_dataset(X, ones), steps=5)


# --- shapes ---------------------------------------------------------------------------------


def test_y_as_a_column_is_refused_instead_of_broadcasting_to_n_by_n():
    X, y = problem()
    with pytest.raises(DataError, match=r"shape \(40, 1\).*ravel"):
        lecture.log_likelihood(np.zeros(4), X, y[:, None])
    with pytest.raises(DataError, match="ravel"):
        fit_everywhere(X, y[:, None])


def test_a_label_count_that_differs_from_the_examples_names_both():
    X, y = problem()
    with pytest.raises(DataError, match="40 examples but y has 39 labels"):
        lecture.gradient(np.zeros(4), X, y[:-1])
    with pytest.raises(DataError, match="40 examples but y_train has 39 labels"):
        make_runner(model_from_spec("logreg"), as_dataset(X, y[:-1]), steps=5)


def test_zero_examples_or_zero_features_are_refused():
    X, y = problem()
    with pytest.raises(DataError, match="no examples"):
        lecture.newton(X[:0], y[:0])
    with pytest.raises(DataError, match="no examples"):
        make_runner(model_from_spec("logreg"), as_dataset(X[:0], y[:0]), steps=5)
    with pytest.raises(DataError, match="no feature columns"):
        lecture.newton(X[:, :0], y)


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_name_the_first_row_and_column(bad):
    X, y = problem()
    X[7, 2] = bad
    X[9, 0] = bad
    for fit in (
        lambda: lecture.gradient_ascent(X, y, 0.01, 5),
        lambda: lecture.newton(X, y),
        lambda: make_runner(model_from_spec("logreg"), as_dataset(X, y), steps=5),
    ):
        with pytest.raises(DataError, match=r"at row 7, column 2 \(2 non-finite"):
            fit()


def test_non_finite_labels_are_refused_with_their_row():
    X, y = problem()
    y = y.astype(np.float32)
    y[3] = np.nan
    with pytest.raises(DataError, match="non-finite label nan at row 3"):
        lecture.newton(X, y)


def test_integer_boolean_and_float64_inputs_give_the_same_numbers_as_float32():
    X, y = problem()
    X_int = np.round(X * 3).astype(np.int64)
    reference = lecture.gradient_ascent(X_int.astype(np.float32), y, 0.01, 20)
    for X_in, y_in in ((X_int, y), (X_int, y.astype(bool)), (X_int.astype(np.float64), y)):
        got = lecture.gradient_ascent(X_in, y_in, 0.01, 20)
        np.testing.assert_array_equal(np.asarray(got.theta), np.asarray(reference.theta))


def test_legacy_uint32_keys_train_as_the_typed_keys_of_the_same_seeds():
    X, y = problem()
    runner = make_runner(model_from_spec("mlp:4:tanh"), as_dataset(X, y), steps=10)
    typed = runner(member_keys([3, 5]), {})
    legacy = runner(jnp.stack([jax.random.PRNGKey(3), jax.random.PRNGKey(5)]), {})
    np.testing.assert_array_equal(typed.history["train_ll"], legacy.history["train_ll"])


# --- configs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("stack:dense=0-relu", "the width must be a positive integer, got 0"),
        ("stack:dense=2.5-relu", "the width must be a positive integer, got 2.5"),
        ("stack:conv=0-relu", "the channel count must be a positive integer"),
        ("stack:dnese=4-relu", "did you mean 'dense'"),
        ("mlpp:8", "did you mean"),
        ("mlp:8:rleu", "did you mean 'relu'"),
    ],
)
def test_bad_model_specs_fail_when_parsed_naming_the_fix(spec, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        model_from_spec(spec)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"learning_rate": (0.1, 0.0)}, r"learning_rate must lie in \(0, inf\); got 0.0"),
        ({"learning_rate": (-1.0,)}, "learning_rate must lie in"),
        ({"momentum": (1.5,)}, r"momentum must lie in \[0, 1\)"),
        ({"clip_norm": (0.0,)}, "clip_norm must lie in"),
        ({"steps": (20,), "eval_every": 7}, "eval_every=7 must divide steps=20"),
    ],
)
def test_hyperparameters_and_schedules_are_checked_when_the_spec_is_made(changes, words):
    with pytest.raises(SpecError, match=words):
        SweepSpec(**changes)


def test_the_runner_checks_hyperparameter_ranges_too():
    X, y = problem()
    runner = make_runner(model_from_spec("logreg"), as_dataset(X, y), steps=5)
    with pytest.raises(ConfigError, match="learning_rate must lie in"):
        runner(member_keys([0, 1]), {"learning_rate": [0.1, -0.1]})


# --- commands -------------------------------------------------------------------------------


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cs109nn {command}: error: "), err
    return err[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty file"),
        ("a,b,Label\n", "header only"),
        ("a,b,Label\n1,,0\n", "line 2, column 'b': not a finite number: ''"),
        ("a,b,Label\n1,2,-1\n", "label must be 0 or 1"),
        ("a,b,Label\n1,nan,0\n", "not a finite number: 'nan'"),
    ],
)
def test_train_prints_data_errors_as_one_line_with_exit_code_1(tmp_path, capsys, content, words):
    path = tmp_path / "data.csv"
    path.write_text(content)
    assert main(["train", "--train", str(path)]) == 1
    assert words in one_error_line(capsys, "train")


def test_train_refuses_a_folder_as_the_data_file(tmp_path, capsys):
    assert main(["train", "--train", str(tmp_path)]) == 1
    assert "is a folder, not a file" in one_error_line(capsys, "train")


@pytest.mark.parametrize("option", [["--steps", "0"], ["--lr", "0"], ["--lr", "-0.1"]])
def test_train_refuses_nonpositive_steps_and_learning_rates(cs109_dir, capsys, option):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--train", str(cs109_dir / "netflix-train.csv"), *option])
    assert exit_.value.code == 2 and "must be > 0" in capsys.readouterr().err


def test_train_json_of_a_diverged_fit_is_strict_json_with_nulls_flagged(cs109_dir, capsys):
    train = cs109_dir / "netflix-train.csv"
    assert main(["train", "--train", str(train), "--lr", "1e38", "--steps", "50", "--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text

    def refuse(token):
        raise ValueError(token)

    summary = json.loads(text, parse_constant=refuse)
    assert summary["outcome"] == "diverged" and summary["train_ll"] is None
    assert "train_ll" in summary["non_finite"]


def write_experiment(tmp_path, **fields) -> str:
    spec = {"name": "bad", "datasets": ["xor"], "steps": [10], "eval_every": 5, **fields}
    path = tmp_path / "experiment.py"
    path.write_text(f"def get_config():\n    return {spec!r}\n")
    return str(path)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"models": ["stack:dense=0-relu"]}, "the width must be a positive integer"),
        ({"models": ["mlp:8:rleu"]}, "did you mean 'relu'"),
        ({"eval_every": 3}, "eval_every=3 must divide steps=10"),
        ({"learning_rate": [0.0]}, "learning_rate must lie in"),
        ({"optimizers": ["lbfgs"]}, "unknown optimizers ['lbfgs']"),
        ({"models": ["logreg"], "datasets": ["digits"]}, "'logreg' is binary but num_classes=10"),
    ],
)
def test_sweep_config_errors_are_one_line_exit_2_and_create_no_folder(
    tmp_path, capsys, fields, words
):
    out = tmp_path / "run"
    assert main(["sweep", write_experiment(tmp_path, **fields), "--out", str(out)]) == 2
    assert words in one_error_line(capsys, "sweep")
    assert not out.exists()


def test_a_command_keeps_the_traceback_of_a_real_bug(monkeypatch):
    from cs109nn.cli import train_command

    def broken(args):
        raise ZeroDivisionError("a bug, not a user error")

    monkeypatch.setattr(train_command, "run", broken)
    with pytest.raises(ZeroDivisionError):
        main(["train", "--train", "x.csv"])


# --- divergence that stays finite -----------------------------------------------------------


def test_a_member_whose_ll_explodes_but_stays_finite_is_flagged_with_its_step():
    X, y = problem()
    runner = make_runner(model_from_spec("logreg"), as_dataset(X, y), steps=20, eval_every=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning escapes either
        result = runner(member_keys([0, 1, 2]), {"learning_rate": [0.1, 1e28, 0.3]})
    # One step at eta = 1e28 puts |theta| near 1e28: mean LL ~ -1e28, finite in float32, and
    # far below the bound 1000 x log(1/2) of the README's rule.
    assert result.diverged.tolist() == [False, True, False]
    assert result.diverged_step[1] == 5  # the first evaluation that saw it
    for leaf in jax.tree.leaves((result.params, result.history)):
        assert np.all(np.isfinite(leaf))
    # frozen at its initial parameters (theta = 0, the last state within the bound)
    np.testing.assert_allclose(result.history["train_ll"][1], np.log(0.5), rtol=1e-6)
    assert np.all(result.params["params"]["output"]["kernel"][1] == 0)
    healthy = runner(member_keys([0, 2]), {"learning_rate": [0.1, 0.3]})
    np.testing.assert_allclose(
        result.history["train_ll"][[0, 2]], healthy.history["train_ll"], rtol=2e-5, atol=2e-6
    )
