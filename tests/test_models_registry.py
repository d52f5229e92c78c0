"""Model specs: every documented spec builds and gives logits of the right shape; bad specs
say what is known; shape mismatches name the shapes; parameter counts add up."""

from __future__ import annotations

import math
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cs109nn import models
from cs109nn.models import registry

# The examples of the registry's docstring: (spec, num_classes, feature shape, logits shape)
DOCUMENTED = [
    ("logreg", 2, (5,), (3,)),
    ("mlp:32x32:sigmoid", 2, (5,), (3,)),
    ("mlp:64:relu:he", 2, (5,), (3,)),
    ("softmax", 4, (5,), (3, 4)),
    ("softmax-mlp:64:relu", 10, (64,), (3, 10)),
    ("convnet", 10, (8, 8, 1), (3, 10)),
    ("stack:dense=64-relu-dense=32-tanh:glorot", 2, (5,), (3,)),
]
# More spec forms, checked by shape only (jax.eval_shape: traced, not compiled)
FORMS = [
    ("logreg:normal", 2, (5,), (3,)),
    ("mlp:8", 2, (2, 3), (3,)),
    ("mlp:8:leaky_relu=0.1:glorot", 2, (5,), (3,)),
    ("convnet", 10, (64,), (3, 10)),
    ("convnet:8x8:tanh:he", 3, (8, 8), (3, 3)),
    ("softmax-stack:conv=4x5-relu-maxpool-flatten-dense=8-gelu", 3, (8, 8, 1), (3, 3)),
    ("stack:conv=2-avgpool=2-layernorm-dense=4-softplus", 2, (4, 4, 1), (3,)),
]


@pytest.mark.parametrize(("spec", "k", "features", "out"), DOCUMENTED)
def test_documented_spec_builds_inits_and_returns_logits_of_the_right_shape(spec, k, features, out):
    model = models.model_from_spec(spec, num_classes=k)
    assert model.name == spec
    assert model.output == ("binary" if len(out) == 1 else "categorical")
    assert model.num_classes == k
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, *features)), jnp.float32)
    params = model.init(jax.random.key(0), x[:1])
    logits = jax.jit(model.apply)(params, x)
    assert logits.shape == out and logits.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(logits)))


@pytest.mark.parametrize(("spec", "k", "features", "out"), FORMS)
def test_every_spec_form_gives_params_and_logits_of_the_right_shape(spec, k, features, out):
    model = models.model_from_spec(spec, num_classes=k)
    x = jax.ShapeDtypeStruct((3, *features), jnp.float32)
    params = jax.eval_shape(
        model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, *features), jnp.float32)
    )
    assert jax.eval_shape(model.apply, params, x).shape == out


def test_every_example_in_the_registry_docstring_is_tested_above():
    examples_line = registry.__doc__.split("Examples:")[1].split("\n\n")[0]
    examples = re.findall(r"``([^`]+)``", examples_line)
    assert sorted(examples) == sorted(spec for spec, *_ in DOCUMENTED)


def test_known_models_lists_every_built_in_spec_form():
    names = set(models.known_models())
    assert {"logreg", "softmax", "mlp", "softmax-mlp", "convnet", "stack"} <= names
    assert set(models.KNOWN_MODELS) == names
    assert models.KNOWN_MODELS["mlp"] == "mlp:WIDTHS[:LAYER[:INIT]]"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("mpl:32", "unknown model 'mpl'"),
        ("mlp", "expected 1 to 3"),
        ("mlp:0", "WIDTHS must be positive integers"),
        ("mlp:32:swishy", "unknown layer 'swishy'"),
        ("mlp:32:relu:bogus", "unknown initialiser 'bogus'"),
        ("logreg:zeros:extra", "expected 0 to 1"),
        ("stack:dense", "bad arguments"),
        ("mlp::relu", "WIDTHS"),
        ("", "non-empty"),
    ],
)
def test_a_bad_spec_raises_saying_what_is_wrong_and_listing_known_models(spec, says):
    with pytest.raises(ValueError) as info:
        models.model_from_spec(spec)
    message = str(info.value)
    assert says in message
    for name in ("logreg", "softmax", "mlp", "softmax-mlp", "convnet", "stack"):
        assert name in message


def test_a_binary_spec_with_more_than_two_classes_points_to_softmax():
    with pytest.raises(ValueError, match="use softmax"):
        models.model_from_spec("logreg", num_classes=3)
    with pytest.raises(ValueError, match="softmax-mlp"):
        models.model_from_spec("mlp:8", num_classes=10)


