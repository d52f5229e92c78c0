"""Memory-aware planning: a group's peak device memory from shapes, before anything compiles.

The runner vmaps a chunk of members and ``lax.map``s over the chunks of a device, so one
device holds, at its peak (bytes, one device):

    shared + members x member_io + chunk x per_member

- ``shared``: the data arrays (replicated, once per device);
- ``member_io``: each member's arguments and results (key, hyperparameters, final params,
  history), held for every member of the device whichever chunk is running;
- ``per_member``: one member's working peak inside its chunk -- what it carries from step to
  step (parameters, their last finite and last healthy copies, optimizer state: the carry of
  its training loop) plus the most it makes at once beyond that (``working``: a step's forward
  and backward at ``setup.rows_per_step(n)`` rows, per-example gradients or their norms when
  ``gradient_statistics`` or ``dp`` asks, evaluation's forward on each split).

``per_member`` is measured on the member's own program, not re-derived from a formula: the
jaxpr of the runner's per-chunk program (``make_trainer(model, setup).train_members``) for a
chunk of one member, traced from shapes (no FLOPs), is walked in order and
every value is freed after its last use (liveness); the peak of the live bytes, with a
margin (``BUFFER_OVERHEAD``), is the figure. XLA fuses elementwise and layout operations into
their consumers, so such a value counts only where it must exist in memory: read by an
operation that reads a buffer (a matmul, a convolution, a gather, a loop) or returned (see
:func:`live_peak_bytes`). Within 2x of what XLA:CPU's ``memory_analysis()`` reports for the
engine's programs (tests/test_memory_planning.py).

Use (``Runner.__call__``, right before compiling; ``memory_budget`` in bytes or None)::

    plan = plan_chunk(model, setup, arrays, per_device,
                      resolve_budget(memory_budget, devices), preferred_chunk=chunk)
    chunk = plan.chunk            # raises MemoryBudgetError when one member does not fit
    ...compile...
    peak = measured_peak_bytes(compiled)   # None where the backend does not say

``plan.estimate_bytes`` beside ``peak`` is what a run folder records of the two.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.extend.core as jex
import jax.numpy as jnp

from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import Hyperparameters
from cs109nn.models.model import Model
from cs109nn.train.devices import ceil_div
from cs109nn.train.member import Arrays, Objective, make_trainer
from cs109nn.train.optimizers import make_optimizer
from cs109nn.train.setup import TrainSetup

# The share of a device's memory a group may plan to use by default. On CPU the "device" is
# the host's RAM, shared with the operating system, this Python process (numpy copies of the
# data and results) and any other process, and XLA:CPU allocates without a pool: half. An
# accelerator's ``bytes_limit`` is already XLA's own pool; keep a fifth of it for allocator
# fragmentation and the buffers other programs leave on the device.
CPU_BUDGET_FRACTION = 0.5
ACCELERATOR_BUDGET_FRACTION = 0.8


# XLA's buffers for one member, measured against this liveness peak on XLA:CPU (an MLP
# 64-256-1 on digits: full batch, minibatches, DP-SGD, gradient statistics): 0.96-1.14x. A
# fifth more, so that a planned chunk errs on the side of fitting.
BUFFER_OVERHEAD = 1.2


class MemoryBudgetError(ConfigError):
    """A group cannot fit the memory budget even one member per chunk; the message gives the
    numbers (needed vs available) and how to change them."""


class MemoryEstimate(NamedTuple):
    """Bytes one member needs on a device, by part, from shapes alone.

    params, optimizer_state: one copy of each (for reading; both are inside ``carry``);
    carry: what the member's training loop carries between evaluation intervals; working:
    the most it makes at once beyond the carry (activations, gradients, per-example gradients,
    evaluation) -- both as the liveness of its jaxpr counts them, before ``BUFFER_OVERHEAD``;
    member_io: its arguments and results, held for every member of the device; shared: the
    data, once per device whatever the number of members.
    """

    params: int
    optimizer_state: int
    carry: int
    working: int
    member_io: int
    shared: int

    @property
    def per_member(self) -> int:
        """One member's peak inside its chunk: (carry + working) x ``BUFFER_OVERHEAD``."""
        return math.ceil(BUFFER_OVERHEAD * (self.carry + self.working))

    @property
    def total(self) -> int:
        """One member alone on a device: :meth:`program_bytes` (1, 1)."""
        return self.program_bytes(1, 1)

    def program_bytes(self, chunk: int, members: int) -> int:
        """A device's peak with ``members`` members (padding included) in chunks of ``chunk``.
        The runner's program takes and returns every member's state: in and out (donated: one
        buffer), plus lax.map's stacked results over the chunks before they are the output --
        2 x ``members`` carries (measured against memory_analysis())."""
        return self.shared + members * (self.member_io + 2 * self.carry) + chunk * self.per_member

    def describe(self, chunk: int, members: int) -> str:
        """The parts of :meth:`program_bytes`, in words, for errors and reports."""
        return (
            f"{format_bytes(self.program_bytes(chunk, members))} = data "
            f"{format_bytes(self.shared)} + {members} member(s) x (results "
            f"{format_bytes(self.member_io)} + 2 x state {format_bytes(self.carry)}) + "
            f"{chunk} member(s) at once x "
            f"{format_bytes(self.per_member)} ({BUFFER_OVERHEAD}x: carry "
            f"{format_bytes(self.carry)} -- params {format_bytes(self.params)}, optimizer state "
            f"{format_bytes(self.optimizer_state)} and their copies -- plus working set "
            f"{format_bytes(self.working)}: activations, gradients, evaluation)"
        )


