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
from cs109nn.sweep import run_folder
from cs109nn.sweep.plan import Plan
from cs109nn.sweep.spec import SweepSpec, changed_keys, config_hash, to_config

Rows = dict[str, list[list[str]]]  # group id -> its rows of results.csv, cells as written


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


def open_run_folder(
    run_dir: Path, spec: SweepSpec, plan: Plan, columns: tuple[str, ...], *, fresh: bool
) -> tuple[dict, Rows]:
    """Start or resume the run in ``run_dir``: the manifest with a new session (written), and
    the rows already there, by group."""
    config, digest = to_config(spec), config_hash(spec)
    manifest = schema.read_manifest(run_dir) if run_dir.exists() else None
    if manifest is None and run_dir.exists():
        temporary = set(run_dir.glob(".*.tmp"))  # what a killed first write can leave
        leftovers = [path for path in run_dir.iterdir() if path not in temporary]
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
    for folder in (run_dir, run_dir / schema.CURVES, run_dir / schema.PARAMS):
        if folder.is_dir():
            remove_temporary_files(folder)

    rows = _rows_by_group(run_dir, plan, columns) if manifest is not None else {}
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
            "environment": env,
            "started": started,
            "finished": None,
            "sessions": [],
        }
    manifest["sessions"].append({"started": started, "finished": None, "environment": env})
    schema.write_manifest(run_dir, manifest)
    return manifest, rows


def close_session(run_dir: Path, manifest: dict, groups_run: list[str]) -> None:
    """Record this session's end and the groups it trained; the run's end is the latest's."""
    session = manifest["sessions"][-1]
    session["finished"] = run_folder.now()
    session["groups_run"] = groups_run
    manifest["finished"] = session["finished"]
    schema.write_manifest(run_dir, manifest)


def _rows_by_group(run_dir: Path, plan: Plan, columns: tuple[str, ...]) -> Rows:
    """results.csv's rows by group, checked whole: the right header, known groups, and each
    group's members 0..M-1 once."""
    header, rows = schema.read_results(run_dir)
    if not rows:
        return {}
    if header != columns:
        raise RunFolderError(
            f"{run_dir / schema.RESULTS} has columns {list(header)}, expected {list(columns)}"
        )
    by_group: Rows = {}
    for row in rows:
        by_group.setdefault(row[0], []).append(row)
    known = {group.group_id for group in plan.groups}
    member_column = columns.index("member")
    expected = [str(m) for m in range(len(plan.members))]
    for group_id, group_rows in by_group.items():
        members = [row[member_column] for row in group_rows]
        if group_id not in known or members != expected:
            raise RunFolderError(
                f"{run_dir / schema.RESULTS}: group {group_id!r} is not a whole group of "
                "this plan; the file was edited by hand? Start over with fresh=True (--fresh)."
            )
    return by_group
