"""experiments/custom_layer.py: layers defined outside the package, used in specs by name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp

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
