"""Run a sweep into a run folder: plan, train group by group, write, resume after a crash.

Resume rests on two facts. (1) A group's rows reach results.csv in one atomic write, so the
folder always holds whole groups. (2) The same compiled program on the same machine gives the
same bits, and a rerun group trains the same members with the same keys. Rerunning the same
config therefore trains the groups missing from results.csv and ends with the file an
uninterrupted run writes, bit for bit -- except the timing columns (``TIMING_COLUMNS``),
which measure this session's clock.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jax
import numpy as np

from cs109nn import run_folder_schema as schema
from cs109nn.data import Dataset, check_dataset, load_dataset
from cs109nn.errors import ConfigError
from cs109nn.lecture.inputs import DataError
from cs109nn.models import model_from_spec
from cs109nn.models.masked import check_architecture
from cs109nn.sweep.boundaries import check_boundary_data
from cs109nn.sweep.distributed import is_writer, share_done_groups
from cs109nn.sweep.folder_lock import locked_run_folder
from cs109nn.sweep.group_record import write_group
from cs109nn.sweep.lifecycle import Rows, RunFolderError, close_session, open_run_folder
from cs109nn.sweep.plan import Group, Plan, make_plan, program_key
from cs109nn.sweep.predictions import check_prediction_data
from cs109nn.sweep.search import run_search
from cs109nn.sweep.spec import SpecError, SweepSpec
from cs109nn.train import FitRunner, Runner, make_runner
from cs109nn.train.checkpoints import CheckpointPolicy
from cs109nn.train.fitted import check_binary_features


@dataclass(frozen=True)
class SweepEvent:
    """What the runner tells a progress callback.

    kind: ``planned`` (once, before training; ``done`` lists the groups finished by earlier
    sessions), ``note`` (a line to show: a damaged group found and to be trained again, a lock
    taken over), ``group_started``, ``group_finished`` (with the group's timings and number of
    diverged members), ``finished``.
    """

    kind: Literal["planned", "note", "group_started", "group_finished", "finished"]
    plan: Plan
    run_dir: Path
    group: Group | None = None
    done: tuple[str, ...] = ()
    wall_seconds: float | None = None
    compile_seconds: float | None = None
    diverged: int | None = None
    message: str | None = None


Progress = Callable[[SweepEvent], None]


def run_sweep(
    spec: SweepSpec,
    out_dir: str | os.PathLike,
    *,
    fresh: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Train every group of ``spec`` not yet in ``out_dir`` and record it there.

    A new or empty folder starts a run; a folder holding a run of the same config resumes it;
    one holding another config raises :class:`ConfigChangedError` unless ``fresh``, which
    deletes the run's files (not anything else in the folder) and starts over. In a
    multi-process run every process calls this with the same arguments; process 0 alone reads
    and writes the folder. Returns the run folder.

    The loop: plan; load every data set and build every model (a bad spec fails before the
    folder is touched); open the folder; then for each unfinished group, train its members in
    one program (shared by groups with the same ``program_key``) and record them.
    """
    run_dir = Path(out_dir)
    notify = progress or (lambda event: None)
    plan = make_plan(spec)
    datasets = {name: _load(spec, name) for name in spec.datasets}
    models = {
        (group.dataset, group.model): model_from_spec(
            group.model, num_classes=datasets[group.dataset].num_classes
        )
        for group in plan.groups
    }
    for group in plan.groups:  # data fit their model's head; shapes fit its layers
        model = models[(group.dataset, group.model)]
        check_dataset(datasets[group.dataset], num_classes=model.num_classes)
        if group.fitted:
            if model.binary_features:
                check_binary_features(datasets[group.dataset])
        else:
            _check_builds(model, datasets[group.dataset], group.model)
            if group.setup.architectures:  # every member's width and depth fit the model
                grid = [np.asarray(getattr(spec, axis) or [np.inf]) for axis in ("width", "depth")]
                try:
                    check_architecture(model, *grid)
                except ConfigError as error:
                    raise SpecError(str(error)) from None
        if spec.boundary_grid:
            try:
                check_boundary_data(datasets[group.dataset], model.num_classes)
            except ConfigError as error:
                raise SpecError(str(error)) from None
        if spec.save_predictions:
            check_prediction_data(datasets[group.dataset])
    # every program's runner, made now: each group's memory plan is checked before the folder
    runners: dict[tuple, Runner | FitRunner] = {}
    for group in plan.groups:
        data = datasets[group.dataset]
        key = program_key(group, data)
        if key not in runners:
            model = models[(group.dataset, group.model)]
            runners[key] = (
                FitRunner(model, data)
                if group.fitted
                else make_runner(model, data, group.setup, memory_budget=spec.memory_budget)
            )
            if not group.fitted:  # a MemoryBudgetError names what is needed and available
                runners[key].plan_memory(len(plan.members))
    with_test = any(data.x_test is not None for data in datasets.values())
    with_val = any(data.x_val is not None for data in datasets.values())
    columns = schema.results_columns(with_test=with_test, with_val=with_val)

    notes: list[str] = []
    with locked_run_folder(run_dir, notes.append) if is_writer() else contextlib.nullcontext():
        return _train_groups(
            spec, run_dir, plan, datasets, runners, models, columns, notes, fresh=fresh,
            notify=notify,
        )  # fmt: skip


