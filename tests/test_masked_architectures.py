"""Architectures as a member axis (``cs109nn.models.masked``): a masked member computes, starts
like and trains like a solo run of its own narrower (and shallower) MLP."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from cs109nn.models import model_from_spec

FLOAT32_TOL = {"rtol": 2e-5, "atol": 2e-6}


def pad_into(narrow: dict, wide_shapes: dict) -> dict:
    """A narrow model's params inside the wide layout, zeros elsewhere; a layer the narrow
    model lacks (beyond its depth) is all zeros."""
    out = {}
    for layer, leaves in wide_shapes["params"].items():
        out[layer] = {}
        for leaf, shape in leaves.items():
            block = np.zeros(shape.shape, np.float32)
            if layer in narrow["params"]:
                value = np.asarray(narrow["params"][layer][leaf])
                block[tuple(slice(0, n) for n in value.shape)] = value
            out[layer][leaf] = jnp.asarray(block)
    return {"params": out}


def live_block(wide: dict, narrow_shapes: dict) -> dict:
    """The wide params cut down to the narrow model's shapes."""
    return {
        "params": {
            layer: {
                leaf: np.asarray(wide["params"][layer][leaf])[
                    tuple(slice(0, n) for n in shape.shape)
                ]
                for leaf, shape in leaves.items()
            }
            for layer, leaves in narrow_shapes["params"].items()
        }
    }


def shapes(model, x):
    return jax.eval_shape(model.init, jax.random.key(0), x[:1])


@pytest.mark.parametrize(
    "wide_spec,narrow_spec,width,depth,num_classes",
    [
        ("mlp:16x16:sigmoid", "mlp:5x5:sigmoid", 5, 2, 2),  # sigmoid(0) = 1/2: masked anyway
        ("mlp:16x16x16:tanh", "mlp:7:tanh", 7, 1, 2),
        ("softmax-mlp:12x12:relu", "softmax-mlp:3:relu", 3, 1, 4),
        ("softmax-mlp:12x8:gelu", "softmax-mlp:8x8:gelu", 8, 2, 3),  # unequal widths
    ],
)
def test_masked_member_computes_its_own_mlp(wide_spec, narrow_spec, width, depth, num_classes):
    x = np.random.default_rng(0).normal(size=(30, 6)).astype(np.float32)
    wide = model_from_spec(wide_spec, num_classes=num_classes)
    narrow = model_from_spec(narrow_spec, num_classes=num_classes)
    narrow_params = narrow.init(jax.random.key(1), x[:1])
    member = wide.masked(width, depth)
    padded = pad_into(narrow_params, shapes(wide, x))
    np.testing.assert_allclose(
        member.apply(padded, x), narrow.apply(narrow_params, x), **FLOAT32_TOL
    )


def test_member_init_zeroes_what_is_not_live_and_matches_the_narrow_distribution():
    """Across 400 members' draws, each live block of a (width 4, depth 2) member inside
    mlp:32x32x32 has the variance the solo mlp:4x4 initialiser gives it: the fan-in is the
    member's own (4), not the padded 32. Tolerance: a two-sided F-test on the pooled entries at
    level 1e-3 (a wrong fan-in changes the variance 8-fold)."""
    x = np.zeros((1, 6), np.float32)
    wide = model_from_spec("mlp:32x32x32:relu:he").masked(4, 2)
    narrow = model_from_spec("mlp:4x4:relu:he")
    keys = jax.random.split(jax.random.key(0), 400)
    wide_draws = jax.vmap(lambda k: wide.init(k, x))(keys)
    narrow_draws = jax.vmap(lambda k: narrow.init(k, x))(jax.random.split(jax.random.key(9), 400))
    for layer in ("hidden_0", "hidden_1", "output"):
        kernel = np.asarray(wide_draws["params"][layer]["kernel"])
        solo = np.asarray(narrow_draws["params"][layer]["kernel"])
        live = kernel[:, : solo.shape[1], : solo.shape[2]]
        assert np.count_nonzero(kernel) == np.count_nonzero(live)  # nothing else is live
        f = np.var(live) / np.var(solo)
        dof = (live.size - 1, solo.size - 1)
        p = 2 * min(stats.f.cdf(f, *dof), stats.f.sf(f, *dof))
        assert p > 1e-3, (layer, f)
    # beyond its depth: the third hidden layer is not the member's, all zero
    assert np.count_nonzero(np.asarray(wide_draws["params"]["hidden_2"]["kernel"])) == 0


def test_refusals_name_the_model_and_the_value():
    from cs109nn.errors import ConfigError
    from cs109nn.models.masked import check_architecture

    wide = model_from_spec("mlp:16x8:relu")
    with pytest.raises(ConfigError, match="exceeds model 'mlp:16x8:relu'"):
        check_architecture(wide, np.array([32.0]), np.array([np.inf]))
    with pytest.raises(ConfigError, match="needs equal hidden widths"):
        check_architecture(wide, np.array([4.0]), np.array([1.0]))
    with pytest.raises(ConfigError, match="no width/depth member axis"):
        check_architecture(model_from_spec("logreg"), np.array([4.0]), np.array([np.inf]))
    assert model_from_spec("mlp:8:relu:orthogonal").masked is None


# --- the engine: masked members train as solo runs of their own architecture -----------------

