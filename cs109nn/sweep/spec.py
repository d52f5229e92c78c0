"""Sweep specs: what to train, as a frozen dataclass (no config language of its own).

A sweep is the product of two kinds of axes:

- **static axes** -- data sets x model specs x optimizer kinds x learning-rate schedule kinds x
  steps x batch sizes. Each point changes the compiled program, so each point is a *group* that
  compiles once;
- **vectorised axes** -- seeds x a grid of numeric hyperparameters (one field per engine
  hyperparameter name) x ``samples`` draws of the fields that hold a distribution instead of
  grid values (``cs109nn.sweep.distributions``). Every point is a *member*; all members of a
  group train in one program.

An experiment file (``experiments/*.py``) defines ``get_config() -> SweepSpec``; the command line
changes fields with ``--set key=value`` through :func:`apply_overrides`, typed by the fields'
annotations.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
import math
import os
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import HPARAM_NAMES, check_hyperparameter
from cs109nn.run_folder_schema import SEARCHES
from cs109nn.sweep.distributions import (
    Distribution,
    check_distribution,
    looks_like_distribution,
    parse_distribution,
    points_per_field,
)
from cs109nn.train import OPTIMIZERS, SCHEDULE_NUMBERS, SCHEDULES
from cs109nn.train.checkpoints import check_checkpointing
from cs109nn.train.halving import rung_stops
from cs109nn.train.memory import parse_bytes
from cs109nn.train.population import check_population

# SweepSpec has a field (an ``Axis``) for each hyperparameter, in the same order (checked by a
# test).
HYPERPARAMETER_FIELDS = HPARAM_NAMES
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
# A hyperparameter field: grid values, or a distribution that ``samples`` draws are made from.
Axis = tuple[float, ...] | Distribution
# Fields the runner checks against the model by their grid values before training
# (``check_architecture`` in ``cs109nn.sweep.runner``), so that they take grids only for now.
_GRID_ONLY = ("width", "depth")


class SpecError(ConfigError):
    """A sweep spec, override or stored config that cannot be used; the message says why."""


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: static axes (one compile each) x vectorised axes (members of one program).

    Hyperparameter fields hold the grid values of that hyperparameter; an empty tuple (the
    default) leaves it off the grid, at its default (``cs109nn.hyperparameters.Hyperparameters``),
    and results.csv records the value used either way. A hyperparameter field may instead hold a
    distribution (``"loguniform(1e-3,1)"``, ``"uniform(0,0.9)"``, ``"choice(0,0.5,0.9)"``;
    ``cs109nn.sweep.distributions``): ``samples`` joint draws of every such field, seeded by
    ``search_seed``, are a member axis between the grid and the seeds. ``batch_sizes``: ``None``
    is full batch (the lecture's loop), ``none`` on the command line.
    """

    name: str = "sweep"
    # the slide's claim the sweep tests, one sentence; report.md opens with it and the measured
    # figures (test accuracy with intervals) that bear on it
    claim: str = ""
    # static axes: their product gives the groups
    datasets: tuple[str, ...] = ("xor",)
    models: tuple[str, ...] = ("logreg",)
    optimizers: tuple[str, ...] = ("sgd",)
    # learning-rate schedule kinds (cs109nn.train.schedules); their numbers are grid fields below
    schedules: tuple[str, ...] = ("constant",)
    steps: tuple[int, ...] = (200,)
    batch_sizes: tuple[int | None, ...] = (None,)  # None: full batch (the lecture's loop)
    # vectorised axes: their product gives each group's members (seeds vary fastest)
    seeds: tuple[int, ...] = (0,)
    learning_rate: Axis = ()
    momentum: Axis = ()
    weight_decay: Axis = ()
    init_scale: Axis = ()
    clip_norm: Axis = ()
    noise_multiplier: Axis = ()
    train_size: Axis = ()  # training subsets per member (learning curves over n)
    # the schedules' numbers; each kind reads its own (``SCHEDULE_NUMBERS``)
    warmup_fraction: Axis = ()
    final_fraction: Axis = ()
    decay_rate: Axis = ()
    decay_interval: Axis = ()
    # architectures as a member axis: hidden widths / depths inside each model (an MLP spec,
    # the widest of the grid), masked (``cs109nn.models.masked``): one program for all
    width: Axis = ()
    depth: Axis = ()
    # random search: how many joint draws of the fields above that hold a distribution (0: none,
    # a pure grid), and the seed of the draws (cs109nn.sweep.distributions)
    samples: int = 0
    search_seed: int = 0
    # how each group's members are searched: a static axis (each kind its own groups, the same
    # members; ``SEARCHES``). halving: successive halving, keeping 1/halving_eta of the members
    # at each of halving_rungs rungs (cs109nn.train.halving); pbt: population-based training,
    # the bottom pbt_fraction copying the top every pbt_every evaluations and perturbing their
    # hyperparameters by one of pbt_factors (cs109nn.train.population; its draws seeded by
    # search_seed). Both select by the validation split.
    searches: tuple[str, ...] = ("none",)
    halving_eta: int = 3
    halving_rungs: int = 3
    pbt_every: int = 3
    pbt_fraction: float = 0.25
    pbt_factors: tuple[float, ...] = (0.8, 1.25)
    # shared by every group
    eval_every: int = 10
    dp: bool = False  # DP-SGD: clip per-example gradients to clip_norm, add noise
    data_dir: str | None = None  # where CS109 CSV data sets live (``cs109:NAME`` specs)
    data_seed: int = 0  # seed of generated data sets and of the train/validation/test splits
    # share of the training split held out for model selection (stratified, by data_seed)
    val_fraction: float = 0.2
    n_examples: int | None = None  # size of generated data sets; None: the loader's default
    save_params: bool = False  # write params/<group_id>.npz
    # grid points per axis of boundaries/<group_id>.npz, P(Y=1|x) over the plane of a 2-D data
    # set (the report's decision-boundary gallery); 0: none. Every data set must then have
    # features [n, 2] and two classes: checked by the sweep before training (a SpecError).
    boundary_grid: int = 0
    # write predictions/<group_id>.npz: each member's predicted class on the test split, the
    # test images and the first Dense layer's weights as images (the report's digit figures).
    # Every data set must then have a test split: checked by the sweep before training.
    save_predictions: bool = False
    # device memory a group may plan for, per device, in bytes: a number or a size such as
    # 512MiB or 2GiB, kept as bytes; None: a safe share of the device's memory
    # (``cs109nn.train.memory``). It changes only how many members share a chunk -- results
    # agree within the engine's tolerance -- but it is config like any field: a resume with
    # another budget is refused as a changed config (--fresh starts over).
    memory_budget: int | None = dataclasses.field(default=None, metadata={"unit": parse_bytes})
    # checkpoints inside long groups (cs109nn.train.checkpoints): a group trains in segments of
    # checkpoint_every evaluation intervals (None: about an eighth of its evaluations) and saves
    # every member's state at the first segment end after checkpoint_seconds since its start or
    # last save (0: every segment); a killed sweep resumes the group there. None: no segments,
    # no checkpoints (one program per group). Results are the same bits either way.
    checkpoint_seconds: float | None = 120.0
    checkpoint_every: int | None = None

    def __post_init__(self) -> None:
        hints = _field_types()
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if "unit" in field.metadata and value is not None:  # "2GiB" -> 2147483648
                value = _with_unit(value, field.metadata["unit"], field.name)
            value = _coerce(value, hints[field.name], field.name)
            object.__setattr__(self, field.name, value)
        self._check()

    def _check(self) -> None:
        if not _NAME_PATTERN.match(self.name):
            raise SpecError(f"name must match {_NAME_PATTERN.pattern}, got {self.name!r}")
        axes = ("datasets", "models", "optimizers", "schedules", "steps", "batch_sizes", "seeds")
        axes += ("searches",)
        for axis in axes + self._grid_fields():
            values = getattr(self, axis)
            if not values and axis in axes:  # an empty grid field means the engine default
                raise SpecError(f"{axis} must hold at least one value")
            if len(set(values)) != len(values):  # the same member twice
                raise SpecError(f"{axis} repeats a value: {values}")
        for name in HYPERPARAMETER_FIELDS:
            values = getattr(self, name)
            try:
                if isinstance(values, Distribution):
                    check_distribution(name, values)
                else:
                    check_hyperparameter(name, values)
            except ConfigError as error:
                raise SpecError(str(error)) from None
        self._check_search()
        bad_steps = [s for s in self.steps if self.eval_every > 0 and s > 0 and s % self.eval_every]
        if bad_steps:
            raise SpecError(f"eval_every={self.eval_every} must divide steps={bad_steps[0]}")
        unknown = [kind for kind in self.optimizers if kind not in OPTIMIZERS]
        if unknown:
            raise SpecError(f"unknown optimizers {unknown}; valid: {', '.join(OPTIMIZERS)}")
        self._check_schedules()
        if any(steps <= 0 for steps in self.steps):
            raise SpecError(f"steps must be positive, got {self.steps}")
        if any(size is not None and size < 1 for size in self.batch_sizes):
            raise SpecError(
                f"batch_sizes must be >= 1, or none for full batch; got {self.batch_sizes}"
            )
        if any(seed < 0 for seed in self.seeds):
            raise SpecError(f"seeds must be >= 0, got {self.seeds}")
        if self.dp and self.train_size:
            raise SpecError(
                "train_size needs dp=False: DP-SGD clips the gradients of whole batches, not of "
                "a training subset"
            )
        if self.eval_every <= 0:
            raise SpecError(f"eval_every must be positive, got {self.eval_every}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise SpecError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.n_examples is not None and self.n_examples <= 0:
            raise SpecError(f"n_examples must be positive, got {self.n_examples}")
        if self.boundary_grid < 0 or self.boundary_grid == 1:
            raise SpecError(f"boundary_grid must be 0 (off) or >= 2, got {self.boundary_grid}")
        try:
            check_checkpointing(self.checkpoint_every, self.checkpoint_seconds)
        except ConfigError as error:
            raise SpecError(str(error)) from None

    def _grid_fields(self) -> tuple[str, ...]:
        """The hyperparameter fields that hold grid values (an empty grid included)."""
        return tuple(
            name
            for name in HYPERPARAMETER_FIELDS
            if not isinstance(getattr(self, name), Distribution)
        )

    def _check_search(self) -> None:
        drawn = [name for name in HYPERPARAMETER_FIELDS if name not in self._grid_fields()]
        if self.samples < 0:
            raise SpecError(f"samples must be >= 0 (0: no draws, a pure grid), got {self.samples}")
        if self.search_seed < 0:
            raise SpecError(f"search_seed must be >= 0, got {self.search_seed}")
        if drawn and not self.samples:
            raise SpecError(
                f"{drawn[0]}={getattr(self, drawn[0])} is a distribution, and samples=0 draws "
                f"nothing from it: set samples (--set samples=16) or give {drawn[0]} grid values"
            )
        if self.samples and not drawn:
            raise SpecError(
                f"samples={self.samples} but no hyperparameter holds a distribution to draw from: "
                f"give one (--set learning_rate='loguniform(1e-3,1)') or set samples=0"
            )
        unknown = [kind for kind in self.searches if kind not in SEARCHES]
        if unknown:
            raise SpecError(f"unknown searches {unknown}; valid: {', '.join(SEARCHES)}")
        if "grid" in self.searches and (
            not drawn or not points_per_field(len(drawn), self.samples)
        ):
            raise SpecError(
                f"searches=grid lays a grid over the distribution fields' space with as many "
                f"points as samples: it needs distributions and samples = k ** "
                f"{max(len(drawn), 1)}; got {len(drawn)} distribution field(s), samples="
                f"{self.samples}"
            )
        selecting = [kind for kind in self.searches if kind in ("halving", "pbt")]
        if selecting and self.val_fraction <= 0:
            raise SpecError(
                f"searches={selecting[0]} selects by the validation split: set val_fraction > 0 "
                f"(got {self.val_fraction})"
            )
        try:
            if "halving" in self.searches:
                for steps in self.steps:
                    rung_stops(
                        max(steps // self.eval_every, 1), self.halving_eta, self.halving_rungs
                    )
            if "pbt" in self.searches:
                check_population(self.pbt_every, self.pbt_fraction, self.pbt_factors)
        except ConfigError as error:
            raise SpecError(str(error)) from None
        grid_only = [name for name in drawn if name in _GRID_ONLY]
        if grid_only:
            raise SpecError(
                f"{grid_only[0]} takes grid values only (the sweep checks each architecture "
                f"against the model by its grid), got {getattr(self, grid_only[0])}"
            )

    def _axis_length(self, name: str) -> int:
        """How many values a hyperparameter field gives the members: its grid's, or its
        draws'."""
        values = getattr(self, name)
        return self.samples if isinstance(values, Distribution) else len(values)

    def _check_schedules(self) -> None:
        unknown = [kind for kind in self.schedules if kind not in SCHEDULES]
        if unknown:
            raise SpecError(f"unknown schedules {unknown}; valid: {', '.join(SCHEDULES)}")
        for name in sorted({n for numbers in SCHEDULE_NUMBERS.values() for n in numbers}):
            count = self._axis_length(name)
            readers = [kind for kind in self.schedules if name in SCHEDULE_NUMBERS[kind]]
            if count and not readers:  # a number no group reads would be recorded, not used
                kinds = [kind for kind in SCHEDULES if name in SCHEDULE_NUMBERS[kind]]
                raise SpecError(
                    f"{name} is read by the schedules {kinds} only, and schedules="
                    f"{list(self.schedules)} has none of them: add one (--set "
                    f"schedules={kinds[0]}) or leave {name} empty"
                )
            ignoring = [kind for kind in self.schedules if kind not in readers]
            if count > 1 and ignoring:  # that kind's members would repeat each other
                raise SpecError(
                    f"{name} has {count} values but schedule {ignoring[0]!r} does not read "
                    f"it: its members would repeat each other; sweep it in a spec of its own, or "
                    f"give {name} one value"
                )


def to_config(spec: SweepSpec) -> dict[str, Any]:
    """The spec as a JSON-ready dict (tuples become lists); the resolved config of a run."""
    return {field.name: _jsonable(getattr(spec, field.name)) for field in dataclasses.fields(spec)}


def from_config(config: Mapping[str, Any]) -> SweepSpec:
    """The spec back from :func:`to_config`'s dict (e.g. a manifest's ``config``)."""
    _check_keys(config.keys())
    return SweepSpec(**config)


def config_hash(spec: SweepSpec) -> str:
    """sha256 (hex) of the config's canonical JSON: sorted keys, no spaces, floats by repr."""
    text = json.dumps(to_config(spec), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Keys whose values differ between two configs (present in one only counts), sorted."""
    keys = set(old) | set(new)
    return sorted(key for key in keys if old.get(key, _MISSING) != new.get(key, _MISSING))


def apply_overrides(spec: SweepSpec, overrides: Iterable[str]) -> SweepSpec:
    """``spec`` with ``["key=value", ...]`` applied, each value parsed by the field's type.

    Tuples parse from comma lists (``seeds=0,1,2``; ``momentum=`` empties the grid); a single
    value is a one-value tuple (``steps=200``). A hyperparameter field also takes a distribution
    (``learning_rate=loguniform(1e-3,1)``, quoted in a shell). ``none`` sets an optional field to
    None; bools take true/false/1/0/yes/no.
    """
    hints = _field_types()
    changes: dict[str, Any] = {}
    for override in overrides:
        key, sep, text = override.partition("=")
        key = key.strip()
        if not sep:
            raise SpecError(f"override {override!r} is not of the form key=value")
        _check_keys([key])
        text = text.strip()
        if "unit" in _FIELDS[key].metadata and text.lower() not in ("none", "null"):
            changes[key] = text  # parsed with its unit by SweepSpec itself
        else:
            changes[key] = _parse(text, hints[key], key)
    return dataclasses.replace(spec, **changes)


def load_experiment(path: str | os.PathLike) -> SweepSpec:
    """The spec of an experiment file: a Python file whose ``get_config()`` returns a
    ``SweepSpec`` (or a dict of its fields). The file's folder is importable while it loads, so
    a variant can ``from lecture import get_config`` and change a field or two."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"no experiment file at {path}")
    module_name = "cs109nn_experiment_" + re.sub(r"\W", "_", path.stem)
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise SpecError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        module_spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent.resolve()))
    get_config = getattr(module, "get_config", None)
    if not callable(get_config):
        raise SpecError(f"{path} defines no get_config()")
    config = get_config()
    if isinstance(config, Mapping):
        config = from_config(config)
    if not isinstance(config, SweepSpec):
        raise SpecError(f"{path}: get_config() returned {type(config).__name__}, not a SweepSpec")
    return config


_MISSING = object()


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(SweepSpec)


_FIELDS = {field.name: field for field in dataclasses.fields(SweepSpec)}


def _with_unit(value: Any, parse: Any, key: str) -> Any:
    """A value with a unit (``memory_budget="2GiB"``) as the field's plain number."""
    try:
        return parse(value)
    except ConfigError as error:
        raise SpecError(f"{key}: {error}") from None


def _check_keys(keys: Iterable[str]) -> None:
    valid = [field.name for field in dataclasses.fields(SweepSpec)]
    for key in keys:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Distribution):
        return str(value)  # its canonical form: equal distributions hash alike
    return list(value) if isinstance(value, tuple) else value