def test_applying_params_to_the_wrong_feature_shape_names_expected_and_actual_shapes():
    model = models.model_from_spec("mlp:32:relu")
    params = model.init(jax.random.key(0), jnp.ones((1, 2)))
    for apply in (model.apply, jax.jit(model.apply)):
        with pytest.raises(ValueError) as info:
            apply(params, jnp.ones((5, 3)))
        message = str(info.value)
        assert "(5, 3)" in message  # actual x
        assert "(2, 32)" in message and "(3, 32)" in message  # params have / x needs
        assert "expected 2 input values" in message


@pytest.fixture(scope="module")
def convnet():
    """The default conv net and zero params of the shapes init makes for 8×8×1 digits."""
    model = models.model_from_spec("convnet", num_classes=10)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, 8, 8, 1)))
    return model, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def test_conv_net_shape_mismatch_names_the_channels_and_image_sizes(convnet):
    model, params = convnet
    with pytest.raises(ValueError, match=r"\(3, 3, 1, 16\).*\(3, 3, 3, 16\)"):
        model.apply(params, jnp.ones((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(512, 10\).*\(288, 10\)"):
        model.apply(params, jnp.ones((2, 6, 6, 1)))
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        model.apply(params, jnp.ones((2, 5)))


def test_params_vmap_over_member_keys_as_the_engine_needs():
    model = models.model_from_spec("mlp:4:tanh")
    x = jnp.ones((6, 3))
    keys = jax.random.split(jax.random.key(0), 5)
    params = jax.vmap(model.init, in_axes=(0, None))(keys, x[:1])
    logits = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, x)
    assert logits.shape == (5, 6)
    solo = jax.jit(model.apply)(model.init(keys[3], x[:1]), x)
    np.testing.assert_allclose(logits[3], solo, rtol=1e-6)


def test_initialisers_have_the_spread_their_names_say():
    # fan_in 400, fan_out 200: LeCun 1/fan_in, He 2/fan_in, Glorot 2/(fan_in + fan_out)
    def kernel_std(name):
        kernel = jax.jit(models.initializer(name), static_argnums=1)(jax.random.key(0), (400, 200))
        return float(np.std(np.asarray(kernel)))

    assert kernel_std("zeros") == 0.0
    np.testing.assert_allclose(kernel_std("normal"), 1.0, rtol=0.02)
    np.testing.assert_allclose(kernel_std("lecun_normal"), (1 / 400) ** 0.5, rtol=0.05)
    np.testing.assert_allclose(kernel_std("he"), (2 / 400) ** 0.5, rtol=0.05)
    np.testing.assert_allclose(kernel_std("glorot"), (2 / 600) ** 0.5, rtol=0.05)
    np.testing.assert_allclose(kernel_std("xavier"), (2 / 600) ** 0.5, rtol=0.05)
    model = models.model_from_spec("mlp:3:relu:zeros")
    params = model.init(jax.random.key(0), jnp.ones((1, 2)))
    assert not np.any(np.asarray(params["params"]["hidden_0"]["kernel"]))  # the spec's INIT


# -- parameter counts -------------------------------------------------------------------------


def _sizes_by_hand(params) -> int:
    return int(sum(np.prod(np.shape(leaf)) for leaf in jax.tree.leaves(params)))


def test_the_lectures_40_by_20_hidden_layer_has_800_weights_and_20_biases():
    model = models.model_from_spec("mlp:20:sigmoid")
    params = model.init(jax.random.key(0), jnp.ones((1, 40)))
    counts = models.parameter_counts(params)
    assert counts == {"params/hidden_0": 40 * 20 + 20, "params/output": 20 + 1}
    assert params["params"]["hidden_0"]["kernel"].size == 800  # the slides' 800
    assert models.dense_parameter_count(40, 20, bias=False) == 800
    assert models.dense_parameter_count(40, 20) == 820
    assert models.parameter_count(params) == 841 == _sizes_by_hand(params)


def test_conv_net_parameter_counts_equal_the_hand_formula(convnet):
    _, params = convnet
    counts = models.parameter_counts(params)
    assert counts == {
        "params/conv_0": 3 * 3 * 1 * 16 + 16,
        "params/conv_1": 3 * 3 * 16 * 32 + 32,
        "params/output": 4 * 4 * 32 * 10 + 10,
    }
    assert models.parameter_count(params) == sum(counts.values()) == _sizes_by_hand(params)


# -- extending: layers and models registered from outside the package -------------------------


def test_a_registered_activation_and_flax_layer_work_in_mlp_and_stack_specs():
    models.register_activation("test_softsign", jax.nn.soft_sign)

    class Scale(nn.Module):
        factor: float = 2.0

        @nn.compact
        def __call__(self, x):
            scale = self.param("s", nn.initializers.constant(self.factor), (x.shape[-1],))
            return x * scale[None]  # [n, d] ⊙ [1, d]: explicit, as conftest's strict ranks want

    models.register_layer("test_scale", Scale)
    assert {"test_softsign", "test_scale"} <= set(models.known_layers())
    model = models.model_from_spec("stack:dense=3-test_scale=0.5-test_softsign")
    params = model.init(jax.random.key(0), jnp.ones((1, 4)))
    np.testing.assert_array_equal(params["params"]["test_scale_1"]["s"], [0.5, 0.5, 0.5])
    assert model.apply(params, jnp.ones((2, 4))).shape == (2,)
    mlp = models.model_from_spec("mlp:5:test_softsign")
    assert mlp.apply(mlp.init(jax.random.key(0), jnp.ones((1, 4))), jnp.ones((2, 4))).shape == (2,)


def test_a_pure_layer_pair_keeps_its_params_under_theta():
    def doubler(width: int) -> models.Layer:
        return models.Layer(
            init=lambda key, x: {"w": jnp.full((x.shape[-1], width), 2.0)},
            apply=lambda p, x: x @ p["w"],
        )

    models.register_layer("test_doubler", doubler)
    model = models.model_from_spec("stack:test_doubler=3")
    params = model.init(jax.random.key(0), jnp.ones((1, 2)))
    assert params["params"]["test_doubler_0"]["theta"]["w"].shape == (2, 3)
    # logits = output(x @ w): with output kernel set to ones and bias 0, 1·(2+2)·3 = 12
    params["params"]["output"] = {"kernel": jnp.ones((3, 1)), "bias": jnp.zeros(1)}
    np.testing.assert_allclose(model.apply(params, jnp.ones((1, 2))), [12.0])


def test_registered_models_from_a_module_a_pair_and_a_model_resolve_by_name():
    models.register_model(
        "test-wide", lambda width, num_classes: nn.Dense(num_classes), output="categorical"
    )
    wide = models.model_from_spec("test-wide:16", num_classes=4)
    assert wide.output == "categorical" and wide.name == "test-wide:16"
    assert wide.apply(wide.init(jax.random.key(0), jnp.ones((1, 3))), jnp.ones((2, 3))).shape == (
        2,
        4,
    )
    models.register_model(
        "test-pair", lambda: (lambda key, x: jnp.zeros(x.shape[-1]), lambda p, x: x @ p)
    )
    pair = models.model_from_spec("test-pair")
    assert pair.output == "binary"
    np.testing.assert_array_equal(pair.apply(jnp.ones(3), jnp.ones((2, 3))), [3.0, 3.0])
    models.register_model("test-alias", lambda: models.model_from_spec("mlp:4"))
    assert models.model_from_spec("test-alias").name == "test-alias"
    assert "test-alias" in models.known_models()
    with pytest.raises(ValueError, match="does not take arguments"):
        models.model_from_spec("test-alias:3")


def test_built_in_names_cannot_be_replaced():
    with pytest.raises(ValueError, match="built-in"):
        models.register_layer("relu", lambda: jax.nn.relu)
    with pytest.raises(ValueError, match="built-in"):
        models.register_model("mlp", lambda: None)
    with pytest.raises(ValueError, match="must match"):
        models.register_layer("bad-name", lambda: jax.nn.relu)


def test_layer_tokens_parse_numbers_and_keep_exponents_whole():
    assert models.parse_layer("conv=16x5") == models.LayerToken("conv", (16, 5))
    assert models.parse_layer("leaky_relu=0.2").args == (0.2,)
    tokens = registry._LAYER_SPLIT.split("dense=8-leaky_relu=1e-3-tanh")
    assert tokens == ["dense=8", "leaky_relu=1e-3", "tanh"]
    assert math.isclose(models.parse_layer(tokens[1]).args[0], 1e-3)


def test_an_unknown_name_suggests_the_closest_known_one_in_every_registry():
    for spec, says in [
        ("mlp:8:relu:glorott", "unknown initialiser 'glorott' (did you mean 'glorot'?)"),
        ("mlp:8:tahn", "unknown layer 'tahn' in 'tahn' (did you mean 'tanh'?)"),
        ("softmax-mpl:8", "unknown model 'softmax-mpl' (did you mean 'softmax-mlp'?)"),
    ]:
        with pytest.raises(ValueError, match=re.escape(says)):
            models.model_from_spec(spec)
    with pytest.raises(ValueError, match="built-in initialiser"):
        models.register_initializer("he", models.initializer("zeros"))
    with pytest.raises(ValueError, match="'binary' or 'categorical', got 'multi'"):
        models.register_model("test-multi", lambda: None, output="multi")
