"""report.md's "Searches" section: what each search of the same members found, at what cost.

A sweep's ``searches`` axis trains the same members of a (data set, model, optimizer, ...) once
per search kind, each kind its own group (``cs109nn.sweep.search``): ``none`` (the grid or the
random draws, every member trained fully), ``grid`` (the distributions' space as a grid),
``halving`` (successive halving) and ``pbt`` (population-based training). Each group's search
selects one member by validation (``selected`` in results.csv; ``cs109nn.selection``). Per
data set and static config, the section gives one table row per search: the selected member's
hyperparameters (a PBT member's of its last generation, ``hp_<name>[-1, m]`` of
``search/<group>.npz``; results.csv holds its initial ones), its validation accuracy, its test
accuracy with a Wilson interval over the test examples (test-set sampling of that one member),
the member-steps the group trained (the sum of ``steps_trained``) and its wall time. Below the
table, a line per halving group (rungs, members per rung, the step each rung ended at) and per
PBT group (exploits, and the selected member's lineage: whom it, and each member it copied,
copied at each exploit).

The functions that read a search's record (:func:`search_groups`, :func:`ancestors`,
:func:`lineage`, :func:`shown_hyperparameters`) are shared with the search figures
(:mod:`cs109nn.report.search_figures`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from cs109nn.hyperparameters import HPARAM_NAMES
from cs109nn.report.configs import Row, display_value
from cs109nn.report.intervals import wilson_interval
from cs109nn.report.markdown import interval, number, table
from cs109nn.report.ranking import metric_value, search_of
from cs109nn.report.read import Run
from cs109nn.report.selected import TEST_ACCURACY, count_test_examples
from cs109nn.run_folder_schema import (
    CONFIG_COLUMNS,
    SEARCH,
    SEARCH_ARRAYS,
    SELECTING_SEARCHES,
    RunFolderFormatError,
)

# What the groups of one comparison share: the config columns but the group and its search.
STATIC_COLUMNS = tuple(column for column in CONFIG_COLUMNS if column not in ("group", "search"))
VALIDATION_ACCURACY = "final_val_acc"


class SearchGroup(NamedTuple):
    """One group and what its search did: ``rows`` (its members, in file order), the row its
    search ``selected`` (None where none is marked), ``static`` (its ``STATIC_COLUMNS``
    values) and ``arrays`` (``search/<group>.npz``; None for ``none`` and ``grid``)."""

    group: str
    search: str
    static: tuple[tuple[str, Any], ...]
    rows: list[Row]
    selected: Row | None
    arrays: dict[str, np.ndarray] | None

    @property
    def member_steps(self) -> int:
        """Training steps summed over the members (``steps_trained``; ``steps`` where a row
        does not record it)."""
        return sum(int(_steps_trained(row)) for row in self.rows)

    @property
    def wall_seconds(self) -> float | None:
        """The group's wall time (``group_wall_s``), None where not recorded."""
        return metric_value(self.rows[0], "group_wall_s") if self.rows else None


def _steps_trained(row: Mapping[str, Any]) -> int:
    value = row.get("steps_trained")
    return int(row.get("steps") or 0) if value is None else int(value)


def has_searches(rows: Iterable[Mapping[str, Any]]) -> bool:
    """Whether some row's group searched by more than training every member (search not
    ``none``)."""
    return any(search_of(row) != "none" for row in rows)


def search_groups(run: Run) -> list[SearchGroup]:
    """Every group of ``run`` (in order of first appearance) with its search's record.

    Raises RunFolderFormatError for a halving or PBT group whose ``search/<group>.npz`` is
    absent or lacks an array of ``SEARCH_ARRAYS``."""
    by_group: dict[str, list[Row]] = {}
    for row in run.rows:
        by_group.setdefault(str(row["group"]), []).append(row)
    groups = []
    for group, rows in by_group.items():
        search = search_of(rows[0])
        arrays = None
        if search in SELECTING_SEARCHES:
            arrays = run.searches.get(group)
            where = f"{run.path / SEARCH / group}.npz"
            if arrays is None:
                raise RunFolderFormatError(f"{where}: absent, for a {search} group")
            missing = [name for name in SEARCH_ARRAYS[search] if name not in arrays]
            if missing:
                raise RunFolderFormatError(f"{where}: no array {missing[0]!r}")
        selected = next((row for row in rows if row.get("selected")), None)
        static = tuple((column, rows[0].get(column)) for column in STATIC_COLUMNS)
        groups.append(SearchGroup(group, search, static, rows, selected, arrays))
    return groups


def swept_hyperparameters(manifest: Mapping[str, Any]) -> list[str] | None:
    """The hyperparameters the spec swept (grid values or a distribution), in
    ``HPARAM_NAMES`` order; None when the manifest records no config."""
    config = manifest.get("config")
    if not isinstance(config, Mapping):
        return None
    return [name for name in HPARAM_NAMES if config.get(name) not in (None, "", [], ())]


