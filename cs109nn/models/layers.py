"""Layers by name, so that a model spec can say ``dense=64``, ``relu`` or a user's ``mylayer=8``.

A *layer token* is ``name`` or ``name=arg`` or ``name=argxarg...`` (arguments are numbers,
joined by ``x`` as in ``32x32``; ``conv=16x5`` is 16 channels with 5×5 kernels). A layer is
made by a *factory* registered under its name; ``factory(*args)`` returns one of

- a ``flax.linen.Module`` (``x -> y``; it may own parameters),
- a :class:`Layer`: a pure ``(init, apply)`` pair, ``init(key, x_example) -> params``,
  ``apply(params, x) -> y`` (stax's idea, with the model contract's signature),
- a plain function ``x -> y`` without parameters (an activation).

A factory that takes a ``kernel_init`` keyword (``nn.Dense`` does) receives the model spec's
initialiser. A model's layers are made once, when its spec is parsed (:class:`NamedLayer`), so
registering a name again changes the models built after it, never one already built.
Built-in layers:

- activations: ``identity sigmoid tanh relu gelu elu selu softplus silu swish leaky_relu[=slope]``
- ``dense=W`` (Dense, W units), ``conv=C[xK]`` (K×K convolution, SAME padding, K = 3 by default)
- ``avgpool[=S]``, ``maxpool[=S]`` (S×S window, stride S, S = 2 by default), ``flatten``,
  ``layernorm``
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
from flax import linen as nn

from cs109nn.errors import ConfigError
from cs109nn.models.head import flatten_features
from cs109nn.models.initializers import Initializer
from cs109nn.models.members_major import members_major_dense
from cs109nn.models.names import IDENTIFIER, Registry
from cs109nn.models.patch_conv import patch_conv_general_dilated

Arg = int | float | str


class Layer(NamedTuple):
    """A pure layer: ``init(key, x_example[b, ...]) -> params``, ``apply(params, x) -> y``."""

    init: Callable[[jax.Array, jax.Array], Any]
    apply: Callable[[Any, jax.Array], jax.Array]


LayerFactory = Callable[..., Any]


@dataclass(frozen=True)
class LayerToken:
    """A parsed layer token: ``dense=64`` is ``LayerToken("dense", (64,))``."""

    name: str
    args: tuple[Arg, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}={'x'.join(str(a) for a in self.args)}"


_INT = re.compile(r"^[0-9]+$")


def parse_arg(text: str) -> Arg:
    """``'64'`` -> 64, ``'0.1'`` -> 0.1, anything else stays a string."""
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def parse_layer(token: str) -> LayerToken:
    """Parse ``name`` / ``name=a`` / ``name=axb``; ValueError if malformed.

    Whether the name is known is checked later, by :func:`make_layer`.
    """
    name, sep, rest = token.strip().partition("=")
    if not IDENTIFIER.match(name):
        raise ConfigError(
            f"malformed layer token {token!r}: expected name, name=arg or name=argxarg "
            "(name: letters, digits, _)"
        )
    if not sep:
        return LayerToken(name)
    parts = rest.split("x")
    if any(p == "" for p in parts):
        raise ConfigError(f"malformed layer token {token!r}: empty argument after '='")
    return LayerToken(name, tuple(parse_arg(p) for p in parts))


def positive_int(layer: str, what: str, value: Arg) -> int:
    """``value`` as a positive integer, or a ConfigError naming the layer: ``dense=2.5`` is not
    silently width 2, and ``dense=0`` fails here, not as a ZeroDivisionError at trace time."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"layer {layer!r}: {what} must be a positive integer, got {value!r}")
    return value


def _pool(name: str, kind: Callable[..., jax.Array]) -> LayerFactory:
    def factory(size: int = 2) -> Callable[[jax.Array], jax.Array]:
        size = positive_int(name, "the window size", size)
        return lambda x: kind(x, (size, size), strides=(size, size))

    return factory


def _dense(features: int, *, kernel_init: Initializer | None = None) -> nn.Module:
    features = positive_int("dense", "the width", features)
    # members-major: no relayout copy between the matmul and the activation under vmap
    return members_major_dense(features, kernel_init=kernel_init)


def _conv(features: int, kernel_size: int = 3, *, kernel_init: Initializer | None = None):
    kwargs = {} if kernel_init is None else {"kernel_init": kernel_init}
    k = positive_int("conv", "the kernel size", kernel_size)
    # computed as patches @ kernel (cs109nn.models.patch_conv): XLA:CPU's convolution is the
    # slow path for small images inside the engine's loops and under vmap
    return nn.Conv(positive_int("conv", "the channel count", features), (k, k), padding="SAME",
                   conv_general_dilated=patch_conv_general_dilated, **kwargs)  # fmt: skip


