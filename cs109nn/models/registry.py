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
``naive-bayes[:KIND[:SMOOTHING]]``             Naive Bayes, fitted by counting (a
                                               :class:`FittedModel`), K classes; KIND =
                                               bernoulli (α = 1) or gaussian
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

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from flax import linen as nn

from cs109nn.errors import ConfigError
from cs109nn.models.convnet import ConvNet
from cs109nn.models.flax_model import model_from_module, model_from_pair
from cs109nn.models.initializers import FAN_MODES, Initializer, initializer
from cs109nn.models.layers import (
    LAYERS,
    Layer,
    LayerToken,
    make_layer,
    parse_arg,
    parse_layer,
)
from cs109nn.models.logistic import LogisticRegression
from cs109nn.models.masked import masked_mlp
from cs109nn.models.mlp import MLP
from cs109nn.models.model import FittedModel, Model, Output, check_output
from cs109nn.models.naive_bayes import NAIVE_BAYES_KINDS, naive_bayes_model
from cs109nn.models.names import Registry
from cs109nn.models.shape_check import with_shape_check
from cs109nn.models.stack import Stack

ModelFactory = Callable[..., Any]

_LAYER_SPLIT = re.compile(r"-(?=[A-Za-z_])")  # '-' before a name; '1e-3' stays whole


class ModelKind(NamedTuple):
    """What a model name stands for: its spec's usage line and its builder.

    ``build(spec, name, parts, num_classes) -> Model``, ``parts`` the spec's ``:``-separated
    parts after the name. ``fitted``: the builder returns a :class:`FittedModel` (fitted in
    closed form, no optimizer or steps).
    """

    usage: str
    build: Callable[[str, str, list[str], int], Model | FittedModel]
    fitted: bool = False


def _bad(spec: str, why: str) -> ConfigError:
    return ConfigError(f"bad model spec {spec!r}: {why}. {MODELS.known()}")


def _positive_ints(spec: str, text: str, what: str) -> tuple[int, ...]:
    parts = text.split("x")
    if not text or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise _bad(spec, f"{what} must be positive integers joined by 'x' (32x32), got {text!r}")
    return tuple(int(p) for p in parts)


def _layer(spec: str, text: str) -> LayerToken:
    try:
        token = parse_layer(text)
        # the name now, so that an unknown layer is reported before an unknown INIT; the
        # layer itself is made with INIT's initialiser by _made
        LAYERS.get(token.name, where=f" in {str(token)!r}")
    except ValueError as error:
        raise _bad(spec, str(error)) from None
    return token


def _init(spec: str, name: str | None, default: str) -> Initializer:
    try:
        return initializer(default if name is None else name)
    except ValueError as error:
        raise _bad(spec, str(error)) from None


def _made(spec: str, build: Callable[..., nn.Module], *args: Any) -> nn.Module:
    """``build(*args)``: the module, its layers made now (spec time, not trace time); a layer's
    bad arguments are a bad spec."""
    try:
        return build(*args)
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
        hidden = _positive_ints(spec, widths, "WIDTHS")
        activation = _layer(spec, layer or "sigmoid")
        kernel_init = _init(spec, init, "lecun_normal")
        module = _made(spec, MLP, hidden, activation, output, num_classes, kernel_init)
        made = make_layer(activation)
        init_name = init or "lecun_normal"
        if not isinstance(made, nn.Module | Layer) and init_name in FAN_MODES:
            # a parameter-free activation and a fan-scaled initialiser: widths and depths
            # can be a member axis (cs109nn.models.masked)
            masked = masked_mlp(hidden, made, output, num_classes, init_name, spec)
            plain = model_from_module(module, output=output, num_classes=num_classes, name=spec)
            return plain._replace(masked=masked.masked, hidden=hidden)
    elif name == "convnet":
        channels, layer, init = _parts(spec, parts, 0, 3)
        sizes = _positive_ints(spec, channels or "16x32", "CHANNELS")
        activation = _layer(spec, layer or "relu")
        kernel_init = _init(spec, init, "lecun_normal")
        module = _made(spec, ConvNet, sizes, activation, output, num_classes, kernel_init)
    else:  # stack, softmax-stack
        layers, init = _parts(spec, parts, 1, 2)
        tokens = tuple(_layer(spec, t) for t in _LAYER_SPLIT.split(layers))
        kernel_init = _init(spec, init, "lecun_normal")
        module = _made(spec, Stack.from_tokens, tokens, output, num_classes, kernel_init)
    return model_from_module(module, output=output, num_classes=num_classes, name=spec)


