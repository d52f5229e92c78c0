"""The report of a sweep with searches (none, grid, successive halving, PBT): the ranking's
candidates, the "Searches" section and the search figures.

References, all computed here from the run folder with pandas and numpy: the ``selected`` and
``steps_trained`` columns of results.csv, the arrays of ``search/<group>.npz`` (the lineage
followed back by hand), the test-split size in manifest.json, and the Wilson score interval in
its closed form (z from the standard library's normal quantile).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from cs109nn.report import best_by_group, rank_by_dataset, rank_configs, read_run, write_report
from cs109nn.report.search_section import search_section
from cs109nn.report.write import _diverged_section
from cs109nn.sweep import SweepSpec, run_sweep

SPEC = SweepSpec(
    name="search-report",
    datasets=("xor",),
    models=("mlp:4:relu",),
    optimizers=("sgd",),
    steps=(40,),
    eval_every=10,
    seeds=(0,),
    learning_rate="loguniform(0.05,3.0)",
    samples=4,
    searches=("none", "grid", "halving", "pbt"),
    halving_eta=2,
    halving_rungs=2,
    pbt_every=1,  # an exploit after every evaluation: 3 exploits in 40 steps
    pbt_fraction=0.5,
    n_examples=120,
)
SEARCH_KINDS = ("none", "grid", "halving", "pbt")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = run_sweep(SPEC, tmp_path_factory.mktemp("searches") / "run")
    write_report(out)
    return out


@pytest.fixture(scope="module")
def results(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "results.csv")


def searches_table(report: str) -> dict[str, dict[str, str]]:
    """search kind -> column -> cell, from report.md's Searches table (one data set, one
    model here)."""
    section = report.split("## Searches", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def wilson(p_hat: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (p_hat + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def group_of(results: pd.DataFrame, kind: str) -> str:
    (group,) = results.loc[results["search"] == kind, "group"].unique()
    return group


def test_halving_and_pbt_groups_enter_the_ranking_only_through_their_selected_member(
    run_dir, results
):
    run = read_run(run_dir)
    (ranking,) = rank_by_dataset(run.rows, run.columns).values()
    ranked = {(row["group"], row["member"]) for summary in ranking for row in summary.rows}
    searching = results["search"].isin(["halving", "pbt"])
    expected = results[~searching | results["selected"]]
    assert ranked == set(zip(expected["group"], expected["member"], strict=True))
    # one selected member per halving / PBT group, and every member of none / grid
    assert (results[searching].groupby("group")["selected"].sum() == 1).all()
    assert len(ranked) == 2 * SPEC.samples + 2
    # the terminal summary's per-group best is the same member for a searching group
    best = best_by_group(run.rows, run.columns)
    for kind in ("halving", "pbt"):
        group = group_of(results, kind)
        (row,) = best[group].rows
        selected = results[(results["group"] == group) & results["selected"]]
        assert row["member"] == int(selected["member"].iloc[0])


def test_rows_without_a_search_column_all_enter_the_ranking(results):
    old = results.drop(columns=["search", "steps_trained", "selected"])
    old = old[old["group"] == group_of(results, "halving")]  # its members, as if unsearched
    rows = old.to_dict("records")
    ranking = rank_configs(rows)
    assert sorted(row["member"] for summary in ranking for row in summary.rows) == sorted(
        old["member"]
    )


def test_searches_table_states_the_selected_members_numbers(run_dir, results):
    report = (run_dir / "report.md").read_text()
    table = searches_table(report)
    assert set(table) == set(SEARCH_KINDS)
    n_test = json.loads((run_dir / "manifest.json").read_text())["data"]["xor"]["n_test"]
    for kind in SEARCH_KINDS:
        members = results[results["search"] == kind]
        (selected,) = members[members["selected"]].itertuples()
        cells = table[kind]
        assert int(cells["selected member"]) == selected.member
        assert cells["validation accuracy"] == f"{selected.final_val_acc:.4f}"
        assert cells["test accuracy"] == f"{selected.final_test_acc:.4f}"
        low, high = wilson(selected.final_test_acc, n_test)
        assert cells["95% Wilson CI (test examples)"] == f"[{low:.4f}, {high:.4f}]"
        assert cells["member-steps"] == f"{int(members['steps_trained'].sum()):,}"
        assert cells["wall"] == f"{members['group_wall_s'].iloc[0]:.1f} s"
        rate = selected.learning_rate
        if kind == "pbt":  # the value of its last generation, not its initial one
            arrays = np.load(run_dir / "search" / f"{group_of(results, kind)}.npz")
            rate = arrays["hp_learning_rate"][-1, selected.member]
        assert cells["learning_rate"] == f"{rate:.4g}"
    # successive halving stopped members early: fewer member-steps than a full search
    halving = results[results["search"] == "halving"]
    assert halving["steps_trained"].sum() < len(halving) * SPEC.steps[0]
    assert f"Wilson intervals over the {n_test} test examples" in report
    assert "selected one of them by validation accuracy alone" in report


def test_lineage_sentence_follows_the_sources_back_from_the_selected_member(run_dir, results):
    group = group_of(results, "pbt")
    arrays = np.load(run_dir / "search" / f"{group}.npz")
    source, steps = arrays["source"], arrays["exploit_step"]
    assert (source >= 0).any(), "no member copied another: the lineage is not exercised"
    member = int(results[(results["group"] == group) & results["selected"]]["member"].iloc[0])
    text, current = f"member {member}", member
    for g in reversed(range(source.shape[0])):
        if source[g, current] >= 0:
            current = int(source[g, current])
            text += f" ← copied {current} at step {steps[g]}"
    if text == f"member {member}":
        text += " (copied no one"
    report = (run_dir / "report.md").read_text()
    assert f"the selected member's lineage: {text}" in report
    exploits = f"{len(steps)} exploits (after steps {', '.join(map(str, steps))}"
    assert exploits in report


def test_halving_line_states_rungs_members_and_steps(run_dir, results):
    group = group_of(results, "halving")
    arrays = np.load(run_dir / "search" / f"{group}.npz")
    stops = arrays["rung_stop_step"]
    ran = arrays["rung_ran"].sum(axis=1)
    line = next(line for line in (run_dir / "report.md").read_text().splitlines() if group in line)
    assert f"{len(stops)} rungs" in line
    assert "members per rung " + " → ".join(map(str, ran)) in line
    assert "steps per rung " + ", ".join(map(str, np.diff([0, *stops]))) in line


def test_search_figures_are_written_and_linked(run_dir, results):
    report = (run_dir / "report.md").read_text()
    for kind in ("halving", "pbt"):
        path = run_dir / "figures" / f"{kind}_{group_of(results, kind)}.png"
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
        assert re.search(re.escape(f"](figures/{path.name})"), report)


def test_no_searches_section_when_every_group_trained_every_member(run_dir):
    run = read_run(run_dir)
    only_none = dataclasses.replace(run, rows=[r for r in run.rows if r["search"] == "none"])
    assert search_section(only_none) == []


def test_a_diverged_member_no_ranking_holds_is_still_listed():
    base = {"dataset": "xor", "model": "mlp", "search": "halving", "seed": 0, "steps": 40}
    rows = [
        base | {"group": "g-halving", "member": 0, "selected": True, "final_val_acc": 0.9,
                "diverged": False, "diverged_step": -1},
        base | {"group": "g-halving", "member": 1, "selected": False, "final_val_acc": None,
                "diverged": True, "diverged_step": 7},
    ]  # fmt: skip
    rankings = rank_by_dataset(rows)
    assert [row["member"] for s in rankings["xor"] for row in s.rows] == [0]
    text = "\n".join(_diverged_section(rankings, rows))
    assert "1 member(s) turned non-finite" in text
    assert "| xor | halving member, not ranked | g-halving | 1 | 0 | 7 |" in text
