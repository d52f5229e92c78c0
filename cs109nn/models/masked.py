"""Architectures as a member axis: MLPs of many widths (and depths) in one compiled program.

vmap needs one shape, so every member of a group holds the parameters of the group's widest
MLP, ``hidden`` (the spec's widths: the largest a member may have); a member's own architecture
is data -- two traced numbers, ``width`` and ``depth`` (``Hyperparameters``):

- **width**: hidden layer i has ``min(width, hidden[i])`` live units. The activations of the
  units beyond are set to zero, so nothing downstream sees them and no gradient reaches their
  weights (the incoming weights' gradient is that zero unit's error, the outgoing ones' is its
  zero activation): they stay at zero, where initialisation put them, under any optimizer and
  decoupled weight decay;
- **depth** (when every hidden layer has the same width): layers from ``depth`` on act as the
  identity -- ``h ← h`` instead of ``h ← act(W h + b)`` -- so a member of depth d computes a
  d-layer MLP; the skipped layers' weights get no gradient and start (and stay) at zero.

A member with width w and depth d therefore computes exactly the (w, …, w)-wide, d-deep MLP
(up to the order of float32 sums, which now include zeros), and trains as a solo run of it.
Its live weights also start with that model's distribution: the group's initialiser draws the
wide kernels, and each live block is rescaled by the ratio of the standard deviations its fans
give -- the member's own fan-in (and fan-out, for Glorot's fan_avg), not the padded ones
(``FAN_MODES``; an initialiser without a known fan mode is refused).

The cost is the widest member's FLOPs for every member: worth it while compiles cost more than
the extra arithmetic (small nets on a CPU, many widths), not for widths far apart in size
(``experiments/benchmarks/widths.py`` measures both).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from cs109nn.errors import ConfigError
from cs109nn.models.head import flatten_features, logits_head
from cs109nn.models.initializers import FAN_MODES, Initializer, initializer
from cs109nn.models.members_major import members_major_dense
from cs109nn.models.model import Model, Output, Params
from cs109nn.models.parameter_count import dense_parameter_count
from cs109nn.models.shape_check import with_shape_check


class MaskedMLP(nn.Module):
    """``x: [n, *feature_shape]``, ``width``, ``depth`` (scalars) -> logits ``[n]`` or
    ``[n, K]``: the MLP of the module docstring. Params as :func:`~cs109nn.models.mlp.MLP`'s
    of widths ``hidden``: ``hidden_0 .. hidden_{L-1}`` and ``output``."""

    hidden: tuple[int, ...]
    activation: Callable[[jax.Array], jax.Array]
    output: Output = "binary"
    num_classes: int = 2
    kernel_init: Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array, width: jax.Array, depth: jax.Array) -> jax.Array:
        h = flatten_features(x)
        uniform = len(set(self.hidden)) == 1
        for i, units in enumerate(self.hidden):
            z = members_major_dense(units, kernel_init=self.kernel_init, name=f"hidden_{i}")(h)
            live = jnp.arange(units) < width  # [units]
            a = jnp.where(live[None], self.activation(z), jnp.zeros_like(z))
            # identity beyond the member's depth (shapes agree only for equal widths)
            h = jnp.where(i < depth, a, h) if i > 0 and uniform else a
        return logits_head(h, self.output, self.num_classes, self.kernel_init)


def live_sizes(hidden: Sequence[int], width: float, depth: float) -> list[int]:
    """The live units of each hidden layer for a member: ``min(width, hidden[i])`` for the
    first ``depth`` layers, 0 for the skipped ones (host-side numbers)."""
    return [int(min(width, units)) if i < depth else 0 for i, units in enumerate(hidden)]


def live_parameter_count(
    hidden: Sequence[int], num_features: int, num_outputs: int, width: float, depth: float
) -> int:
    """Parameters of the member's own MLP (weights and biases of its live units only):
    ``num_features`` inputs, ``num_outputs`` logits (1 for a binary head)."""
    sizes = [s for s in live_sizes(hidden, width, depth) if s > 0]
    fans = [num_features, *sizes, num_outputs]
    return sum(dense_parameter_count(a, b) for a, b in zip(fans[:-1], fans[1:], strict=True))


def _std_ratio(mode: str | None, wide: tuple[int, int], live: tuple[jax.Array, jax.Array]):
    """std(live fans) / std(wide fans) of a variance-scaling initialiser, for ``mode``."""
    if mode is None:
        return 1.0
    if mode == "fan_in":
        return jnp.sqrt(wide[0] / live[0])
    if mode == "fan_out":
        return jnp.sqrt(wide[1] / live[1])
    return jnp.sqrt((wide[0] + wide[1]) / (live[0] + live[1]))  # fan_avg


def masked_mlp(
    hidden: Sequence[int],
    activation: Callable[[jax.Array], jax.Array],
    output: Output,
    num_classes: int,
    init_name: str,
    name: str,
) -> Model:
    """The model of ``hidden`` (its full architecture: ``init``/``apply`` as any model's) with
    ``masked(width, depth) -> Model``, the model of one member's architecture inside it."""
    hidden = tuple(int(w) for w in hidden)
    if init_name not in FAN_MODES:
        raise ConfigError(
            f"model {name!r}: initialiser {init_name!r} has no known fan mode, so a narrower "
            f"member's weights cannot be given its own distribution; use one of "
            f"{', '.join(sorted(FAN_MODES))}"
        )
    mode = FAN_MODES[init_name]
    module = MaskedMLP(hidden, activation, output, num_classes, initializer(init_name))
    out_units = 1 if output == "binary" else num_classes

    def member(width, depth) -> Model:
        width = jnp.asarray(width, jnp.float32)
        depth = jnp.asarray(depth, jnp.float32)

        def init(key: jax.Array, x_example: jax.Array) -> Params:
            params = module.init(key, x_example, width, depth)
            return _live_init(params, x_example, width, depth)

        def apply(params: Params, x: jax.Array) -> jax.Array:
            return module.apply(params, x, width, depth)

        return with_shape_check(Model(init, apply, output, num_classes, name))

    def _live_init(params: Params, x_example, width, depth) -> Params:
        layers = dict(params["params"])
        fan_in_wide = math.prod(x_example.shape[1:])
        fan_in_live = jnp.asarray(fan_in_wide, jnp.float32)
        for i, units in enumerate(hidden):
            on = (i < depth) | (i == 0)  # layer 0 always runs; later ones up to depth
            live_units = jnp.minimum(width, units)
            layer = dict(layers[f"hidden_{i}"])
            ratio = _std_ratio(mode, (fan_in_wide, units), (fan_in_live, live_units))
            rows = jnp.arange(fan_in_wide)[:, None] < fan_in_live
            cols = jnp.arange(units)[None, :] < live_units
            layer["kernel"] = jnp.where(rows & cols & on, layer["kernel"] * ratio, 0.0)
            layer["bias"] = jnp.where((jnp.arange(units) < live_units) & on, layer["bias"], 0.0)
            layers[f"hidden_{i}"] = layer
            # the next layer's fan-in: this layer's live units, or unchanged when skipped
            fan_in_live = jnp.where(on, live_units, fan_in_live)
            fan_in_wide = units
        head = dict(layers["output"])
        ratio = _std_ratio(mode, (fan_in_wide, out_units), (fan_in_live, out_units))
        rows = jnp.arange(fan_in_wide)[:, None] < fan_in_live
        head["kernel"] = jnp.where(rows, head["kernel"] * ratio, 0.0)
        layers["output"] = head
        return {**params, "params": layers}

    full = member(math.inf, math.inf)
    return full._replace(masked=member, hidden=hidden)


def check_architecture(model: Model, widths: np.ndarray, depths: np.ndarray) -> None:
    """A ConfigError unless every member's ``width`` / ``depth`` (host arrays ``[M]``) can be
    run by ``model``: finite values need a width-maskable model, a depth below its own needs
    equal widths, and neither may exceed the model's own (the group compiles at its widths)."""
    finite_w, finite_d = np.isfinite(widths), np.isfinite(depths)
    if not (finite_w.any() or finite_d.any()):
        return
    if model.masked is None:
        raise ConfigError(
            f"model {model.name!r} has no width/depth member axis: width and depth grids need "
            "an mlp or softmax-mlp spec (the widest architecture of the grid)"
        )
    hidden = model.hidden
    if finite_w.any() and widths[finite_w].max() > max(hidden):
        raise ConfigError(
            f"width {widths[finite_w].max():g} exceeds model {model.name!r}'s widest layer "
            f"({max(hidden)}): the group compiles at the spec's widths, so name the widest"
        )
    if finite_d.any():
        if depths[finite_d].max() > len(hidden):
            raise ConfigError(
                f"depth {depths[finite_d].max():g} exceeds model {model.name!r}'s "
                f"{len(hidden)} hidden layers"
            )
        if depths[finite_d].min() < len(hidden) and len(set(hidden)) > 1:
            raise ConfigError(
                f"a depth below {len(hidden)} needs equal hidden widths (the skipped layers "
                f"act as the identity); model {model.name!r} has widths {hidden}"
            )


def map_members(
    model: Model,
    fn: Callable[[Callable, Params], jax.Array],
    params: Params,
    architecture: tuple[np.ndarray, np.ndarray] | None = None,
):
    """``fn(apply, member_params)`` for every member of ``params`` (leaves ``[M, ...]``), jitted
    and vmapped: ``apply`` is ``model.apply``, or with ``architecture`` (widths ``[M]``, depths
    ``[M]``) each member's own ``model.masked(width, depth).apply``. What the sweep uses to
    compute a group's figure arrays (boundary grids, test predictions) from its members."""
    if architecture is None:
        return jax.jit(jax.vmap(lambda p: fn(model.apply, p)))(params)
    widths, depths = (jnp.asarray(a, jnp.float32) for a in architecture)
    return jax.jit(jax.vmap(lambda p, w, d: fn(model.masked(w, d).apply, p)))(
        params, widths, depths
    )