def _naive_bayes(spec: str, name: str, parts: list[str], num_classes: int) -> FittedModel:
    kind, smoothing = _parts(spec, parts, 0, 2)
    kind = kind or "bernoulli"
    if kind not in NAIVE_BAYES_KINDS:
        raise _bad(spec, f"KIND must be one of {', '.join(NAIVE_BAYES_KINDS)}, got {kind!r}")
    value = None
    if smoothing is not None:
        try:
            value = float(smoothing)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise _bad(spec, f"SMOOTHING must be a positive number, got {smoothing!r}")
    return naive_bayes_model(kind, value, num_classes, name=spec)


def _user(
    factory: ModelFactory,
    output: Output | None,
    spec: str,
    name: str,
    parts: list[str],
    num_classes: int,
) -> Model:
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


_USAGE = {
    "logreg": "logreg[:INIT]",
    "softmax": "softmax[:INIT]",
    "mlp": "mlp:WIDTHS[:LAYER[:INIT]]",
    "softmax-mlp": "softmax-mlp:WIDTHS[:LAYER[:INIT]]",
    "convnet": "convnet[:CHANNELS[:LAYER[:INIT]]]",
    "stack": "stack:LAYER-LAYER-...[:INIT]",
    "softmax-stack": "softmax-stack:LAYER-LAYER-...[:INIT]",
}
#: Every model name, built-in and registered; model names may contain '-' (softmax-mlp).
MODELS: Registry[ModelKind] = Registry(
    "model",
    {
        **{name: ModelKind(usage, _builtin) for name, usage in _USAGE.items()},
        "naive-bayes": ModelKind("naive-bayes[:KIND[:SMOOTHING]]", _naive_bayes, fitted=True),
    },
    pattern=re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$"),
    describe=lambda kind: kind.usage,
    separator="; ",
)

#: Live read-only view ``name -> usage`` of every known model, built-in and registered.
KNOWN_MODELS = MODELS.descriptions()


def known_models() -> tuple[str, ...]:
    """Model names usable in specs (built-in and registered), sorted."""
    return MODELS.names()


def is_fitted_spec(spec: str) -> bool:
    """Whether ``spec`` names a model fitted in closed form (a known name only; the rest of the
    spec is checked by :func:`model_from_spec`)."""
    name = str(spec).strip().split(":")[0]
    return name in MODELS and MODELS.get(name).fitted


def model_from_spec(spec: str, *, num_classes: int = 2) -> Model | FittedModel:
    """The model a spec string names (grammar in this module's docstring).

    ``num_classes``: K for categorical models (``softmax``, ``softmax-mlp``, ``convnet``,
    ``softmax-stack``); binary models need 2. The returned model's ``name`` is the spec, and
    its ``apply`` checks input shapes (ValueError with expected and actual shapes). Every
    layer is made here, once: registering a layer name again later leaves this model as it is.
    Raises ValueError for an unknown name or a malformed spec, listing the known models.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _bad(str(spec), "a spec is a non-empty string")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise _bad(spec, f"num_classes must be an integer >= 2, got {num_classes!r}")
    spec = spec.strip()
    name, *parts = spec.split(":")
    if name not in MODELS:
        raise _bad(spec, MODELS.unknown(name))
    return MODELS.get(name).build(spec, name, parts, num_classes)


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
    if output is not None:
        check_output(output)
    if not callable(factory):
        raise ConfigError(f"model factory for {name!r} must be callable, got {factory!r}")
    build = functools.partial(_user, factory, output)
    MODELS.register(name, ModelKind(usage or f"{name}[:ARG...]", build))
