"""Apply with a shape check: params made for one input shape, data of another -> ValueError.

Without it, a mismatch surfaces as a flax or XLA error about a kernel deep inside the model.
When ``apply`` fails, the check compares the shapes of the given params with those ``init``
makes for inputs of x's feature shape (``jax.eval_shape``: nothing is computed) and, if they
differ, raises a ValueError naming the expected and actual shapes. A flax model always fails
on a mismatch (flax checks every parameter's shape when it is read); a pure pair whose apply
broadcasts silently is not caught.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from cs109nn.lecture.inputs import DataError
from cs109nn.models.model import Model, Params

_CHECKED = "__cs109nn_shape_checked__"


def _expected_inputs(have: tuple[int, ...], need: tuple[int, ...], num_values: int) -> str:
    """What a mismatched kernel says about the inputs its params were made for, if anything."""
    if len(have) == 2 and need[0] == num_values:  # a Dense reading the flattened input
        return f" (expected {have[0]} input values per example, as in x of shape [n, {have[0]}])"
    if len(have) == 2 and need[0] != have[0]:  # a Dense deeper in: e.g. another image size
        return f" (this Dense layer expected {have[0]} inputs; x gives it {need[0]})"
    if len(have) == 4 and need[2] != have[2]:  # a Conv reading the input images
        return f" (expected images with {have[2]} channel(s), got {need[2]})"
    return ""


def _mismatch_message(model_name: str, x_shape: tuple[int, ...], params: Params, needed) -> str:
    feature_shape = x_shape[1:]
    head = (
        f"model {model_name!r}: x of shape {x_shape} (feature shape {feature_shape}, "
        f"{math.prod(feature_shape)} values per example) does not fit its params"
    )
    have_leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    need_leaves = jax.tree_util.tree_flatten_with_path(needed)[0]
    if jax.tree.structure(params) != jax.tree.structure(needed):
        return (
            f"{head}: the params tree has a different structure than init makes "
            f"(expected {jax.tree.structure(needed)}, got {jax.tree.structure(params)})"
        )
    lines = []
    for (path, have), (_, need) in zip(have_leaves, need_leaves, strict=True):
        have, need = tuple(np.shape(have)), tuple(need.shape)
        if have != need:
            hint = _expected_inputs(have, need, math.prod(feature_shape))
            where = jax.tree_util.keystr(path, simple=True, separator="/")
            lines.append(f"{where}: params have shape {have}, x needs {need}{hint}")
    return f"{head}: " + "; ".join(lines[:4])


def with_shape_check(model: Model) -> Model:
    """The same model, whose ``apply`` raises ValueError on params/input shape mismatch.

    The message gives x's shape (actual), the params' shapes and the shapes inputs like x need
    (expected). Idempotent: a checked model is returned unchanged.
    """
    if getattr(model.apply, _CHECKED, False):
        return model
    init, apply = model.init, model.apply

    def checked_apply(params: Params, x: jax.Array) -> jax.Array:
        shape = tuple(np.shape(x))
        if len(shape) < 1:
            raise DataError(f"model {model.name!r}: x must be a batch [n, ...], got a scalar")
        try:
            return apply(params, x)
        except Exception as error:
            # Diagnose only on failure: the happy path runs nothing extra (and no flax method
            # of init runs inside a caller's nn.intercept_methods).
            try:
                dtype = getattr(x, "dtype", np.float32)
                example = jax.ShapeDtypeStruct((1, *shape[1:]), dtype)
                needed = jax.eval_shape(lambda x1: init(jax.random.key(0), x1), example)
            except Exception:
                raise DataError(
                    f"model {model.name!r} cannot take x of shape {shape} "
                    f"(feature shape {shape[1:]}): {error}"
                ) from error
            if not _same_shapes(params, needed):
                raise DataError(_mismatch_message(model.name, shape, params, needed)) from error
            raise  # not a shape problem

    setattr(checked_apply, _CHECKED, True)
    return model._replace(apply=checked_apply)


def _same_shapes(params: Params, needed: Params) -> bool:
    """Same tree structure and the same shape at every leaf."""
    if jax.tree.structure(params) != jax.tree.structure(needed):
        return False
    return all(
        tuple(np.shape(a)) == tuple(b.shape)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(needed), strict=True)
    )
