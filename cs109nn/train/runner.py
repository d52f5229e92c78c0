"""The runner: many members' training runs as one compiled, sharded program, on the host side.

The training itself is the pure ``train(data, key, hparams)`` of :func:`~cs109nn.train.make_train`;
this layer only places it: ``vmap`` within a chunk of members, ``lax.map`` over chunks within a
device (how many members share one vectorised program is a speed choice, see
``choose_chunk_size``), ``shard_map`` over a mesh of all devices, ``jit`` ahead of time once per
member layout; it pads the member axis to fill the devices, times compile and run, and gathers
every result to numpy with the padding dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec

from cs109nn.data.dataset import Dataset, check_dataset
from cs109nn.errors import ConfigError
from cs109nn.grads.per_example import convolves as loss_convolves
from cs109nn.hyperparameters import Hyperparameters, member_hyperparameters
from cs109nn.models.masked import check_architecture
from cs109nn.models.model import Model, Params
from cs109nn.train import devices as dev
from cs109nn.train.checkpoints import CheckpointPolicy, GroupCheckpoints, due, segment_intervals
from cs109nn.train.devices import ceil_div
from cs109nn.train.member import (
    Arrays,
    Objective,
    as_arrays,
    empty_history,
    make_trainer,
    split_member_keys,
)
from cs109nn.train.memory import (
    ChunkPlan,
    MemoryEstimate,
    estimate_member_bytes,
    measured_peak_bytes,
    plan_chunk,
    resolve_budget,
)
from cs109nn.train.setup import TrainSetup
from cs109nn.train.subset import check_subset_sizes


class TrainResult(NamedTuple):
    """Every member's outcome, as numpy on every process (padding members dropped).

    params: pytree, leaves [M, ...]; history: name -> [M, T] (train_ll, train_acc and, with a
    test split, test_ll, test_acc; LL is the mean per example); eval_steps: [T]; final:
    name -> [M] (the last column); diverged: [M] bool; diverged_step: [M] (-1 when not);
    compile_seconds and run_seconds of this call (a resumed run's: the segments it ran).
    """

    params: Params
    history: dict[str, np.ndarray]
    eval_steps: np.ndarray
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_step: np.ndarray
    compile_seconds: float
    run_seconds: float
    resumed_intervals: int = 0  # evaluation intervals restored from a checkpoint, not rerun
    # per device: the planner's estimate of the training program's peak, the compiled
    # program's own figure (None where the backend gives none) and the budget planned for
    memory_estimate_bytes: int | None = None
    memory_peak_bytes: int | None = None
    memory_budget_bytes: int | None = None
    chunk: int | None = None  # members vectorised at once per device, as run


class Placed(NamedTuple):
    """Members put on the mesh (:meth:`Runner.place`): what the training program runs on.

    num_members: M, the real ones; size: M padded to fill the devices' chunks; chunk: members
    vectorised at once per device; data: the replicated arrays; key_data [size, ...] and
    hparams (leaves [size]): split over the mesh; memory: the chunk's memory plan.
    """

    num_members: int
    size: int
    chunk: int
    data: Arrays
    key_data: jax.Array
    hparams: Hyperparameters
    memory: ChunkPlan


def member_keys(seeds: Sequence[int] | np.ndarray) -> jax.Array:
    """[M] typed PRNG keys: member i's key is ``jax.random.key(seeds[i])``, its seed alone."""
    seeds = np.asarray(seeds)
    if seeds.ndim != 1:
        raise ConfigError(f"seeds must be a 1-D sequence of ints; got shape {seeds.shape}")
    # Stacked as key data, then wrapped: a stack of typed keys counts as consuming them under
    # jax_debug_key_reuse; the bits are those of jax.random.key(seed) either way.
    data = [np.asarray(jax.random.key_data(jax.random.key(int(seed)))) for seed in seeds]
    return jax.random.wrap_key_data(np.stack(data))


def choose_chunk_size(model: Model, x_example: np.ndarray, rows: int, members: int) -> int:
    """How many members to vectorise at once on one device.

    vmapping every member turns each layer into one batched matmul whose working set outgrows
    the caches as members grow (measured: 2.6k member-steps/s at 256 members vs 3.6k at 8 for
    an MLP on digits). Keep a chunk's activations and parameters near ``CHUNK_BYTES``, at most
    ``MAX_CHUNK`` members, and the chunks of equal size so that padding stays small.
    """
    shapes = jax.eval_shape(model.init, jax.random.key(0), x_example[:1])
    if jax.default_backend() == "cpu" and convolves(model, shapes, x_example):
        # XLA:CPU turns a convolution vmapped over members into a grouped convolution, far
        # slower per member than the plain one (experiments/benchmarks/conv.py): lax.map runs
        # the members one by one inside the one program instead.
        return 1
    num_params = sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes))
    features = int(np.prod(x_example.shape[1:]))
    # Hidden activations per row are about |theta| / features for a dense stack.
    per_member = 4 * (4 * num_params + rows * (features + max(1, num_params // features)))
    largest = int(max(1, min(members, MAX_CHUNK, CHUNK_BYTES // per_member)))
    # Prefer a chunk that divides the members (no padding at all); failing a divisor of at
    # least half the largest, balance the chunks (1024 in chunks of 480 would pad to 1440).
    divisor = max(d for d in range(1, largest + 1) if members % d == 0)
    if 2 * divisor >= largest:
        return divisor
    return ceil_div(members, ceil_div(members, largest))


def convolves(model: Model, params_shapes, x_example: np.ndarray) -> bool:
    """Whether ``model``'s forward pass contains a convolution (traced, no FLOPs)."""
    example = jax.ShapeDtypeStruct((1, *np.shape(x_example)[1:]), np.float32)
    return loss_convolves(lambda params, x, _: model.apply(params, x), params_shapes, example, None)


# The compiled program that trains members, by the name jax's compile log gives it (one
# program per member layout serves whole runs, segments and resumed runs alike).
TRAINING_PROGRAMS = ("train_members",)

# Measured on 2 CPU cores (experiments/benchmarks): P2's MLP peaks near 8-16 members a chunk
# (~5-10 MB of activations), P1's logistic regression near 256 (its working set is tiny, but XLA
# splits a larger chunk's elementwise work less well).
CHUNK_BYTES = 8 << 20
MAX_CHUNK = 256


class Runner:
    """``runner(keys[M], hparams) -> TrainResult``: the pure ``train`` placed on every device.

    Built for one model, one data shape and one :class:`TrainSetup` (what compiles once); it
    keeps one compiled program per member layout (padded member count, chunk size), so a sweep
    whose groups share these reuses it for every data set of the same shapes.
    """

    def __init__(
        self,
        model: Model,
        data: Dataset,
        setup: TrainSetup,
        *,
        objective: Objective | None = None,
        chunk_size: int | None = None,
        devices: list | None = None,
        memory_budget: int | None = None,
    ) -> None:
        self.model, self.setup, self.chunk_size = model, setup, chunk_size
        self.objective, self.memory_budget = objective, memory_budget
        self._memory: MemoryEstimate | None = None  # traced on first call
        self.mesh = dev.member_mesh(devices)
        # the boundary: data checked against the model's head before anything is traced
        self.arrays = as_arrays(check_dataset(data, num_classes=model.num_classes))
        self.dtype = self.arrays.x_train.dtype
        self._rows = setup.rows_per_step(self.arrays.x_train.shape[0])
        self._trainer = make_trainer(model, setup, objective=objective)
        # (padded members, chunk) -> the compiled program; -> the blank state it starts from
        self._compiled: dict[tuple[int, int], jax.stages.Compiled] = {}
        self._blanks: dict[tuple[int, int], Callable] = {}
        # programs built around the training program (population-based training's), by their
        # layout and settings: compiled once per runner
        self.search_programs: dict[tuple, jax.stages.Compiled] = {}

    @property
    def trainer(self):
        """The pure pieces of the training run this runner places (``make_trainer``'s)."""
        return self._trainer

    def arrays_of(self, data: Dataset | None) -> Arrays:
        """The arrays a call trains on: the set-up's (``data`` None), or another data set's
        for the same compiled program, which must match its shapes and dtypes."""
        return self.arrays if data is None else self._same_shapes(data)

    def _same_shapes(self, data: Dataset) -> Arrays:
        """Another data set for the same compiled program: it must match shapes and dtypes."""
        arrays = as_arrays(check_dataset(data, num_classes=self.model.num_classes), self.dtype)
        expected = jax.tree.map(lambda a: (a.shape, a.dtype), self.arrays)
        actual = jax.tree.map(lambda a: (a.shape, a.dtype), arrays)
        if expected != actual:
            raise ValueError(
                f"data {data.name!r} does not fit this runner's program: expected (shape, "
                f"dtype) per array {expected}, got {actual}"
            )
        return arrays

    @property
    def eval_steps(self) -> np.ndarray:
        """[T]: the step after which each history column is measured."""
        return self.setup.eval_steps

    def plan_memory(self, num_members: int, chunk: int | None = None) -> ChunkPlan:
        """How ``num_members`` members will run: the chunk (``chunk``, else ``chunk_size``,
        else the speed choice of ``choose_chunk_size``; made smaller until the estimate fits
        the memory budget) and the estimate beside the budget. Raises ``MemoryBudgetError``
        with the numbers, before anything compiles, when not even one member at a time
        fits."""
        per_device = ceil_div(num_members, self.mesh.devices.size)
        chunk = (
            chunk
            or self.chunk_size
            or choose_chunk_size(self.model, self.arrays.x_train, self._rows, per_device)
        )
        if self._memory is None:  # a trace of the program from shapes, once per runner
            self._memory = estimate_member_bytes(
                self.model, self.setup, self.arrays, objective=self.objective
            )
        return plan_chunk(
            self.model,
            self.setup,
            self.arrays,
            per_device,
            resolve_budget(self.memory_budget, list(self.mesh.devices.flat)),
            preferred_chunk=max(1, min(chunk, per_device)),
            memory=self._memory,
        )

    def placed_program(self, chunk: int) -> Callable:
        """The SPMD training function, not yet jitted: per device, lax.map over chunks of
        ``chunk`` members, each chunk ``run_members`` from its state (or, when ``fresh``, from
        ``init_members``) until interval ``stop``; arguments (data, key_data, hparams, states,
        history, fresh, stop) as global arrays, members split over the mesh. One program
        serves a whole run, its segments, a resumed run and a rung of successive halving;
        population-based training calls it inside its own program
        (``cs109nn.train.population``)."""
        trainer = self._trainer

        def members(data, keys, hparams, states, history, fresh, stop):
            streams = split_member_keys(keys)  # split once, folded with steps after
            states = lax.cond(
                fresh, lambda: trainer.init_members(data, streams, hparams), lambda: states
            )
            return trainer.run_members(data, streams, hparams, states, history, stop)

        def train_members(data, key_data, hparams, states, history, fresh, stop):
            keys = jax.random.wrap_key_data(key_data)
            local_members = key_data.shape[0]
            if local_members == chunk:
                return members(data, keys, hparams, states, history, fresh, stop)
            split = lambda a: a.reshape(local_members // chunk, chunk, *a.shape[1:])  # noqa: E731
            chunks = jax.tree.map(split, (keys, hparams, states, history))
            out = lax.map(lambda c: members(data, *c, fresh, stop), chunks)
            return jax.tree.map(lambda a: a.reshape(local_members, *a.shape[2:]), out)

        by_member, replicated = PartitionSpec(dev.MEMBERS), PartitionSpec()
        return jax.shard_map(
            train_members,
            mesh=self.mesh,
            in_specs=(replicated, *[by_member] * 4, replicated, replicated),
            # Members never communicate; skip varying-axis typing of the loop carries.
            out_specs=by_member,
            check_vma=False,
        )

    def place(
        self,
        keys: jax.Array,
        hparams: Mapping[str, object] | Hyperparameters,
        data: Dataset | None = None,
        *,
        chunk: int | None = None,
    ) -> Placed:
        """Check the members and put them on the mesh: keys [M] (``member_keys``), hparams
        name -> [M] or a scalar (a name left out takes its default), ``data`` another data set
        of the same shapes (default: the set-up's), ``chunk`` members vectorised at once
        (default: ``plan_memory``'s choice). Raises ConfigError before anything compiles."""
        arrays = self.arrays_of(data)
        key_data = np.asarray(jax.random.key_data(keys))
        num_members = key_data.shape[0]
        hp = member_hyperparameters(hparams, num_members, self.dtype)
        if self.setup.architectures:
            check_architecture(self.model, hp.width, hp.depth)
        elif np.isfinite(hp.width).any() or np.isfinite(hp.depth).any():
            raise ConfigError(
                "members with their own width or depth need TrainSetup(architectures=True) "
                "(make_runner(..., architectures=True)): the masked program"
            )
        check_subset_sizes(hp.train_size, arrays.x_train.shape[0])
        if self.setup.dp and np.any(hp.train_size < arrays.x_train.shape[0]):
            raise ConfigError(
                "train_size below the training split's size needs dp=False: DP-SGD clips the "
                "gradients of whole batches, not of a training subset"
            )
        memory = self.plan_memory(num_members, chunk)
        size = dev.padded_size(num_members, self.mesh.devices.size * memory.chunk)
        replicated, _ = dev.shardings(self.mesh)
        return Placed(
            num_members=num_members,
            size=size,
            chunk=memory.chunk,
            data=jax.tree.map(lambda a: dev.global_array(a, replicated), arrays),
            key_data=self.put_members(size, key_data),
            hparams=self.put_members(size, hp),
            memory=memory,
        )

    def put_members(self, size: int, tree):
        """A host pytree of [M, ...] leaves padded to ``size`` members and split over the
        mesh (e.g. the states of successive halving's survivors)."""
        _, split = dev.shardings(self.mesh)
        return jax.tree.map(lambda a: dev.global_array(a, split), dev.pad_members(tree, size))

    def compiled(self, placed: Placed) -> tuple[jax.stages.Compiled, float]:
        """The training program of ``placed``'s layout (padded members, chunk), compiled on
        first use, and the seconds its compile took now (0 when it was already compiled)."""
        layout = (placed.size, placed.chunk)
        if layout in self._compiled:
            return self._compiled[layout], 0.0
        start = time.perf_counter()
        states, history = self.blank(placed)
        program = jax.jit(self.placed_program(placed.chunk), donate_argnums=(3, 4))
        lowered = program.lower(
            placed.data, placed.key_data, placed.hparams, states, history, np.bool_(True),
            np.int32(self.setup.num_evaluations),
        )  # fmt: skip
        self._compiled[layout] = lowered.compile()
        return self._compiled[layout], time.perf_counter() - start

    def blank(self, placed: Placed):
        """(states, history) of ``placed``'s layout that a fresh start ignores: its shapes and
        shardings, zeros and NaN."""
        layout = (placed.size, placed.chunk)
        if layout not in self._blanks:
            _, split = dev.shardings(self.mesh)
            streams = split_member_keys(jax.random.wrap_key_data(placed.key_data))
            shapes = jax.eval_shape(
                lambda: self._trainer.init_members(placed.data, streams, placed.hparams)
            )
            total = self.setup.num_evaluations
            self._blanks[layout] = jax.jit(
                lambda: (
                    jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes),
                    empty_history(shapes.healthy_metrics, total),
                ),
                out_shardings=split,
            )
        return self._blanks[layout]()

    def run(self, placed: Placed, states, history, *, fresh: bool, stop: int):
        """``placed``'s members from ``states`` (or from their start, when ``fresh``) until
        ``stop`` evaluation intervals are done: (states, history), on the devices. The
        arguments' buffers are donated."""
        program, _ = self.compiled(placed)
        return jax.block_until_ready(
            program(
                placed.data, placed.key_data, placed.hparams, states, history, np.bool_(fresh),
                np.int32(stop),
            )
        )  # fmt: skip

    def result(
        self,
        placed: Placed,
        states,
        history,
        *,
        compile_seconds: float,
        run_seconds: float,
        resumed: int = 0,
        last_intervals: np.ndarray | None = None,
        program: jax.stages.Compiled | None = None,
    ) -> TrainResult:
        """The members' outcome from their final ``states`` and ``history`` (on the devices,
        padded, or on the host), on the host. ``last_intervals`` [M]: the intervals each
        member trained (successive halving's), whose last column gives ``final`` (default:
        the last column); ``program``: the one that ran (default: ``placed``'s training
        program), whose memory the result reports."""
        num_members = placed.num_members
        params, diverged_step, history = jax.tree.map(
            lambda a: np.asarray(a)[:num_members],
            dev.to_host((states.step.params, states.step.diverged_step, history)),
        )
        columns = (
            np.full(num_members, -1) if last_intervals is None else np.asarray(last_intervals) - 1
        )
        rows = np.arange(num_members)
        return TrainResult(
            params=params,
            history=history,
            eval_steps=self.eval_steps,
            final={name: a[rows, columns] for name, a in history.items()},
            diverged=diverged_step >= 0,
            diverged_step=diverged_step,
            compile_seconds=compile_seconds,
            run_seconds=run_seconds,
            resumed_intervals=resumed,
            memory_estimate_bytes=placed.memory.estimate_bytes,
            memory_peak_bytes=measured_peak_bytes(program or self.compiled(placed)[0]),
            memory_budget_bytes=placed.memory.budget_bytes,
            chunk=placed.chunk,
        )

    def __call__(
        self,
        keys: jax.Array,
        hparams: Mapping[str, object] | Hyperparameters,
        data: Dataset | None = None,
        *,
        checkpoints: CheckpointPolicy | None = None,
    ) -> TrainResult:
        """Train M members: keys [M] (``member_keys``), hparams name -> [M] or a scalar (a
        name left out takes its default).

        ``data``: another data set of the same shapes and dtypes (e.g. XOR instead of
        spirals) reuses the compiled program; by default the set-up's data. ``checkpoints``:
        train in segments and save the members' state as the policy says, continuing from a
        checkpoint left by an earlier call (:mod:`cs109nn.train.checkpoints`); the same
        program, the same bits. None: the whole run in one call of the program.
        """
        placed = self.place(keys, hparams, data)
        program, compile_seconds = self.compiled(placed)
        # The plan is an estimate; the compiled program's own figure is the truth: where it is
        # over the budget, halve the chunk and compile again (only then).
        while placed.chunk > 1 and _over_budget(program, placed):
            placed = self.place(keys, hparams, data, chunk=placed.chunk // 2)
            program, seconds = self.compiled(placed)
            compile_seconds += seconds
        states, history = self.blank(placed)
        total = self.setup.num_evaluations
        resumed = 0
        if checkpoints is None:
            start = time.perf_counter()
            states, history = self.run(placed, states, history, fresh=True, stop=total)
            run_seconds = time.perf_counter() - start
        else:
            layout = f"members{placed.size}-chunk{placed.chunk}-devices{self.mesh.devices.size}"
            run = lambda states, history, fresh, stop: self.run(  # noqa: E731
                placed, states, history, fresh=fresh, stop=stop
            )
            states, history, resumed, run_seconds = self._in_segments(
                checkpoints, layout, run, states, history
            )
        return self.result(
            placed,
            states,
            history,
            compile_seconds=compile_seconds,
            run_seconds=run_seconds,
            resumed=resumed,
        )

    def _in_segments(self, policy: CheckpointPolicy, layout: str, run: Callable, states, history):
        """The run in segments of intervals, saving the state as ``policy`` says; from the
        latest checkpoint of this layout when there is one. Returns the final state and
        history, the intervals restored and the seconds spent in the program (not saving).
        The checkpoints go when the run is done."""
        total = self.setup.num_evaluations
        every = segment_intervals(total, policy.every)
        store = None  # orbax is imported only where a checkpoint exists or is due
        done = resumed = 0
        if (policy.directory / layout).is_dir():
            store = GroupCheckpoints(policy, layout)
            restored = store.latest({"states": states, "history": history})
            if restored is not None:
                done = resumed = restored[0]
                states, history = restored[1]["states"], restored[1]["history"]
        seconds, last_save = 0.0, time.perf_counter()
        while done < total:
            stop = min(done + every, total)
            start = time.perf_counter()
            states, history = jax.block_until_ready(run(states, history, done == 0, stop))
            seconds += time.perf_counter() - start
            done = stop
            if done < total and due(policy, time.perf_counter() - last_save):
                store = store or GroupCheckpoints(policy, layout)
                store.save(done, {"states": states, "history": history})
                last_save = time.perf_counter()
        if store is not None:
            store.remove()
        return states, history, resumed, seconds


def _over_budget(program: jax.stages.Compiled, placed: Placed) -> bool:
    """Whether the compiled program's peak per device (where the backend reports one) is
    above the budget its chunk was planned for."""
    peak = measured_peak_bytes(program)
    return (
        peak is not None
        and placed.memory.budget_bytes is not None
        and (peak > placed.memory.budget_bytes)
    )


def make_runner(
    model: Model,
    data: Dataset,
    setup: TrainSetup | None = None,
    *,
    objective: Objective | None = None,
    chunk_size: int | None = None,
    devices: list | None = None,
    memory_budget: int | None = None,
    **options,
) -> Runner:
    """A :class:`Runner` for ``model`` on ``data``: the set-up as a :class:`TrainSetup` or its
    fields as keyword ``options`` (steps, optimizer, batch_size, eval_every, dp, dp_microbatch,
    gradient_statistics, schedule); chunk_size: members vectorised at once per device (None:
    chosen from the model's size; either way no more than ``memory_budget`` allows); devices:
    default all of ``jax.devices()``; memory_budget: bytes per device a program may plan for
    (None: a safe share of the device's memory, ``cs109nn.train.memory``)."""
    if setup is not None and options:
        raise TypeError(f"pass a TrainSetup or keyword options, not both; got {sorted(options)}")
    setup = TrainSetup(**options) if setup is None else setup
    return Runner(
        model,
        data,
        setup,
        objective=objective,
        chunk_size=chunk_size,
        devices=devices,
        memory_budget=memory_budget,
    )
