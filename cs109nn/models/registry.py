"""Models by spec string, so that a sweep names a model: ``model_from_spec("mlp:32x32:relu")``.

A spec is a model name and ``:``-separated parts. Built-in specs (``[...]`` is optional):

=============================================  ============================================
``logreg[:INIT]``                              logistic regression, binary; INIT = zeros
``softmax[:INIT]``                             softmax (multinomial logistic) regression, K
``mlp:WIDTHS[:LAYER[:INIT]]``                  MLP, binary; WIDTHS ``32`` or ``32x32``;
                                               LAYER after each hidden Dense = sigmoid
``softmax-mlp:WIDTHS[:LAYER[:INIT]]``          the same with K-class softmax output
``convnet[:CHANNELS[:LAYER[:INIT]]]``          conv net for 8×8×1 digits, K classes;
                                               CHANNELS = 16x32, LAYER = relu
``stack:LAYER-LAYER-...[:INIT]``               any layers in order, then a binary head
``softmax-stack:LAYER-LAYER-...[:INIT]``       the same with a K-class head
=============================================  ============================================

LAYER is a layer token (``relu``, ``leaky_relu=0.1``, ``dense=64``, ``conv=16x3``, a user's
``mylayer=8``; see :mod:`cs109nn.models.layers`), INIT an initialiser name (see
:mod:`cs109nn.models.initializers`; default lecun_normal except ``logreg``/``softmax``).
K is ``model_from_spec``'s ``num_classes``; binary specs require ``num_classes == 2``.
Examples: ``logreg``, ``mlp:32x32:sigmoid``, ``mlp:64:relu:he``, ``softmax``,
``softmax-mlp:64:relu``, ``convnet``, ``stack:dense=64-relu-dense=32-tanh:glorot``.

A user adds a layer with :func:`~cs109nn.models.register_layer` and uses it in any LAYER
place, or a whole model with :func:`register_model` and uses ``name[:arg...]``.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from typing import Any

from flax import linen as nn

from cs109nn.models.convnet import ConvNet
from cs109nn.models.flax_model import model_from_module, model_from_pair
from cs109nn.models.initializers import initializer
from cs109nn.models.layers import Layer, LayerToken, make_layer, parse_arg, parse_layer
from cs109nn.models.logistic import LogisticRegression
from cs109nn.models.mlp import MLP
from cs109nn.models.model import Model, Output
from cs109nn.models.shape_check import with_shape_check
from cs109nn.models.stack import Stack

ModelFactory = Callable[..., Any]

_USAGE: dict[str, str] = {
    "logreg": "logreg[:INIT]",
    "softmax": "softmax[:INIT]",
    "mlp": "mlp:WIDTHS[:LAYER[:INIT]]",
    "softmax-mlp": "softmax-mlp:WIDTHS[:LAYER[:INIT]]",
    "convnet": "convnet[:CHANNELS[:LAYER[:INIT]]]",
    "stack": "stack:LAYER-LAYER-...[:INIT]",
    "softmax-stack": "softmax-stack:LAYER-LAYER-...[:INIT]",
}
_BUILTIN = frozenset(_USAGE)
# user models: name -> (factory, output for a factory that returns a module or a pair)
_USER: dict[str, tuple[ModelFactory, Output | None]] = {}

#: Live read-only view ``name -> usage`` of every known model, built-in and registered.
KNOWN_MODELS = types.MappingProxyType(_USAGE)

_MODEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_LAYER_SPLIT = re.compile(r"-(?=[A-Za-z_])")  # '-' before a name; '1e-3' stays whole


def known_models() -> tuple[str, ...]:
    """Model names usable in specs (built-in and registered), sorted."""
    return tuple(sorted(_USAGE))


def _known() -> str:
    return "known models: " + "; ".join(_USAGE[name] for name in known_models())


def _bad(spec: str, why: str) -> ValueError:
    return ValueError(f"bad model spec {spec!r}: {why}. {_known()}")


def _positive_ints(spec: str, text: str, what: str) -> tuple[int, ...]:
    parts = text.split("x")
    if not text or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise _bad(spec, f"{what} must be positive integers joined by 'x' (32x32), got {text!r}")
    return tuple(int(p) for p in parts)


def _layer(spec: str, text: str) -> LayerToken:
    try:
        token = parse_layer(text)
        make_layer(token)  # fail now, at spec time, not at init
    except ValueError as error:
        raise _bad(spec, str(error)) from None
    return token


def _init(spec: str, name: str | None, default: str):
    try:
        return initializer(default if name is None else name)
    except ValueError as error:
        raise _bad(spec, str(error)) from None


def _parts(spec: str, parts: list[str], low: int, high: int) -> list[str | None]:
    if not low <= len(parts) <= high:
        wanted = f"{low}" if low == high else f"{low} to {high}"
        raise _bad(spec, f"expected {wanted} ':'-separated parts after the name, got {len(parts)}")
    if any(p == "" for p in parts):
        raise _bad(spec, "empty part between ':'")
    return parts + [None] * (high - len(parts))


def _builtin(spec: str, name: str, parts: list[str], num_classes: int) -> Model:
    binary = name in ("logreg", "mlp", "stack")
    if binary and num_classes != 2:
        raise _bad(
            spec,
            f"{name!r} is binary but num_classes={num_classes}; use softmax / softmax-{name}"
            if name != "logreg"
            else f"'logreg' is binary but num_classes={num_classes}; use softmax",
        )
    output: Output = "binary" if binary else "categorical"
    if name in ("logreg", "softmax"):
        (init,) = _parts(spec, parts, 0, 1)
        module = LogisticRegression(output, num_classes, _init(spec, init, "zeros"))
    elif name in ("mlp", "softmax-mlp"):
        widths, layer, init = _parts(spec, parts, 1, 3)
        module = MLP(
            _positive_ints(spec, widths, "WIDTHS"),
            _layer(spec, layer or "sigmoid"),
            output,
            num_classes,
            _init(spec, init, "lecun_normal"),
        )
    elif name == "convnet":
        channels, layer, init = _parts(spec, parts, 0, 3)
        module = ConvNet(
            _positive_ints(spec, channels or "16x32", "CHANNELS"),
            _layer(spec, layer or "relu"),
            output,
            num_classes,
            _init(spec, init, "lecun_normal"),
        )
    else:  # stack, softmax-stack
        layers, init = _parts(spec, parts, 1, 2)
        tokens = tuple(_layer(spec, t) for t in _LAYER_SPLIT.split(layers))
        module = Stack(tokens, output, num_classes, _init(spec, init, "lecun_normal"))
    return model_from_module(module, output=output, num_classes=num_classes, name=spec)


def _user(spec: str, name: str, parts: list[str], num_classes: int) -> Model:
    factory, output = _USER[name]
    args = [parse_arg(p) for p in parts]
    kwargs = {}
    try:
        if "num_classes" in inspect.signature(factory).parameters:
            kwargs["num_classes"] = num_classes
    except (TypeError, ValueError):
        pass
    try:
        made = factory(*args, **kwargs)
    except TypeError as error:
        why = f"model {name!r} does not take arguments {tuple(args)}: {error}"
        raise _bad(spec, why) from error
    if isinstance(made, Model):
        return with_shape_check(made._replace(name=spec))
    out: Output = output or "binary"
    k = num_classes if out == "categorical" else 2
    if isinstance(made, nn.Module):
        return model_from_module(made, output=out, num_classes=k, name=spec)
    if isinstance(made, tuple) and len(made) == 2:
        return model_from_pair(*Layer(*made), output=out, num_classes=k, name=spec)
    kind = type(made).__name__
    raise _bad(spec, f"factory of {name!r} returned {kind}, not a Model, a Module or a pair")


def model_from_spec(spec: str, *, num_classes: int = 2) -> Model:
    """The model a spec string names (grammar in this module's docstring).

    ``num_classes``: K for categorical models (``softmax``, ``softmax-mlp``, ``convnet``,
    ``softmax-stack``); binary models need 2. The returned model's ``name`` is the spec, and
    its ``apply`` checks input shapes (ValueError with expected and actual shapes).
    Raises ValueError for an unknown name or a malformed spec, listing the known models.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _bad(str(spec), "a spec is a non-empty string")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise _bad(spec, f"num_classes must be an integer >= 2, got {num_classes!r}")
    spec = spec.strip()
    name, *parts = spec.split(":")
    if name in _BUILTIN:
        return _builtin(spec, name, parts, num_classes)
    if name in _USER:
        return _user(spec, name, parts, num_classes)
    raise _bad(spec, f"unknown model {name!r}")


def register_model(
    name: str,
    factory: ModelFactory,
    *,
    output: Output | None = None,
    usage: str | None = None,
) -> None:
    """Make ``name[:arg...]`` a model spec.

    ``factory(*args)`` gets the spec's parts (numbers parsed: ``mymodel:16:0.5`` -> ``(16,
    0.5)``), plus ``num_classes=K`` if it takes that keyword, and returns a :class:`Model`, a
    flax Module or a pure ``(init, apply)`` pair returning logits; for the last two, ``output``
    ("binary", the default, or "categorical") says which. ``usage`` is shown in error messages
    and :data:`KNOWN_MODELS`. Built-in names cannot be replaced; a user name registered again
    is replaced.
    """
    if not _MODEL_NAME.match(name):
        raise ValueError(f"model name {name!r} must match {_MODEL_NAME.pattern}")
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in model and cannot be replaced")
    if output not in (None, "binary", "categorical"):
        raise ValueError(f"output must be 'binary' or 'categorical', got {output!r}")
    if not callable(factory):
        raise ValueError(f"model factory for {name!r} must be callable, got {factory!r}")
    _USER[name] = (factory, output)
    _USAGE[name] = usage or f"{name}[:ARG...]"
