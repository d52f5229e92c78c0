"""Figures of a run's searches, one per halving or PBT group (``search/<group>.npz``).

- ``halving_<group>.png``: successive halving's rungs -- each member's validation accuracy at
  the end of every rung it ran, against the step the rung ended at; a line from rung to rung
  for each member kept, the survivors (the members of the last rung) in colour, the member the
  search selected marked with a star.
- ``pbt_<group>.png``: population-based training's hyperparameter schedules -- for each shown
  hyperparameter (:func:`~cs109nn.report.search_section.shown_hyperparameters`), every
  member's value against the step, thin grey; the selected member's lineage bold: in each
  generation the value of the member whose state it carries then (its sources followed back,
  :func:`~cs109nn.report.search_section.ancestors`), so the path jumps at each copy; exploits
  as vertical lines. Log scale for the learning rate and weight decay (where positive).

Selection marked here is the search's own, by validation; no test metric is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cs109nn.report.drawing import file_safe, save_figure
from cs109nn.report.read import Run
from cs109nn.report.search_section import (
    SearchGroup,
    ancestors,
    lineage,
    search_groups,
    shown_hyperparameters,
)

# Hyperparameters that span orders of magnitude: drawn on a log axis when all values are > 0.
LOG_SCALE = ("learning_rate", "weight_decay")
SURVIVOR_COLOR = "C0"
SELECTED_COLOR = "C3"
MEMBER_GREY = "0.55"
# Rungs with more distinct validation accuracies than this get no "×k" tie labels.
MAX_TIE_LABELS = 12


def _selected_member(group: SearchGroup) -> int | None:
    return None if group.selected is None else int(group.selected["member"])


def halving_figure(group: SearchGroup, path: Path) -> Path | None:
    """Validation accuracy at each rung's end vs step, every member; None without rungs."""
    arrays = group.arrays or {}
    stops = np.asarray(arrays.get("rung_stop_step", ()), dtype=np.float64)
    if stops.size == 0:
        return None
    ran = np.asarray(arrays["rung_ran"], bool)
    kept = np.asarray(arrays["rung_kept"], bool)
    acc = np.asarray(arrays["rung_val_acc"], dtype=np.float64)
    rungs, members = ran.shape
    survivors = ran[-1]
    selected = _selected_member(group)
    # members with the most rungs are drawn last, so survivors lie above the stopped
    order = sorted(range(members), key=lambda m: (ran[:, m].sum(), m == selected))
    grey = max(0.15, min(0.6, 12.0 / members))
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    axis = figure.subplots()
    for m in order:
        steps, values = stops[ran[:, m]], acc[ran[:, m], m]
        if m == selected:
            color, width, alpha, zorder = SELECTED_COLOR, 1.8, 1.0, 4
        elif survivors[m]:
            color, width, alpha, zorder = SURVIVOR_COLOR, 4.0, 0.55, 3
        else:
            color, width, alpha, zorder = MEMBER_GREY, 0.8, grey, 2
        for r in range(rungs - 1):  # a line from rung r to r + 1 for a member kept at r
            if kept[r, m] and ran[r + 1, m]:
                axis.plot(
                    stops[r : r + 2], acc[r : r + 2, m], color=color, lw=width, alpha=alpha,
                    zorder=zorder,
                )  # fmt: skip
        axis.scatter(steps, values, s=14 if zorder == 2 else 26, color=color, alpha=alpha,
                     zorder=zorder, linewidths=0)  # fmt: skip
    if selected is not None and ran[-1, selected]:
        axis.scatter(stops[-1], acc[-1, selected], s=220, marker="*", color=SELECTED_COLOR,
                     edgecolors="black", linewidths=0.6, zorder=5)  # fmt: skip
    _label_ties(axis, stops, acc, ran)
    counts = ran.sum(axis=1)
    axis.set_xticks(stops, [f"{int(s)}\n{int(n)} ran" for s, n in zip(stops, counts, strict=True)])
    axis.set_xlim(0, stops[-1] * 1.05)
    axis.set_xlabel("step (the end of each rung) and members that ran the rung")
    axis.set_ylabel("validation accuracy at the rung's end")
    axis.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=MEMBER_GREY, lw=0.8, marker="o", ms=4, label="stopped at a rung"),
        Line2D([], [], color=SURVIVOR_COLOR, lw=4.0, alpha=0.55, marker="o", ms=5,
               label=f"survivors (ran the last rung: {int(survivors.sum())})"),
    ]  # fmt: skip
    if selected is not None:
        handles.append(
            Line2D([], [], color=SELECTED_COLOR, lw=1.8, marker="*", ms=12, mec="black",
                   label=f"selected by validation (member {selected})")
        )  # fmt: skip
    axis.legend(handles=handles, loc="best", fontsize="small")
    _title(figure, group, f"successive halving: {members} members, {rungs} rungs")
    return save_figure(figure, path)


def _title(figure: Figure, group: SearchGroup, what: str) -> None:
    """What the figure shows, and the group id beneath it in smaller type (ids are long)."""
    figure.suptitle(f"{what}\n{group.group}", fontsize="medium")