def shown_hyperparameters(run: Run, groups: Sequence[SearchGroup]) -> list[str]:
    """The hyperparameters worth showing for ``groups``: those the spec swept (those whose
    values differ between members, where the manifest records no config), and any a PBT
    changed between generations; in ``HPARAM_NAMES`` order."""
    shown = set(swept_hyperparameters(run.manifest) or ())
    rows = [row for group in groups for row in group.rows]
    if swept_hyperparameters(run.manifest) is None:
        shown |= {name for name in HPARAM_NAMES if len({_key(row.get(name)) for row in rows}) > 1}
    for group in groups:
        if group.search == "pbt" and group.arrays is not None:
            for name in HPARAM_NAMES:
                values = group.arrays.get(f"hp_{name}")
                if values is not None and values.size and not _constant(values):
                    shown.add(name)
    return [name for name in HPARAM_NAMES if name in shown]


def _key(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _constant(values: np.ndarray) -> bool:
    # per member over generations; inf == inf, so a hyperparameter left at inf is constant
    return bool(np.all(values == values[:1]))


def selected_hyperparameters(group: SearchGroup, names: Sequence[str]) -> dict[str, float]:
    """The selected member's value of each of ``names``: its row's, or for PBT the value it
    trained with in the last generation (``hp_<name>[-1, m]``)."""
    row = group.selected
    if row is None:
        return {}
    values = {name: row.get(name) for name in names}
    if group.search == "pbt" and group.arrays is not None:
        member = int(row["member"])
        for name in names:
            if (schedule := group.arrays.get(f"hp_{name}")) is not None:
                values[name] = float(schedule[-1, member])
    return values


def ancestors(arrays: Mapping[str, np.ndarray], member: int) -> np.ndarray:
    """``[G]``: whose state ``member``'s final state was in each generation of a PBT, found
    by following ``source`` back (``source[g, m]``: whom m copied after generation g, -1 for
    none); the last entry is ``member`` itself."""
    source = np.asarray(arrays["source"])
    count = source.shape[0] + 1
    path = np.empty(count, np.int64)
    path[-1] = member
    for g in range(count - 2, -1, -1):
        copied = int(source[g, path[g + 1]])
        path[g] = copied if copied >= 0 else path[g + 1]
    return path


def lineage(arrays: Mapping[str, np.ndarray], member: int) -> list[tuple[int, int, int]]:
    """The copies behind ``member``'s final state, latest first: ``(who, copied, step)`` --
    member ``who`` copied member ``copied`` at the exploit after ``step``."""
    source = np.asarray(arrays["source"])
    steps = np.asarray(arrays["exploit_step"])
    copies = []
    current = member
    for g in range(source.shape[0] - 1, -1, -1):
        copied = int(source[g, current])
        if copied >= 0:
            copies.append((current, copied, int(steps[g])))
            current = copied
    return copies


def lineage_text(arrays: Mapping[str, np.ndarray], member: int) -> str:
    """``member 12 ← copied 3 at step 60 ← copied 7 at step 30``: the selected member, then
    at each exploit behind its state (latest first) whom it copied."""
    copies = lineage(arrays, member)
    if not copies:
        return f"member {member} (copied no one: its own state and hyperparameters throughout)"
    return f"member {member} " + " ".join(
        f"← copied {copied} at step {step}" for _, copied, step in copies
    )


# ---------------------------------------------------------------------------------------------
# the section
# ---------------------------------------------------------------------------------------------


def search_section(run: Run, confidence: float = 0.95) -> list[str]:
    """The section's Markdown lines; empty when no group searched (every search ``none``)."""
    if not has_searches(run.rows):
        return []
    groups = search_groups(run)
    level = f"{confidence:.0%}"
    lines = ["## Searches", ""]
    lines.append(
        "Each search trained the same members and selected one of them by validation "
        "accuracy alone (ties: validation log-likelihood; `none`: the best of the members "
        "trained fully): the test split played no part in any choice. Test accuracy is that "
        f"one member's, with a {level} Wilson score interval over the test examples: it covers "
        "test-set sampling for the one selected member (which examples the test split "
        "happened to hold), with its training fixed; it says nothing about training "
        "randomness (other seeds) or about how lucky the selection was. Member-steps: "
        "training steps summed over the group's members (members × steps where every member "
        "trains fully; fewer for successive halving). Wall: the group's wall-clock time, "
        "compilation included."
    )
    lines.append("")
    comparisons: dict[tuple[Any, ...], list[SearchGroup]] = {}
    for group in groups:
        comparisons.setdefault(group.static, []).append(group)
    labelled = _static_labels(list(comparisons))
    for static, members in comparisons.items():
        if all(group.search == "none" for group in members):
            continue
        lines += _comparison(run, static, labelled[static], members, confidence)
    return lines


def _static_labels(statics: Sequence[tuple[tuple[str, Any], ...]]) -> dict[tuple, str]:
    """Heading of each comparison: its data set and model, and any other static value that
    differs between comparisons."""
    values = [dict(static) for static in statics]
    varying = [
        column
        for column in STATIC_COLUMNS
        if column not in ("dataset", "model") and len({v.get(column) for v in values}) > 1
    ]
    labels = {}
    for static, value in zip(statics, values, strict=True):
        parts = [str(value.get("model"))]
        parts += [f"{column}={_static_value(column, value.get(column))}" for column in varying]
        labels[static] = f"{value.get('dataset')}: " + ", ".join(parts)
    return labels


def _static_value(column: str, value: Any) -> str:
    if column == "batch_size" and value == 0:
        return "full"  # results.csv's encoding of a full batch
    return display_value(value)


def _comparison(
    run: Run,
    static: tuple[tuple[str, Any], ...],
    label: str,
    groups: list[SearchGroup],
    confidence: float,
) -> list[str]:
    level = f"{confidence:.0%}"
    dataset = str(dict(static).get("dataset"))
    n_test = count_test_examples(run.manifest, dataset)
    names = shown_hyperparameters(run, groups)
    lines = [f"### {label}", ""]
    header = [
        "search",
        "selected member",
        "seed",
        *names,
        "validation accuracy",
        "test accuracy",
        f"{level} Wilson CI (test examples)",
        "member-steps",
        "wall",
    ]
    rows = []
    for group in groups:
        row = group.selected
        wall = group.wall_seconds
        costs = [f"{group.member_steps:,}", "n/a" if wall is None else f"{wall:.1f} s"]
        if row is None:
            rows.append([group.search, "none marked", "", *["" for _ in names], "", "", "", *costs])
            continue
        values = selected_hyperparameters(group, names)
        val = metric_value(row, VALIDATION_ACCURACY)
        test = metric_value(row, TEST_ACCURACY)
        wilson = "n/a"
        if test is not None and n_test is not None:
            bounds = wilson_interval(test, n_test, confidence)
            wilson = interval(bounds.low, bounds.high)
        rows.append(
            [
                group.search,
                row["member"],
                row.get("seed"),
                *[_hyperparameter(values.get(name)) for name in names],
                "n/a" if val is None else number(val),
                "n/a" if test is None else number(test),
                wilson,
                *costs,
            ]
        )
    lines += table(header, rows) + [""]
    notes = []
    if n_test is not None:
        notes.append(f"Wilson intervals over the {n_test} test examples of `{dataset}`.")
    else:
        notes.append(
            f"No interval over test examples: the manifest does not record how many `{dataset}` "
            "has, and n is not guessed."
        )
    if any(group.search == "pbt" for group in groups):
        notes.append(
            "PBT's hyperparameters are those its selected member trained with in the last "
            "generation (results.csv holds a PBT member's initial ones)."
        )
    lines += [" ".join(notes), ""]
    for group in groups:
        if group.search == "halving" and group.arrays is not None:
            lines.append(f"- {_halving_line(group)}")
        elif group.search == "pbt" and group.arrays is not None:
            lines.append(f"- {_pbt_line(group)}")
    if lines[-1] != "":
        lines.append("")
    return lines


def _hyperparameter(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.4g}"
    return display_value(value)


def _halving_line(group: SearchGroup) -> str:
    arrays = group.arrays
    stops = [int(step) for step in np.asarray(arrays["rung_stop_step"])]
    lengths = np.diff([0, *stops])
    ran = np.asarray(arrays["rung_ran"]).sum(axis=1)
    full = len(group.rows) * int(group.rows[0].get("steps") or 0)
    share = f" ({group.member_steps / full:.0%} of {full:,} for all members fully)" if full else ""
    return (
        f"`{group.group}` (successive halving): {len(stops)} rungs; members per rung "
        + " → ".join(str(int(n)) for n in ran)
        + "; steps per rung "
        + ", ".join(str(int(n)) for n in lengths)
        + " (rungs end at steps "
        + " → ".join(str(step) for step in stops)
        + ")"
        + f"; {group.member_steps:,} member-steps{share}."
    )


def _pbt_line(group: SearchGroup) -> str:
    arrays = group.arrays
    steps = [int(step) for step in np.asarray(arrays["exploit_step"])]
    copies = int((np.asarray(arrays["source"]) >= 0).sum())
    exploits = f"{len(steps)} exploit" + ("s" if len(steps) != 1 else "")
    if steps:
        exploits += f" (after step{'s' if len(steps) > 1 else ''} " + ", ".join(map(str, steps))
        exploits += f"; {copies} cop{'y' if copies == 1 else 'ies'} in all)"
    text = f"`{group.group}` (population-based training): {exploits}"
    if group.selected is not None:
        text += "; the selected member's lineage: " + lineage_text(
            arrays, int(group.selected["member"])
        )
    return text + "."
