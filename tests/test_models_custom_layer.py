"""experiments/custom_layer.py: layers defined outside the package, used in specs by name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn import models

EXAMPLE = Path(__file__).resolve().parents[1] / "experiments" / "custom_layer.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("custom_layer_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_registers_its_layers_and_they_resolve_in_specs():
    example = _load_example()
    assert {"learned_sigmoid", "rbf"} <= set(models.known_layers())
    model = models.model_from_spec("mlp:4:learned_sigmoid")
    params = model.init(jax.random.key(0), jnp.ones((1, 2)))
    # the flax layer's own parameter sits beside the hidden Dense, starting at slope 1
    assert params["params"]["learned_sigmoid_0"]["slope"].tolist() == [1.0] * 4
    stack = models.model_from_spec("stack:rbf=5-dense=3-tanh")
    stack_params = stack.init(jax.random.key(0), jnp.ones((1, 2)))
    assert stack_params["params"]["rbf_0"]["theta"]["centres"].shape == (5, 2)
    assert set(example.SPECS) == {"mlp:16:learned_sigmoid", "stack:rbf=16-dense=8-tanh"}


def test_the_example_trains_both_specs_on_two_moons_beyond_what_a_line_can():
    example = _load_example()
    accuracies = example.main(steps=150)
    # logistic regression tops out near 0.88 on these moons; both custom models go further
    assert set(accuracies) == set(example.SPECS)
    assert all(acc >= 0.95 for acc in accuracies.values()), accuracies


def _filled_layer(value: float, widen: int):
    """A factory of pure layers ``x [n, m] -> x @ w``, ``w [m, widen·width]`` all ``value``."""

    def factory(width: int) -> models.Layer:
        return models.Layer(
            init=lambda key, x: {"w": jnp.full((x.shape[-1], widen * width), value)},
            apply=lambda p, x: x @ p["w"],
        )

    return factory


def test_a_built_model_keeps_its_layer_when_the_name_is_registered_again():
    models.register_layer("test_mylayer", _filled_layer(1.0, 1))
    model = models.model_from_spec("stack:test_mylayer=4-relu")
    # Another factory under the same name, before the first model is ever initialised/traced.
    models.register_layer("test_mylayer", _filled_layer(2.0, 2))
    x = jnp.asarray([[1.0, 2.0, 3.0]])
    params = model.init(jax.random.key(0), x)
    np.testing.assert_array_equal(params["params"]["test_mylayer_0"]["theta"]["w"], np.ones((3, 4)))
    # With the head's kernel ones and bias 0: logit = Σ_j relu(x @ 1)_j = 4 · (1 + 2 + 3) = 24.
    params["params"]["output"] = {"kernel": jnp.ones((4, 1)), "bias": jnp.zeros(1)}
    np.testing.assert_allclose(model.apply(params, x), [24.0])
    np.testing.assert_allclose(jax.jit(model.apply)(params, x), [24.0])
    # The registration did take effect: a model built after it has the second layer.
    later = models.model_from_spec("stack:test_mylayer=4-relu")
    later_w = later.init(jax.random.key(0), x)["params"]["test_mylayer_0"]["theta"]["w"]
    np.testing.assert_array_equal(later_w, np.full((3, 8), 2.0))
