"""Read a run folder: ``manifest.json``, ``results.csv`` (typed rows) and ``curves/*.npz``.

The folder is written by the sweep runner; this module only reads it, with the standard
library's ``csv`` and ``json`` and numpy, so a report can be made where JAX is not installed.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cs109nn.report.configs import Row

MANIFEST_FILE = "manifest.json"
RESULTS_FILE = "results.csv"
CURVES_DIR = "curves"
CURVE_METRICS = ("train_ll", "train_acc", "test_ll", "test_acc")

# Known columns and their types; an unknown column is typed by what its text looks like.
INT_COLUMNS = frozenset({"member", "seed", "steps", "batch_size", "diverged_step"})
FLOAT_COLUMNS = frozenset(
    {
        "learning_rate",
        "momentum",
        "weight_decay",
        "init_scale",
        "clip_norm",
        "noise_multiplier",
        "final_train_ll",
        "final_train_acc",
        "final_test_ll",
        "final_test_acc",
        "group_wall_s",
        "group_compile_s",
    }
)
BOOL_COLUMNS = frozenset({"diverged"})
STR_COLUMNS = frozenset({"group", "dataset", "model", "optimizer"})
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class Curves(NamedTuple):
    """One group's learning curves, members in the group's member order.

    ``eval_steps: [T]``; ``metrics[name]: [M, T]`` for each of ``train_ll``, ``train_acc``,
    ``test_ll``, ``test_acc`` present in the file; ``member: [M]``; ``seed: [M]``.
    """

    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    member: np.ndarray
    seed: np.ndarray

    def member_curve(self, member: int, metric: str) -> np.ndarray | None:
        """``[T]`` curve of ``metric`` for member index ``member``, or None if absent."""
        if metric not in self.metrics:
            return None
        positions = np.flatnonzero(self.member == member)
        if positions.size == 0:
            return None
        return self.metrics[metric][positions[0]]


@dataclass
class Run:
    """A run folder's contents: manifest, typed result rows (file order) and curves by group."""

    path: Path
    manifest: dict[str, Any]
    columns: list[str]
    rows: list[Row]
    curves: dict[str, Curves] = field(default_factory=dict)


def _parse_bool(text: str) -> bool | str:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return text


def _parse_unknown(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text.strip().lower() in {"true", "false"}:
        return text.strip().lower() == "true"
    return text


def parse_cell(column: str, text: str | None) -> Any:
    """A ``results.csv`` cell as a Python value; an empty cell is ``None``."""
    if text is None or text.strip() == "":
        return None
    if column in STR_COLUMNS:
        return text
    if column in BOOL_COLUMNS:
        return _parse_bool(text)
    if column in INT_COLUMNS:
        try:
            return int(text)
        except ValueError:
            number = float(text)  # "3.0" from a writer that went through floats
            return int(number) if number.is_integer() else number
    if column in FLOAT_COLUMNS:
        return float(text)
    return _parse_unknown(text)


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """``manifest.json`` as a dict; an empty dict when the file is absent."""
    path = Path(run_dir) / MANIFEST_FILE
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as file:
        return json.load(file)


def read_results(run_dir: str | Path) -> tuple[list[str], list[Row]]:
    """``results.csv`` as ``(columns, rows)`` with typed values; empty when the file is absent.

    A member that appears twice (the same ``group`` and ``member``) keeps its last row: a
    resumed run may append a row that supersedes an earlier one.
    """
    path = Path(run_dir) / RESULTS_FILE
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        columns = [column for column in reader.fieldnames or [] if column]
        by_member: dict[tuple[Any, Any], Row] = {}
        unkeyed: list[Row] = []
        for raw in reader:
            row = {column: parse_cell(column, raw.get(column)) for column in columns}
            if row.get("group") is None and row.get("member") is None:
                unkeyed.append(row)
            else:
                by_member[(row.get("group"), row.get("member"))] = row
    return columns, list(by_member.values()) + unkeyed


def read_curves(path: str | Path) -> Curves:
    """One ``curves/<group>.npz`` file."""
    with np.load(path, allow_pickle=False) as data:
        metrics = {name: np.asarray(data[name]) for name in CURVE_METRICS if name in data}
        eval_steps = np.asarray(data["eval_steps"])
        num_members = next(iter(metrics.values())).shape[0] if metrics else 0
        member = np.asarray(data["member"]) if "member" in data else np.arange(num_members)
        seed = np.asarray(data["seed"]) if "seed" in data else np.full(num_members, -1)
    return Curves(eval_steps=eval_steps, metrics=metrics, member=member, seed=seed)


class ManifestSummary(NamedTuple):
    """What a report states about a run, from its manifest; ``None`` where it does not say."""

    experiment: str | None
    config_hash: str | None
    git_commit: str | None
    git_dirty: bool | None
    start_time: str | None
    end_time: str | None
    backend: str | None
    devices: list[str]
    process_count: int | None
    versions: dict[str, str]
    planned_members: int | None
    planned_groups: int | None


def _manifest_field(manifest: dict[str, Any], *names: str) -> Any:
    """The first of ``names`` found at the top of the manifest or under ``environment``."""
    environment = manifest.get("environment")
    for scope in (manifest, environment if isinstance(environment, dict) else {}):
        for name in names:
            if scope.get(name) is not None:
                return scope[name]
    return None


def summarize_manifest(manifest: dict[str, Any]) -> ManifestSummary:
    """The manifest's facts under one set of names.

    Accepts both spellings a run folder may use: flat (``start_time``, ``end_time``,
    ``devices``, ``versions``) and the sweep runner's (``started``, ``finished``, and the
    environment block with ``device_count`` and ``device_kinds``).
    """
    devices = _manifest_field(manifest, "devices")
    if devices is None:
        count = _manifest_field(manifest, "device_count")
        kinds = _manifest_field(manifest, "device_kinds") or []
        devices = [f"{count} × {', '.join(map(str, kinds)) or 'device'}"] if count else []
    plan = manifest.get("plan") if isinstance(manifest.get("plan"), dict) else {}
    groups = plan.get("groups")
    return ManifestSummary(
        experiment=_manifest_field(manifest, "experiment", "name"),
        config_hash=_manifest_field(manifest, "config_hash"),
        git_commit=_manifest_field(manifest, "git_commit"),
        git_dirty=_manifest_field(manifest, "git_dirty"),
        start_time=_manifest_field(manifest, "start_time", "started"),
        end_time=_manifest_field(manifest, "end_time", "finished"),
        backend=_manifest_field(manifest, "backend"),
        devices=[str(device) for device in devices],
        process_count=_manifest_field(manifest, "process_count"),
        versions={str(k): str(v) for k, v in (_manifest_field(manifest, "versions") or {}).items()},
        planned_members=plan.get("models"),
        planned_groups=len(groups) if isinstance(groups, list) else None,
    )


def read_run(run_dir: str | Path) -> Run:
    """Everything in a run folder; a sweep still in progress reads as far as it got."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"no run folder at {path}")
    columns, rows = read_results(path)
    curves: dict[str, Curves] = {}
    curves_dir = path / CURVES_DIR
    if curves_dir.is_dir():
        for curve_file in sorted(curves_dir.glob("*.npz")):
            curves[curve_file.stem] = read_curves(curve_file)
    return Run(path=path, manifest=read_manifest(path), columns=columns, rows=rows, curves=curves)
