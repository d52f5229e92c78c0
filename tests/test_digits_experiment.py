"""experiments/digits.py and its figures: the digit-pair data sets, the predictions file
(predictions/<group>.npz) against a float64 numpy forward pass of the saved params, a damaged
predictions file making a resume train its group again, the test-split check, and the
experiment at a small size reporting every figure."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cs109nn.cli.main import main
from cs109nn.data import load_dataset
from cs109nn.report.digits_figure import selected_members
from cs109nn.report.ranking import rank_by_dataset
from cs109nn.report.read import Run, read_run
from cs109nn.run_folder_schema import params_path, read_arrays, read_manifest
from cs109nn.run_folder_schema.files import predictions_path
from cs109nn.sweep import SpecError, SweepSpec, apply_overrides, run_sweep, runner
from cs109nn.sweep.spec import load_experiment

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "digits.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = [
    "datasets=digits:3v8",
    "seeds=0",
    "learning_rate=0.03",
    "steps=20",
    "eval_every=10",
    "n_examples=120",
    "save_params=true",
]


# --- the digit-pair data sets ---------------------------------------------------------------


def test_a_digit_pair_is_the_images_of_its_two_digits_labelled_by_the_second():
    bunch = load_digits()
    data = load_dataset("digits:3v8", val_fraction=0.2)
    assert data.name == "digits:3v8" and data.num_classes == 2
    x = np.concatenate([data.x_train, data.x_val, data.x_test]) * 16
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    keep = np.isin(bunch.target, (3, 8))
    expected = sorted(
        zip((r.tobytes() for r in np.rint(bunch.data[keep]).astype(np.int64)),
            (bunch.target[keep] == 8).astype(int).tolist(), strict=True)
    )  # fmt: skip
    got = sorted(zip((r.tobytes() for r in np.rint(x).astype(np.int64)), y.tolist(), strict=True))
    assert got == expected
    assert load_dataset("digits:0v1", n=120).x_train.shape[1:] == (64,)


@pytest.mark.parametrize("spec", ["digits:3v3", "digits:3v", "digits:10v2"])
def test_a_bad_digit_pair_is_refused_naming_it(spec):
    with pytest.raises(ValueError, match=spec):
        load_dataset(spec)


# --- the experiment ---------------------------------------------------------------------------


def test_full_config_compares_the_three_models_on_the_four_tasks():
    spec = load_experiment(EXPERIMENT)
    assert spec.datasets == ("digits:0v1", "digits:3v8", "digits-binary", "digits")
    assert [m.split(":")[0] for m in spec.models] == ["softmax", "softmax-mlp", "convnet"]
    assert spec.save_predictions


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = apply_overrides(load_experiment(EXPERIMENT), SMALL)
    return run_sweep(spec, tmp_path_factory.mktemp("digits") / "run")


def numpy_logits(params: dict[str, np.ndarray], member: int, x: np.ndarray) -> np.ndarray:
    """Logits [n, K] in float64 numpy, from the params file's key paths: a softmax regression,
    a ReLU MLP (hidden_i) or the conv net (conv_i: 3×3 SAME convs, ReLU, 2×2 average pool)."""
    p = {name: value[member].astype(np.float64) for name, value in params.items()}
    h = x.astype(np.float64)
    layer = 0
    while f"params/hidden_{layer}/kernel" in p:
        h = np.maximum(h @ p[f"params/hidden_{layer}/kernel"] + p[f"params/hidden_{layer}/bias"], 0)
        layer += 1
    if "params/conv_0/kernel" in p:
        h = h.reshape(len(h), 8, 8, 1)
        while f"params/conv_{layer}/kernel" in p:
            kernel, bias = p[f"params/conv_{layer}/kernel"], p[f"params/conv_{layer}/bias"]
            padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
            out = sum(
                np.einsum("nijc,cd->nijd", padded[:, di : di + 8, dj : dj + 8], kernel[di, dj])
                for di in range(3)
                for dj in range(3)
            )
            h = np.maximum(out + bias, 0)
            layer += 1
        h = h.reshape(len(h), 4, 2, 4, 2, -1).mean(axis=(2, 4)).reshape(len(h), -1)
    return h @ p["params/output/kernel"] + p["params/output/bias"]


def test_predictions_are_each_members_own_from_its_saved_params(small_run):
    data = load_dataset("digits:3v8", n=120, val_fraction=0.2)
    groups = read_manifest(small_run)["plan"]["groups"]
    assert len(groups) == 3
    for group in groups:
        arrays = read_arrays(predictions_path(small_run, group))
        params = read_arrays(params_path(small_run, group))
        np.testing.assert_array_equal(arrays["x_test"], data.x_test)
        np.testing.assert_array_equal(arrays["y_test"], data.y_test)
        assert arrays["class_names"].tolist() == ["3", "8"]
        assert arrays["test_predicted"].shape == (1, len(data.y_test))
        assert arrays["test_predicted"].dtype == np.int32
        logits = numpy_logits(params, 0, data.x_test)
        np.testing.assert_array_equal(arrays["test_predicted"][0], np.argmax(logits, axis=1))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        confidence = (shifted / shifted.sum(axis=1, keepdims=True)).max(axis=1)
        np.testing.assert_allclose(arrays["test_probability"][0], confidence, rtol=1e-4)
        # the share right is results.csv's test accuracy of the member
        (row,) = [r for r in read_run(small_run).rows if r["group"] == group]
        right = np.mean(arrays["test_predicted"][0] == data.y_test)
        assert right == pytest.approx(row["final_test_acc"], abs=1e-6)
        # first-layer weights: a Dense over the pixels (softmax, MLP), none for the conv net
        if "convnet" in group:
            assert "first_layer_weights" not in arrays
            continue
        first = "hidden_0" if "mlp" in group else "output"
        kernel = params[f"params/{first}/kernel"][0]  # [64, units]
        np.testing.assert_array_equal(arrays["first_layer_weights"][0], kernel.T)
        assert bool(arrays["first_layer_is_output"]) == (first == "output")


def test_the_report_command_draws_every_figure_and_links_it(small_run, capsys):
    assert main(["report", str(small_run)]) == 0
    report = (small_run / "report.md").read_text()
    for kind in ("hidden_units", "misclassified", "learning_curves"):
        figure = small_run / "figures" / f"{kind}_digits_3v8.png"
        assert figure.read_bytes()[:8] == PNG_MAGIC and figure.stat().st_size > 10_000
        assert f"(figures/{figure.name})" in report


def test_the_figures_draw_the_config_and_seed_validation_chooses_never_test(tmp_path):
    # two learning rates x two seeds of one model; test accuracy ranks them the other way
    rows = [
        {"group": "g", "dataset": "d", "model": "m", "learning_rate": lr, "seed": seed,
         "member": member, "final_val_acc": val, "final_val_ll": -1.0, "final_test_acc": test,
         "diverged": False}
        for member, (lr, seed, val, test) in enumerate(
            [(0.1, 0, 0.80, 0.99), (0.1, 1, 0.82, 0.99), (1.0, 0, 0.91, 0.50),
             (1.0, 1, 0.90, 0.60)]
        )
    ]  # fmt: skip
    arrays = {"x_test": np.zeros((3, 64)), "y_test": np.zeros(3, np.int32)}
    arrays |= {"test_predicted": np.zeros((4, 3), np.int32), "test_probability": np.ones((4, 3))}
    run = Run(tmp_path, {}, list(rows[0]), rows, predictions={"g": arrays})
    (ranking,) = rank_by_dataset(run.rows, run.columns).values()
    (chosen,) = selected_members(run, ranking)
    assert dict(chosen.summary.config)["learning_rate"] == 1.0  # mean val 0.905 > 0.81
    assert (chosen.row["seed"], chosen.member) == (0, 2)  # its seed with val 0.91


# --- resume and checks ------------------------------------------------------------------------

TINY = SweepSpec(
    name="predictions",
    datasets=("digits:0v1",),
    models=("softmax",),
    steps=(10,),
    eval_every=5,
    n_examples=100,
    save_predictions=True,
)


def test_a_damaged_predictions_file_trains_its_group_again(small_run, tmp_path):
    run = Path(shutil.copytree(small_run, tmp_path / "run"))
    group = read_manifest(run)["plan"]["groups"][0]  # the softmax regression: quick to redo
    path = predictions_path(run, group)
    written = path.read_bytes()
    assert read_manifest(run)["groups"][group]["predictions_sha256"]
    path.write_bytes(written[:-7] + b"damaged")
    notes: list[str] = []
    spec = apply_overrides(load_experiment(EXPERIMENT), SMALL)
    run_sweep(spec, run, progress=lambda event: event.message and notes.append(event.message))
    assert any(group in note and "differs from the file written" in note for note in notes), notes
    assert read_manifest(run)["sessions"][-1]["groups_run"] == [group]
    assert path.read_bytes() == written  # the same bits again


def test_save_predictions_without_a_test_split_is_one_line_and_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    load = runner.load_dataset
    monkeypatch.setattr(
        runner, "load_dataset", lambda *a, **k: load(*a, **k)._replace(x_test=None, y_test=None)
    )
    out = tmp_path / "run"
    with pytest.raises(SpecError, match="save_predictions needs a test split.*'digits:0v1'"):
        run_sweep(TINY, out)
    experiment = tmp_path / "experiment.py"
    experiment.write_text(
        "from cs109nn.sweep import SweepSpec\n"
        "def get_config():\n"
        "    return SweepSpec(datasets=('digits:0v1',), models=('softmax',), steps=(10,), "
        "eval_every=5, n_examples=100)\n"
    )
    assert (
        main(["sweep", str(experiment), "--set", "save_predictions=true", "--out", str(out)]) == 2
    )
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("cs109nn sweep: error: save_predictions needs a test split")
    assert not out.exists()