class ChunkPlan(NamedTuple):
    """The chunk a group runs with, the estimate of its peak (bytes, one device) and the
    budget it was planned against; ``memory`` the estimate's parts."""

    chunk: int
    estimate_bytes: int
    budget_bytes: int
    memory: MemoryEstimate


# --- the device's memory and the budget


def device_memory_bytes(device: Any) -> int:
    """A device's memory in bytes: its allocator's ``bytes_limit`` where the backend reports it
    (GPU, TPU); on CPU the host's physical memory shared by the process's CPU devices."""
    stats = _memory_stats(device)
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    sharing = len(jax.local_devices(backend="cpu")) if device.platform == "cpu" else 1
    return host // max(1, sharing)


def default_budget_bytes(device: Any) -> int:
    """A safe share of ``device_memory_bytes(device)`` (see ``CPU_BUDGET_FRACTION``)."""
    fraction = CPU_BUDGET_FRACTION if device.platform == "cpu" else ACCELERATOR_BUDGET_FRACTION
    return int(fraction * device_memory_bytes(device))


def resolve_budget(memory_budget: int | None, devices: Sequence[Any]) -> int:
    """The budget per device: ``memory_budget`` bytes when given, else the default of the
    smallest of ``devices`` (every device runs the same program)."""
    if memory_budget is not None:
        return int(memory_budget)
    return min(default_budget_bytes(device) for device in devices)


def _memory_stats(device: Any) -> dict | None:
    try:
        return device.memory_stats()
    except (NotImplementedError, RuntimeError):  # backends without an allocator to ask
        return None


