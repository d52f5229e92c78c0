"""The engine: many members' training runs as one compiled, sharded program.

``make_train`` does the static set-up (model, objective, optimizer kind, data shape, steps,
batch size) and returns a ``Trainer``; ``trainer(keys[M], hparams[M])`` runs every member:
``jit`` once per member count, ``shard_map`` over a mesh of all devices, ``lax.map`` over
chunks of members within a device and ``vmap`` within a chunk (how many members share one
vectorised program is a speed choice, see ``choose_chunk_size``), ``lax.scan`` over steps.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec

from cs109nn.data.dataset import Dataset
from cs109nn.models.model import Model, Params
from cs109nn.train import devices as dev
from cs109nn.train.hyperparameters import member_hparams
from cs109nn.train.member import Arrays, Objective, make_member_train, objective_for
from cs109nn.train.optimizers import check_optimizer


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
        raise ValueError(f"seeds must be a 1-D sequence of ints; got shape {seeds.shape}")
    return jnp.stack([jax.random.key(int(seed)) for seed in seeds])


def choose_chunk_size(model: Model, x_example: np.ndarray, rows: int, members: int) -> int:
    """How many members to vectorise at once on one device.

    vmapping every member turns each layer into one batched matmul whose working set outgrows
    the caches as members grow (measured: 2.6k member-steps/s at 256 members vs 3.6k at 8 for
    an MLP on digits). Keep a chunk's activations and parameters near ``CHUNK_BYTES``, at most
    ``MAX_CHUNK`` members, and the chunks of equal size so that padding stays small.
    """
    shapes = jax.eval_shape(model.init, jax.random.key(0), x_example[:1])
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
    return -(-members // -(-members // largest))


# Measured on 2 CPU cores (experiments/benchmarks): P2's MLP peaks near 8-16 members a chunk
# (~5-10 MB of activations), P1's logistic regression near 256 (its working set is tiny, but XLA
# splits a larger chunk's elementwise work less well).
CHUNK_BYTES = 8 << 20
MAX_CHUNK = 256


class Trainer:
    """``trainer(keys[M], hparams) -> TrainResult``; one compile per member count."""

    def __init__(
        self,
        model: Model,
        data: Dataset,
        *,
        optimizer: str = "sgd",
        steps: int,
        batch_size: int | None = None,
        eval_every: int | None = None,
        objective: Objective | None = None,
        dp: bool = False,
        dp_microbatch: int | None = None,
        gradient_statistics: bool = False,
        chunk_size: int | None = None,
        devices: list | None = None,
    ) -> None:
        check_optimizer(optimizer)
        if steps < 1:
            raise ValueError(f"steps must be >= 1; got {steps}")
        eval_every = steps if eval_every is None else eval_every
        if eval_every < 1 or steps % eval_every:
            raise ValueError(f"eval_every={eval_every} must divide steps={steps}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None (full batch); got {batch_size}")
        self.model, self.steps, self.eval_every = model, steps, eval_every
        self.chunk_size, self.dp = chunk_size, dp
        self.mesh = dev.member_mesh(devices)
        x_train = np.asarray(data.x_train)
        self.dtype = x_train.dtype if np.issubdtype(x_train.dtype, np.floating) else np.float32
        self.arrays = self._arrays(data)
        rows = x_train.shape[0] if batch_size is None else min(batch_size, x_train.shape[0])
        self._rows = rows
        self._member = make_member_train(
            model,
            objective or objective_for(model),
            optimizer,
            steps=steps,
            eval_every=eval_every,
            batch_size=batch_size,
            num_train=x_train.shape[0],
            dp=dp,
            dp_microbatch=dp_microbatch,
            gradient_statistics=gradient_statistics,
        )
        self._compiled: dict[tuple[int, int], jax.stages.Compiled] = {}
        self.compile_count = 0

    def _arrays(self, data: Dataset) -> Arrays:
        """The data as host arrays of the trainer's dtype."""
        features = lambda a: None if a is None else np.asarray(a).astype(self.dtype)  # noqa: E731
        labels = lambda a: None if a is None else np.asarray(a)  # noqa: E731
        return Arrays(
            features(data.x_train), labels(data.y_train), features(data.x_test), labels(data.y_test)
        )

    def _same_shapes(self, data: Dataset) -> Arrays:
        """Another data set for the same compiled program: it must match shapes and dtypes."""
        arrays = self._arrays(data)
        expected = jax.tree.map(lambda a: (a.shape, a.dtype), self.arrays)
        actual = jax.tree.map(lambda a: (a.shape, a.dtype), arrays)
        if expected != actual:
            raise ValueError(
                f"data {data.name!r} does not fit this trainer's program: expected (shape, "
                f"dtype) per array {expected}, got {actual}"
            )
        return arrays

    @property
    def eval_steps(self) -> np.ndarray:
        """[T]: the step after which each history column is measured."""
        return np.arange(1, self.steps // self.eval_every + 1) * self.eval_every

    def _program(self, chunk: int):
        """The jitted SPMD program: per device, lax.map over chunks of ``chunk`` members."""
        vmapped = jax.vmap(self._member, in_axes=(None, 0, 0))

        def local(data: Arrays, key_data: jax.Array, hparams: dict[str, jax.Array]):
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
                local,
                mesh=self.mesh,
                in_specs=(PartitionSpec(), members, members),
                # Members never communicate; skip varying-axis typing of the scan carries.
                out_specs=members,
                check_vma=False,
            )
        )

    def __call__(
        self, keys: jax.Array, hparams: Mapping[str, object], data: Dataset | None = None
    ) -> TrainResult:
        """Train M members: keys [M] (``member_keys``), hparams name -> [M] or a scalar.

        ``data``: another data set of the same shapes and dtypes (e.g. XOR instead of
        spirals) reuses the compiled program; by default the set-up's data.
        """
        arrays = self.arrays if data is None else self._same_shapes(data)
        key_data = np.asarray(jax.random.key_data(keys))
        num_members = key_data.shape[0]
        hp = member_hparams(hparams, num_members, self.dtype)
        num_devices = self.mesh.devices.size
        per_device = -(-num_members // num_devices)
        chunk = self.chunk_size or choose_chunk_size(
            self.model, self.arrays.x_train, self._rows, per_device
        )
        chunk = max(1, min(chunk, per_device))
        size = dev.padded_size(num_members, num_devices * chunk)
        replicated, split = dev.shardings(self.mesh)
        data = jax.tree.map(lambda a: dev.global_array(a, replicated), arrays)
        key_data, hp = dev.pad_members((key_data, hp), size)
        key_data = dev.global_array(key_data, split)
        hp = {name: dev.global_array(value, split) for name, value in hp.items()}

        compile_seconds = 0.0
        cache_key = (size, chunk)
        if cache_key not in self._compiled:
            start = time.perf_counter()
            self._compiled[cache_key] = self._program(chunk).lower(data, key_data, hp).compile()
            compile_seconds = time.perf_counter() - start
            self.compile_count += 1
        start = time.perf_counter()
        run = jax.block_until_ready(self._compiled[cache_key](data, key_data, hp))
        run_seconds = time.perf_counter() - start

        run = dev.to_host(run)
        params = jax.tree.map(lambda a: a[:num_members], run.params)
        history = {name: a[:num_members] for name, a in run.history.items()}
        diverged_step = run.diverged_step[:num_members]
        return TrainResult(
            params=params,
            history=history,
            eval_steps=self.eval_steps,
            final={name: a[:, -1] for name, a in history.items()},
            diverged=diverged_step >= 0,
            diverged_step=diverged_step,
            compile_seconds=compile_seconds,
            run_seconds=run_seconds,
        )


def make_train(model: Model, data: Dataset, **options) -> Trainer:
    """purejaxrl's shape: static set-up now, a pure ``run(keys[M], hparams[M])`` back.

    Options (see ``Trainer``): optimizer ("sgd" | "momentum" | "adam"), steps, batch_size
    (None = full batch, the lecture's loop), eval_every, objective, dp, dp_microbatch,
    gradient_statistics (per-example gradient norm quantiles and noise scale in the history),
    chunk_size (members vectorised at once per device; None = chosen from the model's size),
    devices (default: all of ``jax.devices()``).
    """
    return Trainer(model, data, **options)
