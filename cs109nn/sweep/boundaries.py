"""Decision-boundary grids: P(Y=1|x) of every member of a group over the plane of a 2-D data set.

What the report's boundary gallery draws needs the model, so the sweep computes it when a
group finishes (``SweepSpec.boundary_grid`` > 0) and writes it as arrays,
``boundaries/<group_id>.npz``; the report only reads and draws them (no JAX, no model code):

- ``xs [G]``, ``ys [G]``: the grid's coordinates along x₁ and x₂, spanning the training
  points' range padded by ``PAD`` of it on each side;
- ``probability [M, G, G]``: member m's P(Y=1|x) at ``(xs[j], ys[i])`` in ``[m, i, j]`` (rows
  follow x₂, as an image does): sigmoid(logit) of a binary head, softmax's class-1
  probability of a two-class categorical one;
- ``x_train [n, 2]``, ``y_train [n]``: the training points, for the figure to draw on top.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cs109nn.data import Dataset
from cs109nn.errors import ConfigError
from cs109nn.models import Model
from cs109nn.models.masked import map_members

PAD = 0.1  # share of the training range added on each side of the grid


def check_boundary_data(data: Dataset, num_classes: int) -> None:
    """A ConfigError unless ``data`` can have a boundary grid: features [n, 2], two classes."""
    shape = np.shape(data.x_train)
    if len(shape) != 2 or shape[1] != 2 or num_classes != 2:
        raise ConfigError(
            f"boundary_grid needs 2-D features and two classes; data set {data.name!r} has "
            f"features of shape {shape[1:]} and {num_classes} classes (set boundary_grid=0)"
        )


def grid_axes(x_train: np.ndarray, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """``xs [G]``, ``ys [G]`` (float32): the training range of each feature, padded."""
    low, high = np.min(x_train, axis=0), np.max(x_train, axis=0)
    pad = PAD * np.maximum(high - low, 1e-6)
    xs, ys = (
        np.linspace(low[k] - pad[k], high[k] + pad[k], grid, dtype=np.float32) for k in (0, 1)
    )
    return xs, ys


def boundary_arrays(
    model: Model, params, data: Dataset, grid: int, architecture=None
) -> dict[str, np.ndarray]:
    """The boundary file's arrays (see the module docstring) for ``params`` with leaves
    [M, ...]: one member's ``model.apply`` mapped over the members (each member's own width
    and depth with ``architecture``: widths [M], depths [M]; see ``map_members``)."""
    check_boundary_data(data, model.num_classes)
    x_train = np.asarray(data.x_train, dtype=np.float32)
    xs, ys = grid_axes(x_train, grid)
    gx, gy = np.meshgrid(xs, ys)  # [G, G]: row i is ys[i], column j is xs[j]
    points = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))

    def probability(apply, member_params):
        logits = apply(member_params, points)
        if model.output == "binary":
            return jax.nn.sigmoid(logits)
        return jax.nn.softmax(logits, axis=-1)[:, 1]

    members = map_members(model, probability, params, architecture)
    return {
        "xs": xs,
        "ys": ys,
        "probability": np.asarray(members, dtype=np.float32).reshape(-1, grid, grid),
        "x_train": x_train,
        "y_train": np.asarray(data.y_train, dtype=np.int32),
    }
