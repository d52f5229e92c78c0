"""Many processes, one sweep: JAX's own multi-controller runtime, switched on by the launcher.

Every process runs the same program on its slice of the members (the engine shards the member
axis over ``jax.devices()``, which spans all processes once ``jax.distributed`` is up) and gets
the gathered results; process 0 alone writes the run folder. The same code runs on one
process, where all of this is a no-op.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from cs109nn.errors import ConfigError

ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"


def maybe_initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Join a multi-process run when asked to; returns whether JAX runs distributed.

    Arguments (launcher flags) take precedence over the environment variables
    ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``. With neither, nothing happens. Must run before any JAX computation.
    """
    coordinator = coordinator or os.environ.get(ENV_COORDINATOR) or None
    num_processes = num_processes if num_processes is not None else _env_int(ENV_NUM_PROCESSES)
    process_id = process_id if process_id is not None else _env_int(ENV_PROCESS_ID)
    if coordinator is None and num_processes is None and process_id is None:
        return False
    if jax.distributed.is_initialized():
        return True
    if None in (coordinator, num_processes, process_id):
        raise ConfigError(
            "a multi-process run needs the coordinator address, the number of processes and "
            f"this process's id (flags or {ENV_COORDINATOR}, {ENV_NUM_PROCESSES}, "
            f"{ENV_PROCESS_ID}); got {coordinator!r}, {num_processes!r}, {process_id!r}"
        )
    # The CPU backend needs a collectives implementation to talk across processes; the
    # setting is read by the CPU client only, so it is harmless on GPU and TPU.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )
    return True


def is_writer() -> bool:
    """Whether this process writes the run folder: process 0 (the only one when alone)."""
    return jax.process_index() == 0


def broadcast_from_writer(values: np.ndarray) -> np.ndarray:
    """``values`` as process 0 has them, on every process (an int array of equal shape
    everywhere). Lets process 0 alone read the run folder and tell the others what it found."""
    if jax.process_count() == 1:
        return values
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(values))


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    return int(text) if text else None


def share_done_groups(group_ids: list[str], done: set[str], *, failed: bool) -> tuple[str, ...]:
    """The groups finished in the folder as process 0 found them (``done``), on every process;
    a process other than 0 raises when process 0 ``failed`` to open the folder."""
    flags = np.array([failed] + [group_id in done for group_id in group_ids], np.int32)
    flags = broadcast_from_writer(flags)
    if flags[0] and not is_writer():
        raise RuntimeError("process 0 could not open the run folder; see its error")
    return tuple(group_id for group_id, flag in zip(group_ids, flags[1:], strict=True) if flag)
