"""Test-split predictions of every member of a group, and its first layer's weights as images.

What the report's digit figures draw needs the model (which test digits each model gets wrong;
the slides' "look at a single hidden neuron": a hidden unit's input weights drawn as an image),
so the sweep computes it when a group finishes (``SweepSpec.save_predictions``) and writes it
as arrays, ``predictions/<group_id>.npz``; the report only reads and draws them (no JAX, no
model code):

- ``test_predicted [M, n_test]`` int32: member m's predicted class of test example i, by the
  rule the test accuracy of results.csv counts with (``objectives.predict``: z > 0 for a
  binary head, argmax_k z_k for a categorical one);
- ``test_probability [M, n_test]`` float32: the probability member m gives the class it
  predicts, P(Y = ŷ | x) (its confidence in its answer: for a wrong answer, how sure it was
  of the wrong class), σ(z) or 1 − σ(z) for a binary head, max_k softmax(z)_k otherwise;
- ``x_test [n_test, *feature_shape]`` float32, ``y_test [n_test]`` int32: the test split;
- ``class_names [K]`` str: what each class is, for a figure's labels (``digits:3v8``: "3",
  "8"; ``digits-binary``: "0-4", "5-9"; otherwise the class numbers);
- ``first_layer_weights [M, units, *feature_shape]`` float32, only when the model's first
  layer with parameters is a flax ``nn.Dense`` reading the flattened input: column u of its
  kernel ``[prod(feature_shape), units]``, reshaped to the input's shape, is unit u's input
  weights (an MLP's ``hidden_0``; for logistic / softmax regression the output layer itself,
  whose units are the classes' logits). Absent for a conv net (its first layer is a Conv) and
  for a model that is not built from flax modules;
- ``first_layer_is_output []`` bool, with ``first_layer_weights``: True when that Dense is the
  model's only layer with parameters (logistic / softmax regression: unit k is class k's
  logit, or P(Y=1|x)'s for a binary head), False for a hidden layer.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from cs109nn.data import Dataset
from cs109nn.data.digits import digit_class_names
from cs109nn.models import Model, Params, predict
from cs109nn.models.masked import map_members
from cs109nn.sweep.spec import SpecError


def check_prediction_data(data: Dataset) -> None:
    """A SpecError unless ``data`` has a test split to predict."""
    if data.x_test is None or data.y_test is None:
        raise SpecError(
            f"save_predictions needs a test split; data set {data.name!r} has none "
            "(set save_predictions=false)"
        )


class FirstLayer(NamedTuple):
    """The model's first layer with parameters, when it is a Dense over the flattened input:
    where its kernel ``[prod(feature_shape), units]`` sits in the params (``path`` of keys
    under the params pytree's root) and whether it is the model's only such layer."""

    path: tuple[str, ...]
    is_output: bool


def _owns_parameters(module: nn.Module) -> bool:
    """True when ``module`` holds parameter arrays itself (not only its children's)."""
    own = module.variables.get("params", {})
    return any(not isinstance(value, dict | nn.FrozenDict) for value in own.values())


def first_dense_layer(
    model: Model, params: Params, feature_shape: tuple[int, ...]
) -> FirstLayer | None:
    """Find ``model``'s first layer with parameters, in call order, by tracing one member's
    ``apply`` on shapes only (``jax.eval_shape``, no FLOPs) with flax's method interceptor:
    a :class:`FirstLayer` when it is exactly ``nn.Dense`` on ``[n, prod(feature_shape)]``
    inputs, else None. ``params``: one member's (or its shapes). Call order, not the params'
    key order, since pytrees sort dict keys (``dense_10`` before ``dense_2``)."""
    # per call of a layer that owns parameters, in call order: its type, input shape, path
    calls: list[tuple[type, tuple[int, ...], tuple[str, ...]]] = []

    def interceptor(next_fun, args, kwargs, context):
        module = context.module
        if context.method_name == "__call__" and _owns_parameters(module):
            inputs = args[0] if args else next(iter(kwargs.values()), None)
            path = tuple(str(name) for name in module.scope.path)
            calls.append((type(module), tuple(np.shape(inputs)), path))
        return next_fun(*args, **kwargs)

    def probe(member_params):
        with nn.intercept_methods(interceptor):
            return model.apply(member_params, jnp.zeros((1, *feature_shape), jnp.float32))

    try:
        jax.eval_shape(probe, params)
    except Exception:  # a model that cannot be traced this way has no first layer to show
        return None
    if not calls:
        return None
    kind, in_shape, path = calls[0]
    # exactly nn.Dense: a subclass may compute something else from its kernel
    if kind is not nn.Dense or in_shape != (1, math.prod(feature_shape)):
        return None
    path = ("params", *path)  # the Dense's own collection, then its scope's names
    if not isinstance(_lookup(params, (*path, "kernel")), jax.ShapeDtypeStruct | jax.Array):
        return None
    layers = {call[2] for call in calls}  # a layer called twice is still one layer
    return FirstLayer(path=path, is_output=len(layers) == 1)


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    """``tree[path[0]][path[1]]...``, or None where a key is missing."""
    for key in path:
        if not hasattr(tree, "get"):
            return None
        tree = tree.get(key)
    return tree


def prediction_arrays(
    model: Model, params: Params, data: Dataset, architecture=None
) -> dict[str, np.ndarray]:
    """The predictions file's arrays (see the module docstring) for ``params`` with leaves
    [M, ...]: one member's ``model.apply`` on the test split, mapped over the members (each
    member's own width and depth with ``architecture``; see ``map_members``)."""
    check_prediction_data(data)
    x_test = np.asarray(data.x_test, dtype=np.float32)
    feature_shape = tuple(x_test.shape[1:])
    x = jnp.asarray(x_test)

    def member_predictions(apply, member_params):
        logits = apply(member_params, x)
        predicted = predict(logits, model.output)
        if model.output == "binary":
            p_one = jax.nn.sigmoid(logits)
            return predicted, jnp.where(predicted == 1, p_one, 1.0 - p_one)
        return predicted, jnp.max(jax.nn.softmax(logits, axis=-1), axis=-1)

    predicted, probability = map_members(model, member_predictions, params, architecture)
    arrays = {
        "test_predicted": np.asarray(predicted, dtype=np.int32),
        "test_probability": np.asarray(probability, dtype=np.float32),
        "x_test": x_test,
        "y_test": np.asarray(data.y_test, dtype=np.int32),
        "class_names": np.asarray(
            digit_class_names(data.name) or [str(k) for k in range(data.num_classes)], dtype=str
        ),
    }
    one_member = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype), params)
    first = first_dense_layer(model, one_member, feature_shape)
    if first is not None:
        kernel = np.asarray(_lookup(params, (*first.path, "kernel")), dtype=np.float32)
        members, _, units = kernel.shape  # [M, prod(feature_shape), units]
        weights = np.swapaxes(kernel, 1, 2).reshape(members, units, *feature_shape)
        arrays["first_layer_weights"] = weights
        arrays["first_layer_is_output"] = np.asarray(first.is_output)
    return arrays
