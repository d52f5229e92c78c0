"""Statistics across seeds and over test examples, and figures, from run folders only.

``write_report(run_dir)`` regenerates ``report.md`` and ``figures/*.png`` of a run folder. The
statistics underneath are plain functions of numbers: confidence intervals for a mean across
seeds (``intervals``: Student-t and seeded bootstrap) and for an accuracy over test examples
(``intervals``: Wilson), paired comparisons of two configs over shared seeds
(``significance``), the one rule that ranks configs, by validation (``ranking``), which the
sweep's terminal summary uses too, and what is reported about the selected config on test
(``selected``). This layer reads files through ``cs109nn.run_folder_schema`` with numpy,
scipy, matplotlib and the standard library: never JAX, the engine or the sweep code.
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
from cs109nn.report.intervals import (
    Interval,
    bootstrap_interval,
    curve_t_interval,
    t_interval,
    wilson_interval,
)
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
from cs109nn.report.selected import (
    SelectedResult,
    count_test_examples,
    reported_interval,
    selected_result,
    split_sizes,
)
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
    "SelectedResult",
    "best_by_group",
    "bootstrap_interval",
    "compare_configs",
    "config_columns",
    "config_key",
    "config_label",
    "count_test_examples",
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
    "reported_interval",
    "rows_by_dataset",
    "selected_result",
    "selection_metric",
    "sign_flip_test",
    "split_sizes",
    "summarize_config",
    "summarize_manifest",
    "t_interval",
    "varying_columns",
    "wilson_interval",
    "write_report",
]