def _label_ties(axis, stops: np.ndarray, acc: np.ndarray, ran: np.ndarray) -> None:
    """``×k`` beside each point that ``k`` > 1 members share (validation accuracy takes few
    values on a small split), on rungs where the labels would not run into each other."""
    finite = acc[ran & np.isfinite(acc)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    for r, step in enumerate(stops):
        values, counts = np.unique(acc[r, ran[r]], return_counts=True)
        tied = np.sort(values[counts > 1])
        if len(values) > MAX_TIE_LABELS or np.any(np.diff(tied) < 0.04 * spread):
            continue
        for value, count in zip(values, counts, strict=True):
            if count > 1:
                axis.annotate(
                    f"×{count}", (step, value), xytext=(10, -3), textcoords="offset points",
                    fontsize="small", color="0.25",
                )  # fmt: skip


def _generation_edges(group: SearchGroup, exploit_steps: np.ndarray) -> np.ndarray:
    """``[G + 1]``: the step each generation starts at, and the last one's end."""
    steps = max(int(group.rows[0].get("steps") or 0), int(exploit_steps.max(initial=0)) + 1)
    return np.array([0, *exploit_steps.tolist(), steps], dtype=np.float64)


def pbt_figure(group: SearchGroup, names: list[str], path: Path) -> Path | None:
    """Each of ``names``' schedule per member, the selected member's lineage bold; None
    without a name or a schedule to draw."""
    arrays = group.arrays or {}
    names = [name for name in names if f"hp_{name}" in arrays]
    if not names:
        return None
    exploit_steps = np.asarray(arrays["exploit_step"], dtype=np.float64)
    edges = _generation_edges(group, exploit_steps)
    selected = _selected_member(group)
    path_members = None if selected is None else ancestors(arrays, selected)
    copies = [] if selected is None else lineage(arrays, selected)
    figure = Figure(figsize=(8.0, 1.2 + 2.6 * len(names)), layout="constrained")
    axes = figure.subplots(len(names), 1, sharex=True, squeeze=False).ravel()
    for axis, name in zip(axes, names, strict=True):
        values = np.asarray(arrays[f"hp_{name}"], dtype=np.float64)  # [G, M]
        members = values.shape[1]
        grey = max(0.15, min(0.6, 12.0 / members))
        for m in range(members):
            axis.stairs(values[:, m], edges, color=MEMBER_GREY, lw=0.8, alpha=grey, baseline=None)
        if path_members is not None:
            generations = np.arange(values.shape[0])
            lineage_values = values[generations, path_members]
            axis.stairs(lineage_values, edges, color=SELECTED_COLOR, lw=2.6, baseline=None,
                        zorder=4)  # fmt: skip
            for g, step in enumerate(exploit_steps):  # mark the copies on the path
                if path_members[g] != path_members[g + 1]:
                    axis.plot([step], [lineage_values[g + 1]], marker="o", ms=6,
                              color=SELECTED_COLOR, mec="black", zorder=5)  # fmt: skip
        for step in exploit_steps:
            axis.axvline(step, color="0.3", lw=0.8, ls="--", alpha=0.6, zorder=1)
        if name in LOG_SCALE and np.all(values[np.isfinite(values)] > 0):
            axis.set_yscale("log")
        axis.set_ylabel(name.replace("_", " "))
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    axes[-1].set_xlim(edges[0], edges[-1])
    handles = [
        Line2D([], [], color=MEMBER_GREY, lw=0.8, label=f"members ({values.shape[1]})"),
        Line2D([], [], color="0.3", lw=0.8, ls="--", label="exploit (bottom copies top)"),
    ]
    if selected is not None:
        shown = [f"{who}←{copied} at {step}" for who, copied, step in copies[:4]]
        text = ", ".join(shown + (["…"] if len(copies) > 4 else [])) or "copied no one"
        handles.insert(
            1,
            Line2D([], [], color=SELECTED_COLOR, lw=2.6, marker="o", ms=5, mec="black",
                   label=f"selected member {selected}'s lineage ({text})"),
        )  # fmt: skip
    # beneath the panels, so that no member's schedule hides behind it
    figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="small")
    exploits = f"{len(exploit_steps)} exploit{'s' if len(exploit_steps) != 1 else ''}"
    _title(figure, group, f"population-based training: {members} members, {exploits}")
    return save_figure(figure, path)


def search_figures(run: Run, out: Path) -> list[Path]:
    """``halving_<group>.png`` and ``pbt_<group>.png`` for every halving and PBT group of
    ``run`` into ``out``; returns the paths written."""
    groups = [group for group in search_groups(run) if group.arrays is not None]
    written: list[Path | None] = []
    for group in groups:
        name = file_safe(group.group)
        if group.search == "halving":
            written.append(halving_figure(group, out / f"halving_{name}.png"))
        elif group.search == "pbt":
            names = shown_hyperparameters(run, [group])
            written.append(pbt_figure(group, names, out / f"pbt_{name}.png"))
    return [path for path in written if path is not None]