def _leaky_relu(negative_slope: float = 0.01) -> Callable[[jax.Array], jax.Array]:
    return lambda x: jax.nn.leaky_relu(x, negative_slope)


def _constant(fn: Callable[[jax.Array], jax.Array]) -> LayerFactory:
    """The factory of a parameter-free layer: ``factory() -> fn``."""
    return lambda: fn


_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda x: x,
    "sigmoid": jax.nn.sigmoid,  # the lecture's h_j = sigma(...)
    "tanh": jax.numpy.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "softplus": jax.nn.softplus,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
}

LAYERS: Registry[LayerFactory] = Registry(
    "layer",
    {
        **{name: _constant(fn) for name, fn in _ACTIVATIONS.items()},
        "leaky_relu": _leaky_relu,
        "dense": _dense,
        "conv": _conv,
        "avgpool": _pool("avgpool", nn.avg_pool),
        "maxpool": _pool("maxpool", nn.max_pool),
        "flatten": _constant(flatten_features),
        "layernorm": lambda: nn.LayerNorm(),
    },
)


def known_layers() -> tuple[str, ...]:
    """Names usable in layer tokens (built-in and registered), sorted."""
    return LAYERS.names()


def register_layer(name: str, factory: LayerFactory) -> None:
    """Make ``factory(*args)`` available as layer ``name`` (see the module docstring).

    ``factory`` returns a flax Module, a :class:`Layer` pair or a function ``x -> y``; a flax
    Module class works as its own factory (``register_layer("mydense", nn.Dense)``). Built-in
    names cannot be replaced; a user name registered again is replaced for the models built
    after it (a built model keeps the layers it was made with).
    """
    if not callable(factory):
        raise ConfigError(f"layer factory for {name!r} must be callable, got {factory!r}")
    LAYERS.register(name, factory)


def register_activation(name: str, fn: Callable[[jax.Array], jax.Array]) -> None:
    """Register a parameter-free elementwise function ``fn(x) -> y`` as layer ``name``."""
    register_layer(name, _constant(fn))


def _takes_kernel_init(factory: LayerFactory) -> bool:
    try:
        return "kernel_init" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def make_layer(token: LayerToken, kernel_init: Initializer | None = None) -> Any:
    """Call the factory of ``token``: a flax Module, a :class:`Layer` or a function.

    Raises ValueError for an unknown name (listing the known ones) or arguments the factory
    does not take.
    """
    factory = LAYERS.get(token.name, where=f" in {str(token)!r}")
    kwargs = {"kernel_init": kernel_init} if kernel_init and _takes_kernel_init(factory) else {}
    try:
        made = factory(*token.args, **kwargs)
    except TypeError as error:
        raise ConfigError(f"layer {str(token)!r}: bad arguments {token.args}: {error}") from error
    if isinstance(made, tuple) and not isinstance(made, Layer) and len(made) == 2:
        made = Layer(*made)  # a bare (init, apply) tuple
    if not (isinstance(made, nn.Module | Layer) or callable(made)):
        raise ConfigError(
            f"layer factory {token.name!r} returned {type(made).__name__}; expected a flax "
            "Module, a Layer(init, apply) or a function x -> y"
        )
    return made


class PureLayer(nn.Module):
    """Adapts a pure :class:`Layer` pair to flax: its params live under ``theta``."""

    layer: Layer

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        theta = self.param("theta", lambda key: self.layer.init(key, x))
        return self.layer.apply(theta, x)


@dataclass(frozen=True)
class NamedLayer:
    """A made layer (see :func:`make_layer`) and the name its params go under in a model.

    Made once, when the spec is parsed, so that tracing never reads the layer registry.
    A plain frozen dataclass, not a pytree and not a Module: flax does not adopt the Module
    inside as a child named after the field holding it; :meth:`__call__` names it.
    """

    name: str  # e.g. "hidden_0", "relu_1", "dense_2"
    layer: nn.Module | Layer | Callable[[jax.Array], jax.Array]

    def __call__(self, parent: nn.Module, x: jax.Array) -> jax.Array:
        """Apply the layer to ``x [n, ...]`` inside ``parent``'s compact ``__call__``.

        A layer with parameters becomes the child ``self.name`` of ``parent``.
        """
        if isinstance(self.layer, nn.Module):
            return self.layer.clone(parent=parent, name=self.name)(x)
        if isinstance(self.layer, Layer):
            return PureLayer(self.layer, parent=parent, name=self.name)(x)
        return self.layer(x)


def named_layer(token: LayerToken, name: str, kernel_init: Initializer | None = None) -> NamedLayer:
    """:func:`make_layer` of ``token``, its params to go under ``name``."""
    return NamedLayer(name, make_layer(token, kernel_init))
