"""``cs109nn train`` end to end against scikit-learn's unpenalised fit on the same split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cs109nn.cli.main import main
from tests.conftest import read_cs109_numpy


def run_json(capsys, *argv: str) -> dict:
    assert main(["train", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_newton_on_netflix_matches_scikit_learn(cs109_dir, capsys):
    linear_model = pytest.importorskip("sklearn.linear_model")
    train, test = cs109_dir / "netflix-train.csv", cs109_dir / "netflix-test.csv"
    out = run_json(capsys, "--train", str(train), "--test", str(test), "--method", "newton")
    X, y = read_cs109_numpy(train)
    X_test, y_test = read_cs109_numpy(test)
    fit = linear_model.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    assert out["outcome"] == "converged"
    assert out["test_accuracy"] == pytest.approx(fit.score(X_test, y_test)) == 0.632
    assert out["train_ll"] == pytest.approx(-40.2726, abs=1e-4)


def test_ascent_reports_divergence_with_its_step(cs109_dir, capsys):
    train = cs109_dir / "netflix-train.csv"
    out = run_json(capsys, "--train", str(train), "--lr", "1e38", "--steps", "50")
    assert out["outcome"] == "diverged"
    assert 1 <= out["diverged_step"] <= 50


def test_missing_file_is_one_clear_line_and_exit_code_1(tmp_path, capsys):
    assert main(["train", "--train", str(tmp_path / "nope.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cs109nn train: error: ") and "nope.csv" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(FileNotFoundError, match="nope.csv"):  # --debug: the real exception
        main(["train", "--train", str(tmp_path / "nope.csv"), "--debug"])