# (width, depth) inside a 8x8 MLP: one width at both depths, two widths at one depth (the full
# width among them), so members of one program differ in each axis alone
ARCHITECTURES = [(3, 1), (3, 2), (8, 2)]


def started_from(model, params):
    """``model`` that starts from ``params`` whatever its key (to compare runs from one start)."""
    return model._replace(init=lambda key, x: params)


def masked_started_from(wide, starts: dict):
    """``wide`` whose member of (width, depth) starts from ``starts[(width, depth)]`` (wide
    layout), selected with the traced width and depth."""

    def masked(width, depth):
        member = wide.masked(width, depth)

        def init(key, x):
            chosen = None
            for (w, d), params in starts.items():
                here = (width == w) & (depth == d)
                chosen = (
                    params
                    if chosen is None
                    else jax.tree.map(lambda a, b, here=here: jnp.where(here, a, b), params, chosen)
                )
            return chosen

        return member._replace(init=init)

    return wide._replace(masked=masked)


@pytest.mark.parametrize(
    "head,optimizer,weight_decay,batch_size",
    [
        # each optimizer, head, batch mode and decay (zero and not) at least once; the decay
        # is a traced hyperparameter, so 0 and 1e-2 are one program path per optimizer
        ("mlp", "sgd", 0.0, None),
        ("mlp", "momentum", 1e-2, None),
        ("softmax-mlp", "adam", 1e-2, 16),
    ],
)
def test_masked_members_train_as_solo_runs_of_their_architecture(
    head, optimizer, weight_decay, batch_size
):
    from cs109nn.data import Dataset
    from cs109nn.train import make_runner, member_keys

    rng = np.random.default_rng(3)
    x = rng.normal(size=(70, 4)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] > 0).astype(np.int32)
    num_classes = 2
    data = Dataset("toy", x[:50], y[:50], x[50:], y[50:], ("a", "b", "c", "d"))
    wide = model_from_spec(f"{head}:8x8:tanh", num_classes=num_classes)
    wide_shapes = shapes(wide, x)
    solos, starts = {}, {}
    for width, depth in ARCHITECTURES:
        narrow = model_from_spec(f"{head}:{'x'.join([str(width)] * depth)}:tanh")
        start = narrow.init(jax.random.key(width * 10 + depth), x[:1])
        solos[(width, depth)] = (narrow, start)
        starts[(width, depth)] = pad_into(start, wide_shapes)
    options = dict(optimizer=optimizer, steps=30, eval_every=10, batch_size=batch_size)
    lr = 0.05 if optimizer == "adam" else 0.3
    hparams = {
        "learning_rate": lr,
        "weight_decay": weight_decay,
        "width": [w for w, _ in ARCHITECTURES],
        "depth": [d for _, d in ARCHITECTURES],
    }
    seeds = list(range(len(ARCHITECTURES)))
    together = make_runner(masked_started_from(wide, starts), data, architectures=True, **options)(
        member_keys(seeds), hparams
    )
    for i, (width, depth) in enumerate(ARCHITECTURES):
        narrow, start = solos[(width, depth)]
        solo = make_runner(started_from(narrow, start), data, **options)(
            member_keys([seeds[i]]), {"learning_rate": lr, "weight_decay": weight_decay}
        )
        for name in together.history:
            np.testing.assert_allclose(
                together.history[name][i],
                solo.history[name][0],
                rtol=1e-4,
                atol=1e-5,
                err_msg=f"{name} of width {width}, depth {depth}",
            )
        member_params = jax.tree.map(lambda a, i=i: a[i], together.params)
        live = live_block(member_params, shapes(narrow, x))
        solo_params = jax.tree.map(lambda a: a[0], solo.params)
        for a, b in zip(jax.tree.leaves(live), jax.tree.leaves(solo_params), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        # and nothing outside the member's architecture moved from zero
        for layer, leaves in member_params["params"].items():
            for leaf, value in leaves.items():
                outside = np.array(value)
                if layer in live["params"]:
                    block = live["params"][layer][leaf].shape
                    outside[tuple(slice(0, n) for n in block)] = 0.0
                assert not outside.any(), (layer, leaf, width, depth)


def test_a_width_by_depth_by_schedule_grid_is_one_compile(count_compiles, tmp_path):
    import pandas as pd

    from cs109nn.sweep import SweepSpec, run_sweep

    spec = SweepSpec(
        name="grid",
        datasets=("spirals",),
        models=("mlp:16x16:relu",),
        optimizers=("momentum",),
        steps=(20,),
        seeds=(0, 1),
        learning_rate=(0.1, 0.3),
        schedules=("warmup_cosine",),
        warmup_fraction=(0.0, 0.2),
        width=(2, 4, 16),
        depth=(1, 2),
        eval_every=10,
        n_examples=80,
    )
    with count_compiles() as compiles:
        run_sweep(spec, tmp_path / "run")
    assert compiles.programs == 1
    table = pd.read_csv(tmp_path / "run" / "results.csv")
    assert len(table) == 2 * 2 * 2 * 3 * 2  # seeds x learning rates x warm-ups x widths x depths
    assert set(table.warmup_fraction) == {0.0, 0.2} and set(table.schedule) == {"warmup_cosine"}
    # live parameters: 2 inputs, w units per layer, d layers, 1 logit
    for row in table.itertuples():
        w, d = int(row.width), int(row.depth)
        assert row.num_params == (2 * w + w) + (d - 1) * (w * w + w) + (w + 1)
