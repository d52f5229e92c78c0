"""What a finished group leaves in the run folder: its curves, its params, its boundary grids,
its predictions, its rows.

The curves (and params, boundary grids, predictions) are written first, then the manifest
records the sha256 of each file and of the group's rows, then the rows: results.csv rewritten
whole, in plan order, in one atomic write. A crash before that last write leaves the group
unfinished, and its rerun rewrites the same curves (the same bits, the same digests); a resumed
run trusts a group only when its rows and files match what was recorded (``lifecycle``).
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from cs109nn import run_folder_schema as schema
from cs109nn.data import Dataset
from cs109nn.hyperparameters import member_hyperparameters
from cs109nn.models import Model, parameter_count
from cs109nn.models.masked import live_parameter_count
from cs109nn.run_folder_schema.files import boundaries_path, predictions_path
from cs109nn.sweep import run_folder
from cs109nn.sweep.boundaries import boundary_arrays
from cs109nn.sweep.lifecycle import Rows
from cs109nn.sweep.plan import Group, Plan
from cs109nn.sweep.predictions import prediction_arrays
from cs109nn.sweep.search import SearchOutcome
from cs109nn.train import TrainResult


def write_group(
    run_dir: Path,
    plan: Plan,
    group: Group,
    outcome: SearchOutcome,
    columns: tuple[str, ...],
    rows: Rows,
    manifest: dict,
    *,
    wall_seconds: float,
    save_params: bool,
    boundary_grid: int = 0,
    save_predictions: bool = False,
    model: Model | None = None,
    data: Dataset | None = None,
) -> None:
    """Record ``group``'s ``result``: curves, params when ``save_params``, boundary grids of
    ``model`` on ``data`` when ``boundary_grid`` > 0 (``cs109nn.sweep.boundaries``), test
    predictions when ``save_predictions`` (``cs109nn.sweep.predictions``), their digests and
    the rows' in ``manifest`` (written), then its rows (added to ``rows``, and results.csv
    rewritten from them). ``outcome``: the group's search (``cs109nn.sweep.search``); a halving
    or PBT group also writes ``search/<group_id>.npz``."""
    result = outcome.result
    members = member_arrays(plan, group, result)
    architecture = None
    if group.setup is not None and group.setup.architectures:
        architecture = (members["width"], members["depth"])
    schema.write_curves(run_dir, group.group_id, result.eval_steps, result.history, members)
    record = {"curves_sha256": schema.file_digest(schema.curves_path(run_dir, group.group_id))}
    if result.memory_estimate_bytes is not None:  # per device: the plan beside the program
        record["memory"] = {
            "estimate_bytes": result.memory_estimate_bytes,
            "peak_bytes": result.memory_peak_bytes,
            "budget_bytes": result.memory_budget_bytes,
        }
    if outcome.arrays is not None:
        path = schema.search_path(run_dir, group.group_id)
        schema.write_arrays(path, outcome.arrays)
        record["search_sha256"] = schema.file_digest(path)
    if save_params:
        path = schema.params_path(run_dir, group.group_id)
        schema.write_arrays(path, run_folder.flatten_params(result.params))
        record["params_sha256"] = schema.file_digest(path)
    if boundary_grid:
        if model is None or data is None:
            raise ValueError("boundary_grid needs the group's model and data")
        path = boundaries_path(run_dir, group.group_id)
        grids = boundary_arrays(model, result.params, data, boundary_grid, architecture)
        schema.write_arrays(path, grids)
        record["boundaries_sha256"] = schema.file_digest(path)
    if save_predictions:
        if model is None or data is None:
            raise ValueError("save_predictions needs the group's model and data")
        path = predictions_path(run_dir, group.group_id)
        schema.write_arrays(path, prediction_arrays(model, result.params, data, architecture))
        record["predictions_sha256"] = schema.file_digest(path)
    count = len(plan.members_of(group))
    per_member = {
        "member": np.arange(count),
        **members,
        "num_params": member_parameter_counts(model, result.params, data, architecture),
        **{f"final_{name}": value for name, value in result.final.items()},
        "steps_trained": outcome.steps_trained,
        "selected": np.arange(count) == outcome.selected,
    }
    per_group = {
        "group": group.group_id,
        "dataset": group.dataset,
        "model": group.model,
        "optimizer": group.optimizer,
        "schedule": group.schedule,
        "search": group.search,
        "steps": group.steps,
        "batch_size": schema.batch_size_cell(group.batch_size),
        "group_wall_s": round(wall_seconds, 3),
        "group_compile_s": round(float(result.compile_seconds), 3),
    }
    rows[group.group_id] = [
        [
            schema.format_value(per_member[c][m] if c in per_member else per_group.get(c))
            for c in columns
        ]
        for m in range(count)
    ]
    record["rows_sha256"] = schema.rows_digest(rows[group.group_id])
    manifest.setdefault("groups", {})[group.group_id] = record
    schema.write_manifest(run_dir, manifest)
    ordered = [row for g in plan.groups for row in rows.get(g.group_id, [])]
    schema.write_results(run_dir, columns, ordered)


def member_arrays(plan: Plan, group: Group, result: TrainResult) -> dict[str, np.ndarray]:
    """Each member's seed, hyperparameters (as requested: the swept value or the default,
    float64; a PBT member's at its start) and divergence, [M] each: the columns the curves
    file and results.csv share."""
    members = plan.members_of(group)
    hparams = member_hyperparameters(members.hparams, len(members))
    return {
        "seed": members.seeds,
        **hparams._asdict(),
        "diverged": result.diverged,
        "diverged_step": result.diverged_step,
    }


def member_parameter_counts(
    model, params, data: Dataset | None, architecture: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    """[M] parameters of each member's own model: the live ones of its width and depth in an
    ``architecture`` group (``live_parameter_count``), else every parameter of its pytree."""
    leaves = jax.tree.leaves(params)
    num_members = int(np.shape(leaves[0])[0]) if leaves else 0
    if architecture is None or model is None or data is None:
        # the stacked pytree holds every member's parameters: each has a 1/M share
        total = parameter_count(params) // max(num_members, 1)
        return np.full(num_members, total, dtype=np.int64)
    features = int(np.prod(np.shape(data.x_train)[1:]))
    outputs = 1 if model.output == "binary" else model.num_classes
    return np.array(
        [
            live_parameter_count(model.hidden, features, outputs, float(w), float(d))
            for w, d in zip(*architecture, strict=True)
        ],
        dtype=np.int64,
    )
