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
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec

from cs109nn.data.dataset import Dataset, check_dataset
from cs109nn.errors import ConfigError
from cs109nn.hyperparameters import Hyperparameters, member_hyperparameters
from cs109nn.models.masked import check_architecture
from cs109nn.models.model import Model, Params
from cs109nn.train import devices as dev
from cs109nn.train.devices import ceil_div
from cs109nn.train.member import Arrays, Objective, as_arrays, make_train
from cs109nn.train.setup import TrainSetup
from cs109nn.train.subset import check_subset_sizes


class TrainResult(NamedTuple):
    """Every member's outcome, as numpy on every process (padding members dropped).

    params: pytree, leaves [M, ...]; history: name -> [M, T] (train_ll, train_acc and, with a
    test split, test_ll, test_acc; LL is the mean per example); eval_steps: [T]; final:
    name -> [M] (the last column); diverged: [M] bool; diverged_step: [M] (-1 when not).
    """

    params: Params
    history: dict[str, np.ndarray]
    eval_steps: np.ndarray
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_step: np.ndarray
    compile_seconds: float
    run_seconds: float


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
    jaxpr = jax.make_jaxpr(model.apply)(params_shapes, example)
    return "conv_general_dilated" in str(jaxpr)


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
    ) -> None:
        self.model, self.setup, self.chunk_size = model, setup, chunk_size
        self.mesh = dev.member_mesh(devices)
        # the boundary: data checked against the model's head before anything is traced
        self.arrays = as_arrays(check_dataset(data, num_classes=model.num_classes))
        self.dtype = self.arrays.x_train.dtype
        self._rows = setup.rows_per_step(self.arrays.x_train.shape[0])
        self._train = make_train(model, setup, objective=objective)
        self._compiled: dict[tuple[int, int], jax.stages.Compiled] = {}

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

    def _program(self, chunk: int):
        """The jitted SPMD program: per device, lax.map over chunks of ``chunk`` members."""
        vmapped = jax.vmap(self._train, in_axes=(None, 0, 0))

        def train_members(data: Arrays, key_data: jax.Array, hparams: Hyperparameters):
            keys = jax.random.wrap_key_data(key_data)
            local_members = key_data.shape[0]
            if local_members == chunk:
                return vmapped(data, keys, hparams)
            split = lambda a: a.reshape(local_members // chunk, chunk, *a.shape[1:])  # noqa: E731
            out = lax.map(lambda kh: vmapped(data, *kh), jax.tree.map(split, (keys, hparams)))
            return jax.tree.map(lambda a: a.reshape(local_members, *a.shape[2:]), out)

        members = PartitionSpec(dev.MEMBERS)
        return jax.jit(
            jax.shard_map(
                train_members,
                mesh=self.mesh,
                in_specs=(PartitionSpec(), members, members),
                # Members never communicate; skip varying-axis typing of the scan carries.
                out_specs=members,
                check_vma=False,
            )
        )

    def __call__(
        self,
        keys: jax.Array,
        hparams: Mapping[str, object] | Hyperparameters,
        data: Dataset | None = None,
    ) -> TrainResult:
        """Train M members: keys [M] (``member_keys``), hparams name -> [M] or a scalar (a
        name left out takes its default).

        ``data``: another data set of the same shapes and dtypes (e.g. XOR instead of
        spirals) reuses the compiled program; by default the set-up's data.
        """
        arrays = self.arrays if data is None else self._same_shapes(data)
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
        num_devices = self.mesh.devices.size
        per_device = ceil_div(num_members, num_devices)
        chunk = self.chunk_size or choose_chunk_size(
            self.model, self.arrays.x_train, self._rows, per_device
        )
        chunk = max(1, min(chunk, per_device))
        size = dev.padded_size(num_members, num_devices * chunk)
        replicated, split = dev.shardings(self.mesh)
        data = jax.tree.map(lambda a: dev.global_array(a, replicated), arrays)
        key_data, hp = dev.pad_members((key_data, hp), size)
        key_data = dev.global_array(key_data, split)
        hp = jax.tree.map(lambda value: dev.global_array(value, split), hp)

        compile_seconds = 0.0
        layout = (size, chunk)
        if layout not in self._compiled:
            start = time.perf_counter()
            self._compiled[layout] = self._program(chunk).lower(data, key_data, hp).compile()
            compile_seconds = time.perf_counter() - start
        start = time.perf_counter()
        run = jax.block_until_ready(self._compiled[layout](data, key_data, hp))
        run_seconds = time.perf_counter() - start

        run = jax.tree.map(lambda a: a[:num_members], dev.to_host(run))
        return TrainResult(
            params=run.params,
            history=run.history,
            eval_steps=self.eval_steps,
            final={name: a[:, -1] for name, a in run.history.items()},
            diverged=run.diverged_step >= 0,
            diverged_step=run.diverged_step,
            compile_seconds=compile_seconds,
            run_seconds=run_seconds,
        )


def make_runner(
    model: Model,
    data: Dataset,
    setup: TrainSetup | None = None,
    *,
    objective: Objective | None = None,
    chunk_size: int | None = None,
    devices: list | None = None,
    **options,
) -> Runner:
    """A :class:`Runner` for ``model`` on ``data``: the set-up as a :class:`TrainSetup` or its
    fields as keyword ``options`` (steps, optimizer, batch_size, eval_every, dp, dp_microbatch,
    gradient_statistics, schedule); chunk_size: members vectorised at once per device (None:
    chosen from the model's size); devices: default all of ``jax.devices()``."""
    if setup is not None and options:
        raise TypeError(f"pass a TrainSetup or keyword options, not both; got {sorted(options)}")
    setup = TrainSetup(**options) if setup is None else setup
    return Runner(model, data, setup, objective=objective, chunk_size=chunk_size, devices=devices)
