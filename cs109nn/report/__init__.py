"""Statistics across seeds and figures, from run folders only.

``write_report(run_dir)`` regenerates ``report.md`` and ``figures/*.png`` of a run folder. The
statistics underneath are plain functions of numbers: confidence intervals for a mean across
seeds (Student-t and seeded bootstrap) and paired comparisons of two configs over shared
seeds. This layer reads files with numpy, matplotlib and the standard library: never JAX, the
engine or the sweep code.
"""

from cs109nn.report.configs import (
    ConfigKey,
    config_columns,
    config_key,
    config_label,
    group_by_config,
    label_columns,
    primary_metric,
    rows_by_dataset,
    varying_columns,
)
from cs109nn.report.read import (
    Curves,
    ManifestSummary,
    Run,
    read_curves,
    read_manifest,
    read_results,
    read_run,
    summarize_manifest,
)
from cs109nn.report.statistics import (
    ConfigSummary,
    Interval,
    PairedComparison,
    PairedTest,
    bootstrap_interval,
    compare_configs,
    curve_t_interval,
    is_diverged,
    paired_t_test,
    rank_by_dataset,
    rank_configs,
    sign_flip_test,
    student_t_cdf,
    student_t_quantile,
    student_t_two_sided_p,
    summarize_config,
    t_interval,
)
from cs109nn.report.write import render_report, write_report

__all__ = [
    "ConfigKey",
    "ConfigSummary",
    "Curves",
    "Interval",
    "ManifestSummary",
    "PairedComparison",
    "PairedTest",
    "Run",
    "bootstrap_interval",
    "compare_configs",
    "config_columns",
    "config_key",
    "config_label",
    "curve_t_interval",
    "group_by_config",
    "is_diverged",
    "label_columns",
    "paired_t_test",
    "primary_metric",
    "rank_by_dataset",
    "rank_configs",
    "read_curves",
    "read_manifest",
    "read_results",
    "read_run",
    "render_report",
    "rows_by_dataset",
    "sign_flip_test",
    "summarize_manifest",
    "student_t_cdf",
    "student_t_quantile",
    "student_t_two_sided_p",
    "summarize_config",
    "t_interval",
    "varying_columns",
    "write_report",
]
