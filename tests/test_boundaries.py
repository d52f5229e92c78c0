"""Decision-boundary grids: what the sweep writes (boundaries/<group>.npz) is each member's own
P(Y=1|x) at the grid points, a removed file makes a resume train its group again, and the
separability experiment, at a small size, reports a gallery per data set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cs109nn.report import write_report
from cs109nn.run_folder_schema import params_path, read_arrays, read_manifest
from cs109nn.run_folder_schema.files import boundaries_path
from cs109nn.sweep import SpecError, SweepSpec, run_sweep
from cs109nn.sweep.spec import apply_overrides, load_experiment

REPO = Path(__file__).resolve().parents[1]
SEPARABILITY = REPO / "experiments" / "separability.py"
TINY = SweepSpec(
    name="boundaries",
    datasets=("xor", "circles"),
    models=("logreg", "mlp:4:tanh"),
    seeds=(0, 1),
    learning_rate=(0.5,),
    steps=(20,),
    eval_every=10,
    n_examples=80,
    save_params=True,
    boundary_grid=7,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return run_sweep(TINY, tmp_path_factory.mktemp("tiny") / "run")


def numpy_probability(params: dict[str, np.ndarray], member: int, x: np.ndarray) -> np.ndarray:
    """P(Y=1|x) of a tanh MLP (or logistic regression: no hidden layer), in float64 numpy, from
    the params file's key paths."""
    h = x.astype(np.float64)
    layer = 0
    while f"params/hidden_{layer}/kernel" in params:
        kernel = params[f"params/hidden_{layer}/kernel"][member].astype(np.float64)
        bias = params[f"params/hidden_{layer}/bias"][member].astype(np.float64)
        h = np.tanh(h @ kernel + bias)
        layer += 1
    kernel = params["params/output/kernel"][member].astype(np.float64)
    bias = params["params/output/bias"][member].astype(np.float64)
    logit = (h @ kernel + bias)[:, 0]
    return 1.0 / (1.0 + np.exp(-logit))


def test_grid_probability_is_the_models_own_prediction(tiny_run):
    groups = read_manifest(tiny_run)["plan"]["groups"]
    assert len(groups) == 4
    for group in groups:
        arrays = read_arrays(boundaries_path(tiny_run, group))
        params = read_arrays(params_path(tiny_run, group))
        xs, ys, probability = arrays["xs"], arrays["ys"], arrays["probability"]
        assert xs.shape == ys.shape == (7,)
        assert probability.shape == (2, 7, 7)  # members x rows (x2) x columns (x1)
        x_train = arrays["x_train"]
        assert x_train.shape[1] == 2 and len(arrays["y_train"]) == len(x_train)
        # the grid covers the training points, padded
        assert xs[0] < x_train[:, 0].min() and xs[-1] > x_train[:, 0].max()
        assert ys[0] < x_train[:, 1].min() and ys[-1] > x_train[:, 1].max()
        gx, gy = np.meshgrid(xs, ys)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        for member in range(2):
            expected = numpy_probability(params, member, points).reshape(7, 7)
            np.testing.assert_allclose(probability[member], expected, rtol=1e-5, atol=1e-6)
        assert not np.allclose(probability[0], probability[0].mean())  # not a constant grid


def test_removed_boundary_file_trains_its_group_again(tmp_path):
    spec = apply_overrides(TINY, ["datasets=xor", "models=logreg", "save_params=false"])
    run = run_sweep(spec, tmp_path / "run")
    (group,) = read_manifest(run)["plan"]["groups"]
    path = boundaries_path(run, group)
    written = path.read_bytes()
    assert read_manifest(run)["groups"][group]["boundaries_sha256"]
    path.unlink()
    notes: list[str] = []
    run_sweep(
        spec, run, progress=lambda event: notes.append(event.message or "") if event.message else 0
    )
    assert any(group in note and "missing" in note for note in notes), notes
    assert read_manifest(run)["sessions"][-1]["groups_run"] == [group]
    assert path.read_bytes() == written  # the same bits again


def test_boundary_grid_is_checked():
    with pytest.raises(SpecError, match="boundary_grid"):
        SweepSpec(boundary_grid=-1)
    with pytest.raises(SpecError, match="2-D features"):
        run_sweep(
            SweepSpec(datasets=("digits",), models=("softmax",), boundary_grid=5),
            "/nonexistent/never-made",
        )


def test_separability_experiment_reports_a_gallery_per_dataset(tmp_path):
    spec = apply_overrides(
        load_experiment(SEPARABILITY),
        ["seeds=0,1", "learning_rate=0.3", "steps=20", "eval_every=10", "n_examples=80"],
    )
    assert spec.boundary_grid > 0
    run = run_sweep(spec, tmp_path / "run")
    report = write_report(run).read_text()
    for dataset in ("xor", "circles", "moons", "spirals"):
        figure = run / "figures" / f"boundaries_{dataset}.png"
        assert figure.is_file() and figure.stat().st_size > 10_000
        assert f"figures/boundaries_{dataset}.png" in report
    # the claim line, and one measured figure in it against pandas on results.csv
    assert "**Claim tested:** Some data are not linearly separable" in report
    line = next(x for x in report.splitlines() if x.startswith("- spirals: "))
    assert all(model in line for model in spec.models)
    table = pd.read_csv(run / "results.csv")
    logreg = table[(table.dataset == "spirals") & (table.model == "logreg") & ~table.diverged]
    means = logreg.groupby("learning_rate")[["final_val_acc", "final_val_ll", "final_test_acc"]]
    best = means.mean().sort_values(["final_val_acc", "final_val_ll"], ascending=False).iloc[0]
    assert f"logreg {best.final_test_acc:.3f}" in line
