"""Markdown pieces of report.md: table cells and tables, numbers, intervals, p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from cs109nn.report.configs import display_value


def cell(value: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    text = display_value(value) if not isinstance(value, str) else value
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def number(value: float, digits: int = 4) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def interval(low: float, high: float, digits: int = 4) -> str:
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def p_value(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    if p == 0.0:
        return "0"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"
