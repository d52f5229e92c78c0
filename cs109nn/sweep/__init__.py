"""Sweeps: specs, plans, run folders, resume and many processes (see DESIGN.md, issue 5).

``run_sweep(spec, out_dir)`` trains the product of a spec's static axes (one compile per group)
and vectorised axes (members of one program) into a run folder that can be trusted, resumed
after a crash and reproduced.
"""

from cs109nn.sweep.distributed import is_writer, maybe_initialize_distributed
from cs109nn.sweep.lifecycle import ConfigChangedError, RunFolderError
from cs109nn.sweep.plan import Group, Members, Plan, make_plan, program_key
from cs109nn.sweep.runner import SweepEvent, run_sweep
from cs109nn.sweep.spec import (
    SpecError,
    SweepSpec,
    apply_overrides,
    config_hash,
    from_config,
    to_config,
)

__all__ = [
    "ConfigChangedError",
    "Group",
    "Members",
    "Plan",
    "RunFolderError",
    "SpecError",
    "SweepEvent",
    "SweepSpec",
    "apply_overrides",
    "config_hash",
    "from_config",
    "is_writer",
    "make_plan",
    "program_key",
    "maybe_initialize_distributed",
    "run_sweep",
    "to_config",
]
