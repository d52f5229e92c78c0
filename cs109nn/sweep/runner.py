"""Run a sweep into a run folder: plan, train group by group, write, resume after a crash.

Resume rests on two facts. (1) A group's rows reach results.csv in one atomic write, so the
folder always holds whole groups. (2) The same compiled program on the same machine gives the
same bits, and a rerun group trains the same members with the same keys. Rerunning the same
config therefore trains the groups missing from results.csv and ends with the file an
uninterrupted run writes, bit for bit -- except the timing columns (``TIMING_COLUMNS``),
which measure this session's clock.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cs109nn.atomic_files import remove_temporary_files
from cs109nn.data import Dataset, load_dataset
from cs109nn.models import model_from_spec
from cs109nn.sweep import run_folder
from cs109nn.sweep.distributed import broadcast_from_writer, is_writer
from cs109nn.sweep.plan import Group, Plan, make_plan
from cs109nn.sweep.spec import SweepSpec, changed_keys, config_hash, to_config
from cs109nn.train import (
    DEFAULT_HPARAMS,
    HPARAM_NAMES,
    Trainer,
    TrainResult,
    make_train,
    member_keys,
)


class RunFolderError(RuntimeError):
    """The output folder cannot take this sweep; the message says why and what to do."""


class ConfigChangedError(RunFolderError):
    """The folder holds a run of another config; ``changed`` names the keys that differ."""

    def __init__(self, run_dir: Path, changed: list[str]):
        self.changed = changed
        super().__init__(
            f"{run_dir} holds a run of a different config (changed: {', '.join(changed)}); "
            "it will not be resumed. Start it over with fresh=True (--fresh), or write to "
            "another folder."
        )


@dataclass(frozen=True)
class SweepEvent:
    """What the runner tells a progress callback.

    kind: ``planned`` (once, before training; ``done`` lists the groups finished by earlier
    sessions), ``group_started``, ``group_finished`` (with the group's timings and number of
    diverged members), ``finished``.
    """

    kind: Literal["planned", "group_started", "group_finished", "finished"]
    plan: Plan
    run_dir: Path
    group: Group | None = None
    done: tuple[str, ...] = ()
    wall_seconds: float | None = None
    compile_seconds: float | None = None
    diverged: int | None = None


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
    """
    run_dir = Path(out_dir)
    notify = progress or (lambda event: None)
    plan = make_plan(spec)
    datasets = {name: _load(spec, name) for name in spec.datasets}
    # build every model before training: a bad spec fails now, not after hours of other groups
    models = {
        (group.dataset, group.model): model_from_spec(
            group.model, num_classes=datasets[group.dataset].num_classes
        )
        for group in plan.groups
    }
    with_test = any(data.x_test is not None for data in datasets.values())
    columns = run_folder.results_columns(HPARAM_NAMES, with_test=with_test)

    writer = is_writer()
    rows: dict[str, list[list[str]]] = {}
    manifest: dict = {}
    if writer:
        try:
            manifest, rows = _open_run_folder(run_dir, spec, plan, columns, fresh=fresh)
        except Exception:
            _share_done(plan, rows, failed=True)  # so that the other processes stop too
            raise
    done = _share_done(plan, rows, failed=False)

    notify(SweepEvent("planned", plan, run_dir, done=done))
    keys = member_keys([int(seed) for seed in plan.members.seeds])
    session_groups: list[str] = []
    trainers: dict[tuple, Trainer] = {}
    for group in plan.groups:
        if group.group_id in done:
            continue
        notify(SweepEvent("group_started", plan, run_dir, group=group))
        start = time.perf_counter()
        data = datasets[group.dataset]
        # One compiled program per static group: data sets of the same shapes share it.
        static = (
            group.model,
            data.num_classes,
            group.optimizer,
            group.steps,
            group.batch_size,
            _shapes(data),
        )
        if static not in trainers:
            trainers[static] = make_train(
                models[(group.dataset, group.model)],
                data,
                optimizer=group.optimizer,
                steps=group.steps,
                batch_size=group.batch_size or None,
                eval_every=spec.eval_every,
                dp=spec.dp,
            )
        result = trainers[static](keys, plan.members.hparams, data)
        wall = time.perf_counter() - start
        if writer:
            _write_group(run_dir, spec, plan, group, result, columns, rows, wall)
        session_groups.append(group.group_id)
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
    if writer:
        session = manifest["sessions"][-1]
        session["finished"] = run_folder.now()
        session["groups_run"] = session_groups
        manifest["finished"] = session["finished"]
        run_folder.write_manifest(run_dir, manifest)
    notify(SweepEvent("finished", plan, run_dir))
    return run_dir


def _shapes(data: Dataset) -> tuple:
    """What a compiled program depends on in a data set: each array's shape and dtype."""
    arrays = (data.x_train, data.y_train, data.x_test, data.y_test)
    return tuple(None if a is None else (a.shape, str(a.dtype)) for a in arrays)


def _load(spec: SweepSpec, name: str) -> Dataset:
    return load_dataset(name, data_dir=spec.data_dir, seed=spec.data_seed, n=spec.n_examples)


def _share_done(plan: Plan, rows: dict[str, list[list[str]]], *, failed: bool) -> tuple[str, ...]:
    """The groups finished in the folder as process 0 found them, on every process; a process
    other than 0 raises when process 0 failed to open the folder."""
    flags = np.array([failed] + [group.group_id in rows for group in plan.groups], np.int32)
    flags = broadcast_from_writer(flags)
    if flags[0] and not is_writer():
        raise RunFolderError("process 0 could not open the run folder; see its error")
    return tuple(group.group_id for group, done in zip(plan.groups, flags[1:], strict=True) if done)


