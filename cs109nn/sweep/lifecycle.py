"""A run folder's life cycle: start a run, resume one, refuse another config, start over.

Process 0 alone calls these (the writer of a multi-process run). A folder is one of: new or
empty (a run starts), a run of the same config (it resumes: the rows already there are kept,
a new session is added to the manifest), a run of another config (refused, naming the changed
keys, unless ``fresh``: then the run's own files are deleted and it starts over), or anything
else (refused: not a run folder).
"""

from __future__ import annotations

from pathlib import Path

from cs109nn import run_folder_schema as schema
from cs109nn.atomic_files import remove_temporary_files
from cs109nn.errors import ConfigError, RunError
from cs109nn.run_folder_schema.files import (
    BOUNDARIES,
    PREDICTIONS,
    boundaries_path,
    predictions_path,
)
from cs109nn.sweep import run_folder
from cs109nn.sweep.plan import Plan
from cs109nn.sweep.spec import SweepSpec, changed_keys, config_hash, to_config

Rows = dict[str, list[list[str]]]  # group id -> its rows of results.csv, cells as written


class RunFolderError(RunError):
    """The output folder cannot take this sweep; the message says why and what to do."""


class ConfigChangedError(RunFolderError, ConfigError):
    """The folder holds a run of another config; ``changed`` names the keys that differ."""

    def __init__(self, run_dir: Path, changed: list[str]):
        self.changed = changed
        super().__init__(
            f"{run_dir} holds a run of a different config (changed: {', '.join(changed)}); "
            "it will not be resumed. Start it over with fresh=True (--fresh), or write to "
            "another folder."
        )


def open_run_folder(
    run_dir: Path,
    spec: SweepSpec,
    plan: Plan,
    columns: tuple[str, ...],
    data_sizes: dict,
    *,
    fresh: bool,
) -> tuple[dict, Rows, dict[str, str]]:
    """Start or resume the run in ``run_dir``: the manifest with a new session (written), the
    rows of the groups already finished and verified, by group, and the groups found damaged
    (group id -> why), which will be trained again. ``data_sizes``: data set -> examples per
    split and K, recorded in the manifest (``data``) for the report's intervals."""
    config, digest = to_config(spec), config_hash(spec)
    manifest = schema.read_manifest(run_dir) if run_dir.exists() else None
    if manifest is None and run_dir.exists():
        temporary = set(run_dir.glob(".*.tmp"))  # what a killed first write can leave
        ours = temporary | {run_dir / name for name in schema.LOCK_FILES}
        leftovers = [path for path in run_dir.iterdir() if path not in ours]
        if leftovers:
            raise RunFolderError(
                f"{run_dir} is not empty and holds no {schema.MANIFEST}: not a run folder; "
                "choose another folder"
            )
    if manifest is not None and manifest.get("config_hash") != digest and not fresh:
        raise ConfigChangedError(run_dir, changed_keys(manifest.get("config", {}), config))
    if fresh and manifest is not None:
        schema.delete_run(run_dir)
        manifest = None
    run_dir.mkdir(parents=True, exist_ok=True)
    folders = (schema.CURVES, schema.PARAMS, BOUNDARIES, PREDICTIONS)
    for folder in (run_dir, *(run_dir / name for name in folders)):
        if folder.is_dir():
            remove_temporary_files(folder)

    rows: Rows = {}
    damaged: dict[str, str] = {}
    if manifest is not None:
        rows, damaged = _verified_rows(
            run_dir,
            plan,
            columns,
            manifest,
            spec.save_params,
            spec.boundary_grid > 0,
            spec.save_predictions,
        )
    started, env = run_folder.now(), run_folder.environment()
    if manifest is None:
        manifest = {
            "format": schema.MANIFEST_FORMAT,
            "experiment": spec.name,
            "config": config,
            "config_hash": digest,
            "plan": {
                "groups": [group.group_id for group in plan.groups],
                "members_per_group": len(plan.members),
                "models": plan.num_models,
            },
            "results_columns": list(columns),
            "data": data_sizes,
            "environment": env,
            "started": started,
            "finished": None,
            "sessions": [],
            "groups": {},
        }
    for group_id in damaged:
        manifest.get("groups", {}).pop(group_id, None)
    session = {"started": started, "finished": None, "environment": env}
    if damaged:
        session["groups_damaged"] = damaged
    manifest["sessions"].append(session)
    schema.write_manifest(run_dir, manifest)
    return manifest, rows, damaged


