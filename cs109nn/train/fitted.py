"""Models fitted in closed form, run as a sweep runs trained ones: one program for all members.

Naive Bayes is fitted by counting, not trained by gradients; in a sweep it is still a group
whose members are seeds x hyperparameter points, and what varies between its members is their
training subset (``train_size``, drawn by ``cs109nn.train.subset`` from the member's key exactly
as a trained member's is: a Naive Bayes member and a logistic regression member of the same
seed and size see the same examples). :class:`FitRunner` has the :class:`Runner`'s call and
returns the same :class:`TrainResult`, with one evaluation, after "step 0" -- no steps are
taken -- so the run folder, resume and the report treat it as any other group. Members never
diverge (``diverged_step`` is -1); a class missing from a subset has prior 0, which shows as a
non-finite LL, as data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import jax
import numpy as np

from cs109nn.data.dataset import Dataset, check_dataset
from cs109nn.hyperparameters import Hyperparameters, member_hyperparameters
from cs109nn.lecture.inputs import DataError
from cs109nn.models.model import FittedModel
from cs109nn.train.member import Arrays, as_arrays, objective_for, split_member_key, split_metrics
from cs109nn.train.runner import TrainResult
from cs109nn.train.subset import check_subset_sizes, subset_weights

# The evaluation's step: a fitted model's only evaluation, after no gradient steps.
FIT_STEPS = np.array([0], dtype=np.int64)


def check_binary_features(data: Dataset) -> None:
    """A DataError naming the data set, row, column and value of the first training feature
    not in {0, 1} (a model with ``binary_features``, Bernoulli Naive Bayes, counts ones)."""
    x = np.asarray(data.x_train).reshape(len(data.x_train), -1)
    bad = np.argwhere((x != 0) & (x != 1))
    if len(bad):
        row, column = (int(v) for v in bad[0])
        raise DataError(
            f"this model counts ones and needs binary features; data set {data.name!r} has "
            f"x_train[{row}, {column}] = {float(x[row, column]):g} (for Naive Bayes on real "
            "features: naive-bayes:gaussian)"
        )


class FitRunner:
    """``runner(keys[M], hparams) -> TrainResult`` for a :class:`FittedModel` on one data set:
    every member's ``fit`` on its training subset, then its metrics, in one jitted vmap."""

    def __init__(self, model: FittedModel, data: Dataset) -> None:
        self.model = model
        self.arrays = as_arrays(check_dataset(data, num_classes=model.num_classes))
        if model.binary_features:
            check_binary_features(data)
        objective = objective_for(model)

        def fit_member(arrays: Arrays, key: jax.Array, hparams: Hyperparameters):
            subset = split_member_key(key).subset
            weights = subset_weights(subset, arrays.y_train, hparams.train_size, model.num_classes)
            params = model.fit(arrays.x_train, arrays.y_train, weights)
            metrics = split_metrics(model.apply, objective, arrays, params, weights)
            return params, {name: value[None] for name, value in metrics.items()}  # T = 1

        self._program = jax.jit(jax.vmap(fit_member, in_axes=(None, 0, 0)))
        self._compiled: dict[tuple, jax.stages.Compiled] = {}

    @property
    def eval_steps(self) -> np.ndarray:
        return FIT_STEPS

    def __call__(
        self,
        keys: jax.Array,
        hparams: Mapping[str, object] | Hyperparameters,
        data: Dataset | None = None,
    ) -> TrainResult:
        """Fit M members: keys [M] (``member_keys``), hparams name -> [M] or a scalar; ``data``
        another data set (one compiled program per layout of shapes and members, reused)."""
        arrays = self.arrays
        if data is not None:
            arrays = as_arrays(check_dataset(data, num_classes=self.model.num_classes))
            if self.model.binary_features:
                check_binary_features(data)
        num_members = int(np.shape(jax.random.key_data(keys))[0])
        hp = member_hyperparameters(hparams, num_members, np.float32)
        check_subset_sizes(hp.train_size, arrays.x_train.shape[0])
        # one compiled program per layout (array shapes, member count), as the Runner keeps
        layout = jax.tree.map(lambda a: (np.shape(a), np.dtype(a.dtype).str), (arrays, hp))
        layout = (str(layout), num_members)
        compile_seconds = 0.0
        if layout not in self._compiled:
            start = time.perf_counter()
            self._compiled[layout] = self._program.lower(arrays, keys, hp).compile()
            compile_seconds = time.perf_counter() - start
        compiled = self._compiled[layout]
        start = time.perf_counter()
        params, history = jax.block_until_ready(compiled(arrays, keys, hp))
        run_seconds = time.perf_counter() - start
        params, history = jax.tree.map(np.asarray, (params, history))
        return TrainResult(
            params=params,
            history=history,
            eval_steps=FIT_STEPS,
            final={name: a[:, -1] for name, a in history.items()},
            diverged=np.zeros(num_members, dtype=bool),
            diverged_step=np.full(num_members, -1, dtype=np.int32),
            compile_seconds=compile_seconds,
            run_seconds=run_seconds,
        )