def _open_run_folder(
    run_dir: Path, spec: SweepSpec, plan: Plan, columns: tuple[str, ...], *, fresh: bool
) -> tuple[dict, dict[str, list[list[str]]]]:
    """Start or resume the run in ``run_dir``: the manifest with a new session, and the rows
    already there, by group."""
    config, digest = to_config(spec), config_hash(spec)
    manifest = run_folder.read_manifest(run_dir) if run_dir.exists() else None
    if manifest is None and run_dir.exists():
        temporary = set(run_dir.glob(".*.tmp"))  # what a killed first write can leave
        leftovers = [path for path in run_dir.iterdir() if path not in temporary]
        if leftovers:
            raise RunFolderError(
                f"{run_dir} is not empty and holds no {run_folder.MANIFEST}: not a run folder; "
                "choose another folder"
            )
    if manifest is not None and manifest.get("config_hash") != digest and not fresh:
        raise ConfigChangedError(run_dir, changed_keys(manifest.get("config", {}), config))
    if fresh and manifest is not None:
        _delete_run(run_dir)
        manifest = None
    run_dir.mkdir(parents=True, exist_ok=True)
    for folder in (run_dir, run_dir / run_folder.CURVES, run_dir / run_folder.PARAMS):
        if folder.is_dir():
            remove_temporary_files(folder)

    rows = _rows_by_group(run_dir, plan, columns) if manifest is not None else {}
    started, env = run_folder.now(), run_folder.environment()
    if manifest is None:
        manifest = {
            "format": run_folder.MANIFEST_FORMAT,
            "experiment": spec.name,
            "config": config,
            "config_hash": digest,
            "plan": {
                "groups": [group.group_id for group in plan.groups],
                "members_per_group": len(plan.members),
                "models": plan.num_models,
            },
            "results_columns": list(columns),
            "environment": env,
            "started": started,
            "finished": None,
            "sessions": [],
        }
    manifest["sessions"].append({"started": started, "finished": None, "environment": env})
    run_folder.write_manifest(run_dir, manifest)
    return manifest, rows


def _rows_by_group(
    run_dir: Path, plan: Plan, columns: tuple[str, ...]
) -> dict[str, list[list[str]]]:
    """results.csv's rows by group, checked whole: the right header, known groups, and each
    group's members 0..M-1 once."""
    header, rows = run_folder.read_results(run_dir)
    if not rows:
        return {}
    if header != columns:
        raise RunFolderError(
            f"{run_dir / run_folder.RESULTS} has columns {list(header)}, expected {list(columns)}"
        )
    by_group: dict[str, list[list[str]]] = {}
    for row in rows:
        by_group.setdefault(row[0], []).append(row)
    known = {group.group_id for group in plan.groups}
    member_column = columns.index("member")
    expected = [str(m) for m in range(len(plan.members))]
    for group_id, group_rows in by_group.items():
        members = [row[member_column] for row in group_rows]
        if group_id not in known or members != expected:
            raise RunFolderError(
                f"{run_dir / run_folder.RESULTS}: group {group_id!r} is not a whole group of "
                "this plan; the file was edited by hand? Start over with fresh=True (--fresh)."
            )
    return by_group


def _write_group(
    run_dir: Path,
    spec: SweepSpec,
    plan: Plan,
    group: Group,
    result: TrainResult,
    columns: tuple[str, ...],
    rows: dict[str, list[list[str]]],
    wall: float,
) -> None:
    """Curves (and params), then the group's rows: results.csv rewritten whole, in plan order.
    A crash before the last write leaves the group unfinished; its rerun rewrites the same
    curves."""
    members = plan.members
    hparams = _hyperparameter_columns(plan)
    run_folder.write_arrays(
        run_folder.curves_path(run_dir, group.group_id),
        {
            "eval_steps": result.eval_steps,
            "member": np.arange(len(members)),
            "seed": members.seeds,
            **hparams,
            **result.history,
            "diverged": result.diverged,
            "diverged_step": result.diverged_step,
        },
    )
    if spec.save_params:
        run_folder.write_arrays(
            run_folder.params_path(run_dir, group.group_id),
            run_folder.flatten_params(result.params),
        )
    values = {
        "group": group.group_id,
        "dataset": group.dataset,
        "model": group.model,
        "optimizer": group.optimizer,
        "steps": group.steps,
        "batch_size": group.batch_size,
        "group_wall_s": round(wall, 3),
        "group_compile_s": round(float(result.compile_seconds), 3),
    }
    per_member = {
        "member": np.arange(len(members)),
        "seed": members.seeds,
        **hparams,
        **{f"final_{name}": value for name, value in result.final.items()},
        "diverged": result.diverged,
        "diverged_step": result.diverged_step,
    }
    rows[group.group_id] = [
        [
            run_folder.format_value(
                per_member[column][m] if column in per_member else values.get(column)
            )
            for column in columns
        ]
        for m in range(len(members))
    ]
    ordered = [row for g in plan.groups for row in rows.get(g.group_id, [])]
    run_folder.write_results(run_dir, columns, ordered)


def _hyperparameter_columns(plan: Plan) -> dict[str, np.ndarray]:
    """Every engine hyperparameter per member [M]: the swept value or the engine default."""
    size = len(plan.members)
    return {
        name: plan.members.hparams.get(name, np.full(size, float(DEFAULT_HPARAMS[name])))
        for name in HPARAM_NAMES
    }


def _delete_run(run_dir: Path) -> None:
    """The files a run (and its report) put in ``run_dir``; nothing else."""
    for name in (run_folder.MANIFEST, run_folder.RESULTS, "report.md"):
        (run_dir / name).unlink(missing_ok=True)
    for name in (run_folder.CURVES, run_folder.PARAMS, "figures"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
