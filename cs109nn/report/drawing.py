"""What every figure of a report shares: metric titles (the report's text uses them too),
colours, file names, and writing a figure as a PNG.

Figures are drawn with matplotlib's object API on an Agg canvas: no pyplot, so nothing global
(backend, open-figure list) is touched and a notebook's own backend is left alone.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cs109nn.atomic_files import write_atomic

METRIC_TITLES = {
    "train_ll": "train log-likelihood (mean per example)",
    "val_ll": "validation log-likelihood (mean per example)",
    "test_ll": "test log-likelihood (mean per example)",
    "train_acc": "train accuracy",
    "val_acc": "validation accuracy",
    "test_acc": "test accuracy",
    "final_train_ll": "final train log-likelihood (mean per example)",
    "final_val_ll": "final validation log-likelihood (mean per example)",
    "final_test_ll": "final test log-likelihood (mean per example)",
    "final_train_acc": "final train accuracy",
    "final_val_acc": "final validation accuracy",
    "final_test_acc": "final test accuracy",
}
COLORS = [f"C{i}" for i in range(10)]


def file_safe(name: str) -> str:
    """``name`` with anything but letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "unnamed"


def save_figure(figure: Figure, path: Path, dpi: int = 120) -> Path:
    """Write ``figure`` as a PNG at ``path``, atomically."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_atomic(path, buffer.getvalue())
