"""What the slides assume of their data, checked where data enters: X [n, m] of finite real
numbers, y [n] of class labels, at least one example.

This is the one validation layer of the package: the lecture's functions, ``Dataset`` (every
loader), the engine's runner and the sweep call :func:`check_examples`; nothing re-checks
data in its own way. An error names what is at fault -- the shape, the first row and column
of a non-finite value, the labels outside {0, ..., K-1} -- and, for the common mistakes, the
fix. Checks of *values* need concrete arrays: under ``jax.jit`` only shapes are checked (a
traced function cannot look at its data), so the package checks at its boundaries, before
anything is traced.

Decisions, stated once:

- ``y`` must be ``[n]``. A column ``[n, 1]`` is refused, not flattened: under broadcasting
  ``y [n, 1]`` against logits ``[n]`` is silently ``[n, n]``, and a silent reshape would hide
  the same mistake elsewhere.
- Labels are integers in {0, ..., K-1} (K = 2 for the slides' binary model). {-1, 1} is
  refused naming the fix, ``(y + 1) // 2``. Booleans are labels 0 and 1.
- Soft labels (probabilities, e.g. 0.3) are refused unless ``allow_soft_labels=True``.
- At least one example and at least one feature column (an intercept-only fit is not what
  any function here is for).
- A training set with a single class gets an :class:`OneClassWarning`: its LL has no maximum
  (θ₀ grows without bound), and the fitters' outcome says so.
- Integer and boolean X, float64 X with x64 off, and any float dtype are accepted as they
  are: the check converts nothing.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np


class DataError(ValueError):
    """Data that cannot be used as given; the message names the array, shape, row or value."""


class OneClassWarning(UserWarning):
    """Every training label is the same class: the LL's supremum is approached, not attained."""


def _is_traced(*arrays: Any) -> bool:
    # No JAX import here: if JAX is not loaded, nothing can be a tracer.
    jax = sys.modules.get("jax")
    return jax is not None and any(isinstance(a, jax.core.Tracer) for a in arrays)


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def check_examples(
    X: Any,
    y: Any,
    *,
    num_classes: int = 2,
    allow_soft_labels: bool = False,
    source: str | None = None,
    names: tuple[str, str] = ("X", "y"),
    warn_one_class: bool = True,
) -> None:
    """Check features ``X: [n, ...]`` and labels ``y: [n]`` for a K-class problem.

    ``source`` (e.g. a file or data set name) starts every message; ``names`` are what the
    caller calls the two arrays (``("x_test", "y_test")``). Raises :class:`DataError`; warns
    :class:`OneClassWarning` (when ``warn_one_class``) for a single-class y.
    """
    where = _where(source)
    x_name, y_name = names
    x_shape, y_shape = tuple(np.shape(X)), tuple(np.shape(y))
    if len(x_shape) < 2:
        raise DataError(
            f"{where}{x_name} must be [n, features] (one row per example); got shape {x_shape}"
        )
    n = x_shape[0]
    if n == 0:
        raise DataError(f"{where}{x_name} has no examples (shape {x_shape})")
    if int(np.prod(x_shape[1:])) == 0:
        raise DataError(f"{where}{x_name} has no feature columns (shape {x_shape})")
    if y_shape == (n, 1):
        raise DataError(
            f"{where}{y_name} has shape {y_shape}; labels must be [n] = ({n},): pass "
            f"{y_name}.ravel() (a column [n, 1] would broadcast against [n] to [n, n])"
        )
    if len(y_shape) != 1:
        raise DataError(f"{where}{y_name} must be [n] labels; got shape {y_shape}")
    if y_shape[0] != n:
        raise DataError(
            f"{where}{x_name} has {n} examples but {y_name} has {y_shape[0]} labels "
            f"(shapes {x_shape} and {y_shape})"
        )
    if _is_traced(X, y):
        return  # values are not known under a trace; the boundary has checked them
    _check_finite(np.asarray(X), x_name, where)
    _check_labels(np.asarray(y), num_classes, allow_soft_labels, y_name, where, warn_one_class)


def _check_finite(X: np.ndarray, name: str, where: str) -> None:
    if not np.issubdtype(X.dtype, np.inexact):
        if np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_:
            return
        raise DataError(f"{where}{name} must hold numbers; got dtype {X.dtype}")
    bad = ~np.isfinite(X)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        row, column = index[0], index[1:] if len(index) > 2 else index[1]
        raise DataError(
            f"{where}{name} has a non-finite value {X[index].item()!r} at row {row}, column "
            f"{column} ({int(bad.sum())} non-finite value(s) in all); clean or drop them first"
        )


def _check_labels(
    y: np.ndarray,
    num_classes: int,
    allow_soft: bool,
    name: str,
    where: str,
    warn_one_class: bool,
) -> None:
    if y.dtype == np.bool_:
        y = y.astype(np.int32)
    if not np.issubdtype(y.dtype, np.number):
        raise DataError(f"{where}{name} must hold class labels (numbers); got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.inexact):
        bad = ~np.isfinite(y)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(f"{where}{name} has a non-finite label {y[row].item()!r} at row {row}")
        fractional = y != np.round(y)
        if fractional.any():
            row = int(np.argmax(fractional))
            if not allow_soft:
                raise DataError(
                    f"{where}{name} has a non-integer label {y[row].item()!r} at row {row}: labels "
                    f"are classes in {{0, ..., {num_classes - 1}}}; soft labels are refused "
                    "unless allow_soft_labels=True"
                )
            if num_classes != 2 or ((y < 0) | (y > 1)).any():
                raise DataError(
                    f"{where}{name}: soft labels must be probabilities in [0, 1] of a binary "
                    f"problem; got values in [{y.min().item()!r}, {y.max().item()!r}]"
                )
            return
    values = np.unique(y)
    outside = values[(values < 0) | (values >= num_classes)]
    if outside.size:
        shown = ", ".join(str(v) for v in values[:10].tolist())
        hint = ""
        if set(values.tolist()) <= {-1, 1} and num_classes == 2:
            hint = f"; labels in {{-1, 1}} are another convention: use ({name} + 1) // 2"
        elif num_classes == 2 and values.max() >= 2:
            hint = "; more than two classes need a categorical model (softmax, softmax-mlp)"
        raise DataError(
            f"{where}{name} has labels {{{shown}}}, outside {{0, ..., {num_classes - 1}}} of a "
            f"{num_classes}-class model (first at row {int(np.argmax(np.isin(y, outside)))})" + hint
        )
    if warn_one_class and values.size == 1:
        warnings.warn(
            f"{where}every label of {name} is {values[0]}: a single-class training set has no "
            "LL maximum (the intercept grows without bound) and teaches nothing about the "
            "other class",
            OneClassWarning,
            stacklevel=3,
        )
