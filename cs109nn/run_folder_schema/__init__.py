"""The run folder's schema: its files, results.csv's columns and their types, how a cell is
written and read back, the manifest and the .npz arrays. The one place of these facts, read by
the sweep (which writes a folder) and the report (which reads one); free of JAX.

::

    RUN_DIR/
      manifest.json         format, resolved config and its hash, the plan, the environment
                            (versions, numerics flags, backend and devices, process count, git
                            commit) of the session that started the run, started/finished;
                            ``sessions``: each invocation (a resume is one) with its environment,
                            start, end (null if killed) and the groups it trained
      results.csv           one row per trained member (``results_columns``)
      curves/<group>.npz    per group: eval_steps [T], each history metric [M, T], member, seed,
                            each hyperparameter, diverged, diverged_step [M]
      params/<group>.npz    per group, when ``save_params``: flattened params, leading axis [M]
      search/<group>.npz    per halving or PBT group: its rungs, or its lineage and
                            hyperparameter schedules (``SEARCH_ARRAYS``)
      report.md, figures/   the report (``cs109nn report``), regenerated from the rest

Cells are written so that they read back exactly: floats as ``repr(float(x))`` (a float32
value reads back as the float64 holding exactly that value), booleans as True/False, absent
values as empty cells. Reading is strict: a column or a cell the sweep never writes is an
error naming the file, the row and the column, never a guess.
"""

from cs109nn.run_folder_schema.curves import (
    CURVE_MEMBER_ARRAYS,
    Curves,
    read_curves,
    write_curves,
)
from cs109nn.run_folder_schema.files import (
    CHECKPOINTS,
    CURVES,
    FIGURES,
    LOCK,
    LOCK_FILES,
    LOCK_OWNER,
    MANIFEST,
    MANIFEST_FORMAT,
    PARAMS,
    REPORT,
    RESULTS,
    RUN_FOLDER_ENTRIES,
    SEARCH,
    SEARCH_ARRAYS,
    SEARCHES,
    SELECTING_SEARCHES,
    RunFolderFormatError,
    checkpoints_path,
    curves_path,
    delete_run,
    file_digest,
    params_path,
    read_arrays,
    search_path,
    write_arrays,
)
from cs109nn.run_folder_schema.manifest import read_manifest, write_manifest
from cs109nn.run_folder_schema.results_table import (
    COLUMNS,
    CONFIG_COLUMNS,
    CURVE_METRICS,
    DIVERGENCE_COLUMNS,
    MEMBER_COLUMNS,
    OPTIONAL_KINDS,
    SEARCH_COLUMNS,
    TEST_METRICS,
    TIMING_COLUMNS,
    TRAIN_METRICS,
    VAL_METRICS,
    Column,
    batch_size_cell,
    batch_size_from_cell,
    format_value,
    parse_cell,
    read_results,
    read_typed_results,
    results_columns,
    rows_digest,
    write_results,
)

__all__ = [
    "COLUMNS",
    "CONFIG_COLUMNS",
    "CHECKPOINTS",
    "CURVES",
    "CURVE_MEMBER_ARRAYS",
    "CURVE_METRICS",
    "Column",
    "Curves",
    "DIVERGENCE_COLUMNS",
    "FIGURES",
    "LOCK",
    "LOCK_FILES",
    "LOCK_OWNER",
    "MANIFEST",
    "MANIFEST_FORMAT",
    "MEMBER_COLUMNS",
    "OPTIONAL_KINDS",
    "PARAMS",
    "REPORT",
    "RESULTS",
    "RUN_FOLDER_ENTRIES",
    "RunFolderFormatError",
    "SEARCH",
    "SEARCH_ARRAYS",
    "SEARCH_COLUMNS",
    "SEARCHES",
    "SELECTING_SEARCHES",
    "TEST_METRICS",
    "TIMING_COLUMNS",
    "TRAIN_METRICS",
    "VAL_METRICS",
    "batch_size_cell",
    "batch_size_from_cell",
    "checkpoints_path",
    "curves_path",
    "delete_run",
    "file_digest",
    "format_value",
    "params_path",
    "parse_cell",
    "read_arrays",
    "read_curves",
    "read_manifest",
    "read_results",
    "read_typed_results",
    "results_columns",
    "rows_digest",
    "search_path",
    "write_arrays",
    "write_curves",
    "write_manifest",
    "write_results",
]
