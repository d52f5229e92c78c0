"""The plan of a sweep: groups and the members every group trains; what compiles once.

Groups are the product of the static axes in the spec's order (data sets, then models,
optimizers, schedules, steps, batch sizes, searches) -- except that a model fitted in closed
form (Naive Bayes) has no optimizer, schedule, steps, batches or search, so it is one group per
data set; members
are the product of the swept hyperparameters' grids (in ``HYPERPARAMETER_FIELDS`` order), the
``samples`` draws of the fields that hold a distribution (``cs109nn.sweep.distributions``) and
the seeds, seeds varying fastest, then samples. Both orders are fixed by the spec alone (the
draws by its ``search_seed``), so a group id and a member index name the same training in every
run of it.

What compiles once is defined here and nowhere else: :func:`program_key` -- a group's model,
its :class:`~cs109nn.train.TrainSetup` and its data's shapes. Groups with equal keys (the same
model on data sets of the same shapes) share one compiled program.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from cs109nn.data import Dataset
from cs109nn.errors import ConfigError
from cs109nn.models import is_fitted_spec
from cs109nn.sweep.distributions import Distribution, draw_samples, grid_samples
from cs109nn.sweep.spec import HYPERPARAMETER_FIELDS, SpecError, SweepSpec
from cs109nn.train import TrainSetup


@dataclass(frozen=True)
class Group:
    """One point of the static product: an architecture x data x optimizer x schedule x steps x
    batch.

    ``group_id`` is ``<index>-<dataset>-<model>-<optimizer>[-<schedule>]-s<steps>-<b<batch>|full>
    [-<search>]`` (the schedule only when it is not constant, the search only when it is not
    none, so that ids without them stay as they were;
    a fitted model's: ``<index>-<dataset>-<model>-fitted``), the index zero-padded so that ids
    sort in plan order; it is safe as a file name. ``setup``: the engine's static set-up of the
    group (optimizer, schedule, steps, batch size, and the spec's eval_every and dp), None for a
    fitted model (whose optimizer and schedule read ``FITTED``, steps 0, batch full);
    ``batch_size`` None is full batch.
    """

    index: int
    group_id: str
    dataset: str
    model: str
    setup: TrainSetup | None
    search: str = "none"  # how the group's members are searched (``SEARCHES``)

    @property
    def fitted(self) -> bool:
        return self.setup is None

    @property
    def optimizer(self) -> str:
        return FITTED if self.setup is None else self.setup.optimizer

    @property
    def schedule(self) -> str:
        return FITTED if self.setup is None else self.setup.schedule

    @property
    def steps(self) -> int:
        return 0 if self.setup is None else self.setup.steps

    @property
    def batch_size(self) -> int | None:
        return None if self.setup is None else self.setup.batch_size


# The optimizer column of a group fitted in closed form: no gradient steps were taken.
FITTED = "fitted"


@dataclass(frozen=True)
class Members:
    """The members every group trains. seeds: [M]; hparams: swept name -> values [M]."""

    seeds: np.ndarray
    hparams: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class Plan:
    """groups; members: the members every group trains, but a ``grid`` search's
    (``grid_members``: the same count, the distributions' space as a grid instead of draws);
    :meth:`members_of` gives a group's."""

    groups: tuple[Group, ...]
    members: Members
    grid_members: Members | None = None

    def members_of(self, group: Group) -> Members:
        """The members ``group`` trains."""
        if group.search == "grid":
            assert self.grid_members is not None  # the spec requires distributions for it
            return self.grid_members
        return self.members

    @property
    def num_models(self) -> int:
        """Trained models in the whole sweep: groups x members."""
        return len(self.groups) * len(self.members)


def make_plan(spec: SweepSpec) -> Plan:
    """The groups and members of ``spec``, in their fixed order."""
    training = list(
        itertools.product(
            spec.optimizers, spec.schedules, spec.steps, spec.batch_sizes, spec.searches
        )
    )
    points = [
        (dataset, model, point)
        for dataset, model in itertools.product(spec.datasets, spec.models)
        for point in ([None] if is_fitted_spec(model) else training)
    ]
    width = max(3, len(str(len(points) - 1)))
    groups = tuple(
        Group(
            index=index,
            group_id=_group_id(index, width, dataset, model, point),
            dataset=dataset,
            model=model,
            setup=None if point is None else _setup(spec, *point[:4]),
            search="none" if point is None else point[4],
        )
        for index, (dataset, model, point) in enumerate(points)
    )
    grid = _members(spec, grid=True) if "grid" in spec.searches else None
    return Plan(groups=groups, members=_members(spec), grid_members=grid)


def program_key(group: Group, data: Dataset) -> tuple:
    """What one compiled program depends on: the group's model (with the data's number of
    classes), its static set-up, and each data array's shape and dtype."""
    arrays = (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    shapes = tuple(None if a is None else (a.shape, str(a.dtype)) for a in arrays)
    return (group.model, data.num_classes, group.setup, shapes)


def _setup(
    spec: SweepSpec, optimizer: str, schedule: str, steps: int, batch_size: int | None
) -> TrainSetup:
    try:
        return TrainSetup(
            steps=steps,
            optimizer=optimizer,
            schedule=schedule,
            batch_size=batch_size,
            eval_every=spec.eval_every,
            dp=spec.dp,
            architectures=bool(spec.width or spec.depth),
        )
    except ValueError as error:  # checked now: before a run folder or a compile exists
        raise SpecError(str(error)) from None


def _members(spec: SweepSpec, *, grid: bool = False) -> Members:
    """The members: grid fields x draws (or, ``grid``, the distributions' grid) x seeds."""
    fields = {name: getattr(spec, name) for name in HYPERPARAMETER_FIELDS}
    distributions = {name: v for name, v in fields.items() if isinstance(v, Distribution)}
    swept = [name for name, v in fields.items() if v and name not in distributions]
    try:  # on the host, in float64: the same draws on any number of devices
        if grid:
            drawn = grid_samples(distributions, spec.samples)
        else:
            drawn = draw_samples(distributions, spec.samples, spec.search_seed)
    except ConfigError as error:
        raise SpecError(str(error)) from None
    # a hyperparameter point: a grid point and one joint draw (every grid point trains the same
    # draws); samples vary faster than the grid
    points = [
        {**dict(zip(swept, values, strict=True)), **{name: d[k] for name, d in drawn.items()}}
        for values in itertools.product(*(fields[name] for name in swept))
        for k in range(max(spec.samples, 1))
    ]
    # seeds vary fastest: the seeds of one hyperparameter point are neighbours
    seeds = np.array([seed for _ in points for seed in spec.seeds], dtype=np.int64)
    hparams = {
        name: np.array([point[name] for point in points for _ in spec.seeds], dtype=np.float64)
        for name in HYPERPARAMETER_FIELDS
        if name in swept or name in drawn
    }
    return Members(seeds=seeds, hparams=hparams)


def _group_id(index, width, dataset, model, point) -> str:
    if point is None:
        parts = [dataset, model, FITTED]
    else:
        optimizer, schedule, steps, batch_size, search = point
        batch = "full" if batch_size is None else f"b{batch_size}"
        kind = [] if schedule == "constant" else [schedule]  # ids of constant runs unchanged
        searched = [] if search == "none" else [search]  # and of groups without a search
        parts = [dataset, model, optimizer, *kind, f"s{steps}", batch, *searched]
    return f"{index:0{width}d}-" + "-".join(re.sub(r"[^A-Za-z0-9.-]+", "_", p) for p in parts)