def _grid_inner(tp: Any) -> Any | None:
    """``T`` for ``T | Distribution`` (a hyperparameter field, ``Axis``), else None."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = typing.get_args(tp)
        if Distribution in args and len(args) == 2:
            return next(arg for arg in args if arg is not Distribution)
    return None


def _optional_inner(tp: Any) -> Any | None:
    """``T`` for ``T | None``, else None."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return None


def _parse(text: str, tp: Any, key: str) -> Any:
    """A command-line string as a value of type ``tp``."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if text.lower() in ("none", "null") else _parse(text, inner, key)
    grid = _grid_inner(tp)
    if grid is not None:  # a distribution stays text, parsed by SweepSpec itself (``_coerce``)
        return text if looks_like_distribution(text) else _parse(text, grid, key)
    if typing.get_origin(tp) is tuple:
        (element, _ellipsis) = typing.get_args(tp)
        items = [item.strip() for item in text.split(",")] if text else []
        return tuple(_parse(item, element, key) for item in items)
    if tp is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise SpecError(f"{key}: expected true or false, got {text!r}")
    if tp is str:
        return text
    try:
        return tp(text)
    except ValueError:
        raise SpecError(f"{key}: expected {_type_name(tp)}, got {text!r}") from None


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` checked against ``tp``: lists become tuples, ints become floats where floats
    are wanted (so ``1`` and ``1.0`` hash alike), a string in a hyperparameter field becomes a
    distribution; anything else of the wrong type is an error."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None else _coerce(value, inner, key)
    grid = _grid_inner(tp)
    if grid is not None:
        if not isinstance(value, (str, Distribution)):
            return _coerce(value, grid, key)
        try:
            return parse_distribution(value)
        except ConfigError as error:
            raise SpecError(f"{key}: {error}") from None
    if typing.get_origin(tp) is tuple:
        (element, _ellipsis) = typing.get_args(tp)
        if isinstance(value, str) or not isinstance(value, (tuple, list)):
            raise SpecError(f"{key}: expected a tuple of {_type_name(element)}, got {value!r}")
        return tuple(_coerce(item, element, key) for item in value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)
        if math.isnan(value):
            raise SpecError(f"{key}: NaN is not a hyperparameter value")
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if tp in (str, bool) and isinstance(value, tp):
        return value
    raise SpecError(f"{key}: expected {_type_name(tp)}, got {value!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))
