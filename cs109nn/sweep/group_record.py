"""What a finished group leaves in the run folder: its curves, its params, its rows.

The curves (and params) are written first, then the group's rows: results.csv rewritten whole,
in plan order, in one atomic write. A crash before that last write leaves the group
unfinished, and its rerun rewrites the same curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cs109nn import run_folder_schema as schema
from cs109nn.hyperparameters import member_hyperparameters
from cs109nn.sweep import run_folder
from cs109nn.sweep.lifecycle import Rows
from cs109nn.sweep.plan import Group, Plan
from cs109nn.train import TrainResult


def write_group(
    run_dir: Path,
    plan: Plan,
    group: Group,
    result: TrainResult,
    columns: tuple[str, ...],
    rows: Rows,
    *,
    wall_seconds: float,
    save_params: bool,
) -> None:
    """Record ``group``'s ``result``: curves, params when ``save_params``, then its rows (added
    to ``rows``, and results.csv rewritten from them)."""
    members = member_arrays(plan, result)
    schema.write_curves(run_dir, group.group_id, result.eval_steps, result.history, members)
    if save_params:
        schema.write_arrays(
            schema.params_path(run_dir, group.group_id), run_folder.flatten_params(result.params)
        )
    per_member = {
        "member": np.arange(len(plan.members)),
        **members,
        **{f"final_{name}": value for name, value in result.final.items()},
    }
    per_group = {
        "group": group.group_id,
        "dataset": group.dataset,
        "model": group.model,
        "optimizer": group.optimizer,
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
        for m in range(len(plan.members))
    ]
    ordered = [row for g in plan.groups for row in rows.get(g.group_id, [])]
    schema.write_results(run_dir, columns, ordered)


def member_arrays(plan: Plan, result: TrainResult) -> dict[str, np.ndarray]:
    """Each member's seed, hyperparameters (as requested: the swept value or the default,
    float64) and divergence, [M] each: the columns the curves file and results.csv share."""
    members = plan.members
    hparams = member_hyperparameters(members.hparams, len(members))
    return {
        "seed": members.seeds,
        **hparams._asdict(),
        "diverged": result.diverged,
        "diverged_step": result.diverged_step,
    }