def _train_groups(
    spec: SweepSpec,
    run_dir: Path,
    plan: Plan,
    datasets: dict[str, Dataset],
    runners: dict[tuple, Runner | FitRunner],
    models: dict,
    columns: tuple[str, ...],
    notes: list[str],
    *,
    fresh: bool,
    notify: Progress,
) -> Path:
    """Open the (locked) folder, then train and record every group not yet finished."""
    sizes = {name: data_sizes(data) for name, data in datasets.items()}
    manifest, rows, damaged, done = _open(run_dir, spec, plan, columns, sizes, fresh=fresh)
    notify(SweepEvent("planned", plan, run_dir, done=done))
    notes += [
        f"damaged group {group_id}: {why}; training it again" for group_id, why in damaged.items()
    ]
    for note in notes:
        notify(SweepEvent("note", plan, run_dir, message=note))
    groups_run: list[str] = []
    for group in plan.groups:
        if group.group_id in done:
            continue
        notify(SweepEvent("group_started", plan, run_dir, group=group))
        start = time.perf_counter()
        data = datasets[group.dataset]
        key = program_key(group, data)
        policy = None if group.fitted else checkpoint_policy(spec, run_dir, group)
        outcome = run_search(spec, group, runners[key], plan.members_of(group), data, policy)
        result = outcome.result
        if result.resumed_intervals:
            message = (
                f"group {group.group_id}: continued from its checkpoint after "
                f"{result.resumed_intervals} of {group.setup.num_evaluations} evaluations"
            )
            notify(SweepEvent("note", plan, run_dir, message=message))
        if outcome.resumed_rungs:
            message = (
                f"group {group.group_id}: continued from its checkpoint after "
                f"{outcome.resumed_rungs} of {spec.halving_rungs} rungs"
            )
            notify(SweepEvent("note", plan, run_dir, message=message))
        wall = time.perf_counter() - start
        if is_writer():
            write_group(
                run_dir,
                plan,
                group,
                outcome,
                columns,
                rows,
                manifest,
                wall_seconds=wall,
                save_params=spec.save_params,
                boundary_grid=spec.boundary_grid,
                save_predictions=spec.save_predictions,
                model=models[(group.dataset, group.model)],
                data=data,
            )
        groups_run.append(group.group_id)
        notify(
            SweepEvent(
                "group_finished",
                plan,
                run_dir,
                group=group,
                wall_seconds=wall,
                compile_seconds=float(result.compile_seconds),
                diverged=int(np.sum(result.diverged)),
            )
        )
    if is_writer():
        close_session(run_dir, manifest, groups_run)
    notify(SweepEvent("finished", plan, run_dir))
    return run_dir


def checkpoint_policy(spec: SweepSpec, run_dir: Path, group: Group) -> CheckpointPolicy | None:
    """The group's checkpoints as the spec asks (None: one program, no checkpoints), under
    ``checkpoints/<group_id>/`` of the run folder."""
    if spec.checkpoint_seconds is None:
        return None
    return CheckpointPolicy(
        schema.checkpoints_path(run_dir, group.group_id),
        every=spec.checkpoint_every,
        seconds=spec.checkpoint_seconds,
    )


def data_sizes(data: Dataset) -> dict[str, int]:
    """What the report needs to say of a data set: examples per split (0 when absent), K."""
    size = lambda y: 0 if y is None else int(len(y))  # noqa: E731
    return {
        "n_train": size(data.y_train),
        "n_val": size(data.y_val),
        "n_test": size(data.y_test),
        "num_classes": int(data.num_classes),
    }


def _open(
    run_dir: Path,
    spec: SweepSpec,
    plan: Plan,
    columns: tuple[str, ...],
    sizes: dict,
    *,
    fresh: bool,
) -> tuple[dict, Rows, dict[str, str], tuple[str, ...]]:
    """Process 0 opens the folder; every process learns which groups are already done."""
    manifest: dict = {}
    rows: Rows = {}
    damaged: dict[str, str] = {}
    group_ids = [group.group_id for group in plan.groups]
    if is_writer():
        try:
            manifest, rows, damaged = open_run_folder(
                run_dir, spec, plan, columns, sizes, fresh=fresh
            )
        except Exception:
            # the same broadcast as below, flagged: so that the other processes stop too
            share_done_groups(group_ids, set(), failed=True)
            raise
    try:
        done = share_done_groups(group_ids, set(rows), failed=False)
    except RuntimeError as error:
        raise RunFolderError(str(error)) from None
    return manifest, rows, damaged, done


def _check_builds(model, data: Dataset, spec: str) -> None:
    """Trace the model's init and apply on the data's shapes (no FLOPs): a spec that parses but
    cannot run on these inputs fails now, before a folder or a compile exists."""
    example = jax.ShapeDtypeStruct((1, *np.shape(data.x_train)[1:]), np.float32)
    try:
        params = jax.eval_shape(model.init, jax.random.key(0), example)
        jax.eval_shape(model.apply, params, example)
    except (ConfigError, DataError):
        raise
    except Exception as error:  # a layer that cannot take these shapes
        raise ConfigError(
            f"model {spec!r} cannot run on data of feature shape {example.shape[1:]}: {error}"
        ) from None


def _load(spec: SweepSpec, name: str) -> Dataset:
    return load_dataset(
        name,
        data_dir=spec.data_dir,
        seed=spec.data_seed,
        n=spec.n_examples,
        val_fraction=spec.val_fraction,
    )