# --- sizes as text

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e(\d+))?\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_bytes(value: int | float | str) -> int:
    """Bytes from a number or a size such as ``"512MiB"``, ``"2GiB"``, ``"1.5 GB"`` (KiB/MiB/
    GiB/TiB are powers of 1024, KB/MB/GB/TB of 1000; case-insensitive). Must be >= 1 byte;
    ConfigError otherwise."""
    expected = "a number of bytes or a size such as 512MiB or 2GiB"
    if isinstance(value, bool):
        raise ConfigError(f"expected {expected}, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        digits, exponent, unit = match.groups()
        if unit.lower() not in _UNITS:
            raise ConfigError(f"unknown unit {unit!r} in {value!r}; expected {expected}")
        number = float(digits) * 10 ** int(exponent or 0) * _UNITS[unit.lower()]
    else:
        raise ConfigError(f"expected {expected}, got {value!r}")
    if not math.isfinite(number) or number < 1:
        raise ConfigError(f"expected {expected} of at least 1 byte, got {value!r}")
    return int(number)


def format_bytes(num_bytes: float) -> str:
    """``1536 -> '1.5 KiB'``: powers of 1024, three significant figures."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(num_bytes) < 1024 or unit == "GiB":
            break
        num_bytes /= 1024
    return f"{num_bytes:.0f} B" if unit == "B" else f"{num_bytes:.3g} {unit}"


# --- the estimate


def estimate_member_bytes(
    model: Model, setup: TrainSetup, arrays: Arrays, *, objective: Objective | None = None
) -> MemoryEstimate:
    """One member's memory by part (see :class:`MemoryEstimate`), from shapes alone.

    ``arrays``: the data as :class:`~cs109nn.train.Arrays` of arrays or
    ``jax.ShapeDtypeStruct`` (x_train [n, ...], y_train [n], optional splits); features'
    dtype is the program's (hyperparameters take it too, as in the runner).
    """
    arrays = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), arrays)
    dtype = arrays.x_train.dtype
    # A chunk of one member of the runner's own per-chunk program (what it vmaps within a chunk
    # is linear in the chunk: every buffer but the data has the chunk as its leading axis).
    keys = jax.eval_shape(lambda: jax.random.split(jax.random.key(0), 1))
    hparams = Hyperparameters(
        **{name: jax.ShapeDtypeStruct((1,), dtype) for name in Hyperparameters._fields}
    )
    train_members = make_trainer(model, setup, objective=objective).train_members
    program = jax.make_jaxpr(train_members)(arrays, keys, hparams)  # traced, never run
    results = program.out_avals  # the results' shapes (no second trace)
    key = jax.eval_shape(lambda: jax.random.key(0))

    x_example = jax.ShapeDtypeStruct((1, *arrays.x_train.shape[1:]), dtype)
    params = jax.eval_shape(model.init, key, x_example)
    scalar = jnp.zeros((), dtype)
    tx = make_optimizer(setup.optimizer, scalar, scalar, scalar)
    opt_state = jax.eval_shape(tx.init, params)

    peak = live_peak_bytes(program.jaxpr)
    carry = max((_carry_bytes(eqn) for eqn in _all_eqns(program.jaxpr)), default=0)
    return MemoryEstimate(
        params=tree_bytes(params),
        optimizer_state=tree_bytes(opt_state),
        carry=carry,
        working=max(0, peak - carry),
        member_io=tree_bytes((keys, hparams)) + sum(aval_bytes(aval) for aval in results),
        shared=tree_bytes(arrays),
    )


def plan_chunk(
    model: Model,
    setup: TrainSetup,
    arrays: Arrays,
    members_per_device: int,
    budget_bytes: int,
    preferred_chunk: int,
    *,
    objective: Objective | None = None,
    memory: MemoryEstimate | None = None,
) -> ChunkPlan:
    """The chunk a group runs with: ``preferred_chunk`` (the engine's speed choice) when its
    estimate fits ``budget_bytes``, else the largest smaller chunk that fits, balanced so that
    the chunks are of equal size (little padding). Raises :class:`MemoryBudgetError` with the
    numbers when not even one member at a time fits. ``memory``: the estimate of these
    (model, setup, arrays), when the caller keeps one (it costs a trace); else made here."""
    if memory is None:
        memory = estimate_member_bytes(model, setup, arrays, objective=objective)
    members_per_device = max(1, members_per_device)
    preferred = max(1, min(preferred_chunk, members_per_device))

    def program_bytes(chunk: int) -> int:  # the runner pads the members to whole chunks
        members = ceil_div(members_per_device, chunk) * chunk
        return memory.program_bytes(chunk, members)

    if program_bytes(preferred) <= budget_bytes:
        return ChunkPlan(preferred, program_bytes(preferred), budget_bytes, memory)
    fits = [chunk for chunk in range(preferred - 1, 0, -1) if program_bytes(chunk) <= budget_bytes]
    if not fits:
        raise MemoryBudgetError(
            f"this group needs {memory.describe(1, members_per_device)} on each device, one "
            f"member at a time; the memory budget is {format_bytes(budget_bytes)}. Give it "
            "more (--set memory_budget=4GiB, say), or make a member smaller (batch_size, a "
            "smaller model) or the members per device fewer (fewer seeds or grid points, more "
            "devices)"
        )
    chunk = ceil_div(members_per_device, ceil_div(members_per_device, fits[0]))
    return ChunkPlan(chunk, program_bytes(chunk), budget_bytes, memory)


def measured_peak_bytes(compiled: Any) -> int | None:
    """A compiled program's own account of its device memory: arguments + outputs +
    temporaries - aliased bytes (``Compiled.memory_analysis()``); None where the backend
    gives none."""
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError):
        return None
    if stats is None:
        return None
    peak = (
        stats.argument_size_in_bytes
        + stats.output_size_in_bytes
        + stats.temp_size_in_bytes
        - stats.alias_size_in_bytes
    )
    return int(peak) if peak > 0 else None


# --- liveness over a jaxpr

# Operations XLA fuses into their consumers (elementwise and layout): their values need not
# exist in memory on their own. Reductions read a fused input too (their results do exist).
FUSED = frozenset(
    """abs acos acosh add and asin asinh atan atan2 atanh broadcast_in_dim cbrt ceil clamp
    concatenate convert_element_type copy copy_p cos cosh digamma div dynamic_slice eq erf
    erf_inv erfc exp exp2 expand_dims expm1 floor ge gt imag integer_pow iota is_finite le lgamma
    log log1p logistic lt max min mul ne neg nextafter not or pad population_count pow real
    reduce_precision rem reshape rev round rsqrt select_n shift_left shift_right_arithmetic
    shift_right_logical sign sin sinh slice sqrt square squeeze sub tan tanh transpose xor
    random_bits random_wrap random_unwrap random_seed threefry2x32""".split()
)
REDUCTIONS = frozenset(
    "reduce_sum reduce_max reduce_min reduce_prod reduce_and reduce_or reduce_xor argmax "
    "argmin".split()
)
# Calls XLA inlines: their operands are read as their inner jaxpr reads them.
CALLS = frozenset("pjit jit closed_call core_call custom_jvp_call custom_vjp_call remat".split())


def live_peak_bytes(jaxpr: jex.Jaxpr) -> int:
    """The most bytes of values made inside ``jaxpr`` that are alive at once.

    The equations run in order; a value is alive from the equation that makes it to its last
    use (or the end, if returned; a fused value's inputs to the fused value's last use); a
    nested jaxpr (loop body, branch, call) adds its own peak
    while its equation runs. A value of an operation in ``FUSED`` counts only if it must exist
    in memory: returned, or read by an operation outside ``FUSED``, ``REDUCTIONS`` and (as
    their inner jaxprs read it) ``CALLS``. The inputs of ``jaxpr`` are not counted: they are
    its caller's.
    """
    stored = _stored_values(jaxpr)
    last_use = {var: len(jaxpr.eqns) for var in _vars(jaxpr.outvars)}
    # Backwards, so that a fused value's inputs live until the fused value is read: the
    # operation that reads it reads them.
    for index in range(len(jaxpr.eqns) - 1, -1, -1):
        eqn = jaxpr.eqns[index]
        outputs = _vars(eqn.outvars)
        if outputs and not any(var in stored for var in outputs):
            index = max((last_use[var] for var in outputs if var in last_use), default=index)
        for var in _vars(eqn.invars):
            last_use[var] = max(last_use.get(var, index), index)
    live = {var: aval_bytes(var.aval) for var in jaxpr.constvars}
    current = peak = sum(live.values())
    for index, eqn in enumerate(jaxpr.eqns):
        made = {var: aval_bytes(var.aval) for var in _vars(eqn.outvars) if var in stored}
        inner = max((live_peak_bytes(sub) for sub in jex.jaxprs_in_params(eqn.params)), default=0)
        if eqn.primitive.name in CALLS:  # the call's results are among its inner values
            peak = max(peak, current + max(sum(made.values()), inner))
        else:  # a loop's results (final carry, stacked outputs) exist while its body runs
            peak = max(peak, current + sum(made.values()) + inner)
        for var, size in made.items():
            if var in last_use:  # a value never read is freed at once
                live[var] = size
                current += size
        for var in [var for var in live if last_use.get(var, index) <= index]:
            current -= live.pop(var)
    return peak


def _stored_values(jaxpr: jex.Jaxpr) -> set[jex.Var]:
    """The values of ``jaxpr`` that must exist in memory (see :func:`live_peak_bytes`)."""
    read = _buffer_reads(jaxpr)
    stored = set(_vars(jaxpr.outvars)) | read
    for eqn in jaxpr.eqns:
        if eqn.primitive.name not in FUSED:
            stored.update(_vars(eqn.outvars))
    return stored


def _buffer_reads(jaxpr: jex.Jaxpr) -> set[jex.Var]:
    """Values of (or passed into) ``jaxpr`` that some operation reads from memory."""
    read: set[jex.Var] = set()
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in FUSED or name in REDUCTIONS:
            continue
        inner = list(jex.jaxprs_in_params(eqn.params))
        if name in CALLS and len(inner) == 1 and len(inner[0].invars) == len(eqn.invars):
            inner_reads = _buffer_reads(inner[0]) | set(_vars(inner[0].outvars))
            pairs = zip(eqn.invars, inner[0].invars, strict=True)
            read.update(v for v, w in pairs if isinstance(v, jex.Var) and w in inner_reads)
        else:
            read.update(_vars(eqn.invars))
    return read


def _carry_bytes(eqn: jex.JaxprEqn) -> int:
    """Bytes a loop carries from one iteration to the next (0 for anything else)."""
    if eqn.primitive.name == "scan":
        start = eqn.params["num_consts"]
        return sum(aval_bytes(v.aval) for v in eqn.invars[start : start + eqn.params["num_carry"]])
    if eqn.primitive.name == "while":
        start = eqn.params["cond_nconsts"] + eqn.params["body_nconsts"]
        return sum(aval_bytes(v.aval) for v in eqn.invars[start:])
    return 0


def _all_eqns(jaxpr: jex.Jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for sub in jex.jaxprs_in_params(eqn.params):
            yield from _all_eqns(sub)


def _vars(atoms) -> list[jex.Var]:
    """The variables among a list of jaxpr atoms (literals and dropped outputs left out)."""
    return [a for a in atoms if isinstance(a, jex.Var) and not isinstance(a, jex.DropVar)]


def aval_bytes(aval: Any) -> int:
    """Bytes of an abstract value: elements x item size (PRNG keys included); 0 for tokens."""
    shape, dtype = getattr(aval, "shape", None), getattr(aval, "dtype", None)
    if shape is None or dtype is None:
        return 0
    return math.prod(shape) * dtype.itemsize


def tree_bytes(tree: Any) -> int:
    """Bytes of a pytree of arrays or ``jax.ShapeDtypeStruct`` (None leaves: none)."""
    return sum(aval_bytes(leaf) for leaf in jax.tree.leaves(tree))