def close_session(run_dir: Path, manifest: dict, groups_run: list[str]) -> None:
    """Record this session's end and the groups it trained; the run's end is the latest's."""
    session = manifest["sessions"][-1]
    session["finished"] = run_folder.now()
    session["groups_run"] = groups_run
    manifest["finished"] = session["finished"]
    schema.write_manifest(run_dir, manifest)


def _verified_rows(
    run_dir: Path,
    plan: Plan,
    columns: tuple[str, ...],
    manifest: dict,
    save_params: bool,
    boundaries: bool = False,
    predictions: bool = False,
) -> tuple[Rows, dict[str, str]]:
    """results.csv's rows by group, each group checked whole against what the run recorded
    when it wrote the group (``manifest["groups"]``): its members 0..M-1 once, every cell
    readable, the rows' and files' sha256. A group that fails is damaged: left out (so it is
    trained again) with the reason."""
    header, rows = schema.read_results(run_dir)
    by_group: Rows = {}
    damaged: dict[str, str] = {}
    if header and header != columns:
        return {}, {"*": f"{schema.RESULTS} has a damaged header; every group is trained again"}
    for row in rows:
        by_group.setdefault(row[0] if row else "", []).append(row)
    known = {group.group_id for group in plan.groups}
    recorded = manifest.get("groups", {})
    kept: Rows = {}
    for group_id, group_rows in by_group.items():
        reason = _damage(
            run_dir,
            group_id,
            group_rows,
            columns,
            plan,
            recorded,
            save_params,
            boundaries,
            predictions,
        )
        if group_id not in known:
            damaged[group_id or "?"] = "rows of a group this plan does not have; dropped"
        elif reason:
            damaged[group_id] = reason
        else:
            kept[group_id] = group_rows
    return kept, damaged


def _damage(
    run_dir: Path,
    group_id: str,
    rows: list[list[str]],
    columns: tuple[str, ...],
    plan: Plan,
    recorded: dict,
    save_params: bool,
    boundaries: bool = False,
    predictions: bool = False,
) -> str | None:
    """Why a finished group's record cannot be trusted, or None when it checks out."""
    members = [row[columns.index("member")] if len(row) == len(columns) else None for row in rows]
    if members != [str(m) for m in range(len(plan.members))]:
        return f"{len(rows)} row(s) in {schema.RESULTS}, not members 0..{len(plan.members) - 1}"
    for number, row in enumerate(rows):
        for name, cell in zip(columns, row, strict=True):
            try:
                schema.parse_cell(name, cell)
            except ValueError as error:
                return f"member {number}: {error}"
    record = recorded.get(group_id)
    if record is None:
        return "no record of it in the manifest"
    if schema.rows_digest(rows) != record.get("rows_sha256"):
        return f"its rows in {schema.RESULTS} differ from those written"
    files = [("curves", schema.curves_path(run_dir, group_id))]
    if save_params:
        files.append(("params", schema.params_path(run_dir, group_id)))
    if boundaries:
        files.append(("boundaries", boundaries_path(run_dir, group_id)))
    if predictions:
        files.append(("predictions", predictions_path(run_dir, group_id)))
    for kind, path in files:
        if not path.is_file():
            return f"{path} is missing"
        if schema.file_digest(path) != record.get(f"{kind}_sha256"):
            return f"{path} differs from the file written"
    return None
