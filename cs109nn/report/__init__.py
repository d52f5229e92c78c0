"""Statistics across seeds and figures, from run folders only.

``write_report(run_dir)`` regenerates ``report.md`` and ``figures/*.png`` of a run folder. The
statistics underneath are plain functions of numbers: confidence intervals for a mean across
seeds (``intervals``: Student-t and seeded bootstrap), paired comparisons of two configs over
shared seeds (``significance``), and the one rule that ranks configs (``ranking``), which the
sweep's terminal summary uses too. This layer reads files through
``cs109nn.run_folder_schema`` with numpy, scipy, matplotlib and the standard library: never
JAX, the engine or the sweep code.
"""

from cs109nn.report.configs import (
    ConfigKey,
    config_columns,
    config_key,
    config_label,
    group_by_config,
    label_columns,
    rows_by_dataset,
    varying_columns,
)
from cs109nn.report.intervals import Interval, bootstrap_interval, curve_t_interval, t_interval
from cs109nn.report.ranking import (
    ConfigSummary,
    best_by_group,
    diverged_members,
    is_diverged,
    rank_by_dataset,
    rank_configs,
    selection_metric,
    summarize_config,
)
from cs109nn.report.read import ManifestSummary, Run, read_run, summarize_manifest
from cs109nn.report.significance import (
    PairedComparison,
    PairedTest,
    compare_configs,
    paired_t_test,
    sign_flip_test,
)
from cs109nn.report.write import render_report, write_report

__all__ = [
    "ConfigKey",
    "ConfigSummary",
    "Interval",
    "ManifestSummary",
    "PairedComparison",
    "PairedTest",
    "Run",
    "best_by_group",
    "bootstrap_interval",
    "compare_configs",
    "config_columns",
    "config_key",
    "config_label",
    "curve_t_interval",
    "diverged_members",
    "group_by_config",
    "is_diverged",
    "label_columns",
    "paired_t_test",
    "rank_by_dataset",
    "rank_configs",
    "read_run",
    "render_report",
    "rows_by_dataset",
    "selection_metric",
    "sign_flip_test",
    "summarize_config",
    "summarize_manifest",
    "t_interval",
    "varying_columns",
    "write_report",
]
