"""One member's whole training run as a pure function of (data, key, hyperparameters).

The slides' loop — initialise, then repeat: step along the gradient of LL — as a ``lax.scan``
over evaluation intervals, each a ``lax.scan`` over steps. Everything a member needs comes in
as arguments; the engine vmaps this function over members and shards it over devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax

from cs109nn.grads import dp_gradient, gradient_noise_scale_from_norms, per_example_norms
from cs109nn.models import objectives
from cs109nn.models.model import Model, Params
from cs109nn.train.optimizers import make_optimizer


class Arrays(NamedTuple):
    """The data a member trains on: x_train [n, ...], y_train [n], optional test split."""

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array | None
    y_test: jax.Array | None


class Objective(NamedTuple):
    """Per-example log-likelihoods [n] and accuracy (a scalar), both from logits."""

    log_likelihoods: Callable[[jax.Array, jax.Array], jax.Array]
    accuracy: Callable[[jax.Array, jax.Array], jax.Array]


def objective_for(model: Model) -> Objective:
    """The lecture's objective for the model's output: Bernoulli or categorical LL on logits."""
    return Objective(
        log_likelihoods=lambda logits, y: objectives.log_likelihoods(logits, y, model.output),
        accuracy=lambda logits, y: objectives.accuracy(logits, y, model.output),
    )


class MemberRun(NamedTuple):
    """params: the trained (or frozen) pytree; history: name -> [T]; diverged_step: -1 or t."""

    params: Params
    history: dict[str, jax.Array]
    diverged_step: jax.Array


class MemberKeys(NamedTuple):
    """A member's random streams, split from its key once, explicitly."""

    init: jax.Array
    shuffle: jax.Array
    noise: jax.Array


def split_member_key(key: jax.Array) -> MemberKeys:
    """key -> (init, shuffle, noise) streams; each depends on the member's seed alone."""
    init, shuffle, noise = jax.random.split(key, 3)
    return MemberKeys(init, shuffle, noise)


def _all_finite(tree: Params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def select(condition: jax.Array, on_true: Params, on_false: Params) -> Params:
    """Leafwise ``where`` for a scalar condition: one pytree or the other."""
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), on_true, on_false)


def make_member_train(
    model: Model,
    objective: Objective,
    optimizer: str,
    *,
    steps: int,
    eval_every: int,
    batch_size: int | None,
    num_train: int,
    dp: bool = False,
    dp_microbatch: int | None = None,
    gradient_statistics: bool = False,
) -> Callable[[Arrays, jax.Array, dict[str, jax.Array]], MemberRun]:
    """Build ``train(data, key, hparams) -> MemberRun`` for one member (static set-up here).

    hparams: name -> scalar (see ``HPARAM_NAMES``). ``steps`` must be a multiple of
    ``eval_every``; history has T = steps // eval_every columns, measured after steps
    eval_every, 2 eval_every, ..., steps. A step whose gradient or new parameters are
    non-finite is not taken: the member freezes there and ``diverged_step`` records it (1-based).
    ``gradient_statistics`` adds, at every evaluation, the distribution of per-example gradient
    norms of the loss over the training set (``grad_norm_mean``, ``grad_norm_p50``,
    ``grad_norm_p90``) and the gradient noise scale B_simple (``noise_scale``).
    """
    full_batch = batch_size is None or batch_size >= num_train
    batches_per_epoch = 1 if full_batch else num_train // batch_size

    def per_example_loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        return -objective.log_likelihoods(model.apply(params, x), y)  # we maximise LL

    def mean_loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.mean(per_example_loss(params, x, y))

    def batch(data: Arrays, keys: MemberKeys, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        if full_batch:
            return data.x_train, data.y_train
        # A fresh permutation per epoch from the member's own shuffle stream.
        epoch, position = jnp.divmod(t, batches_per_epoch)
        order = jax.random.permutation(jax.random.fold_in(keys.shuffle, epoch), num_train)
        index = lax.dynamic_slice_in_dim(order, position * batch_size, batch_size)
        return data.x_train[index], data.y_train[index]

    def evaluate(data: Arrays, params: Params) -> dict[str, jax.Array]:
        logits = model.apply(params, data.x_train)
        metrics = {
            "train_ll": jnp.mean(objective.log_likelihoods(logits, data.y_train)),
            "train_acc": objective.accuracy(logits, data.y_train),
        }
        if gradient_statistics:
            norms = per_example_norms(per_example_loss, params, data.x_train, data.y_train)
            mean_grad = jax.grad(mean_loss)(params, data.x_train, data.y_train)
            metrics["grad_norm_mean"] = jnp.mean(norms)
            metrics["grad_norm_p50"], metrics["grad_norm_p90"] = jnp.quantile(
                norms, jnp.asarray([0.5, 0.9], norms.dtype)
            )
            metrics["noise_scale"] = gradient_noise_scale_from_norms(norms, mean_grad).b_simple
        if data.x_test is not None:
            logits = model.apply(params, data.x_test)
            metrics["test_ll"] = jnp.mean(objective.log_likelihoods(logits, data.y_test))
            metrics["test_acc"] = objective.accuracy(logits, data.y_test)
        return metrics

    def train(data: Arrays, key: jax.Array, hparams: dict[str, jax.Array]) -> MemberRun:
        keys = split_member_key(key)
        params = model.init(keys.init, data.x_train[:1])
        params = jax.tree.map(lambda p: p * hparams["init_scale"].astype(p.dtype), params)
        tx = make_optimizer(
            optimizer, hparams["learning_rate"], hparams["momentum"], hparams["weight_decay"]
        )
        opt_state = tx.init(params)

        def step(carry, t):
            params, previous, opt_state, diverged_step = carry
            x, y = batch(data, keys, t)
            if dp:
                grads = dp_gradient(
                    per_example_loss,
                    params,
                    x,
                    y,
                    hparams["clip_norm"],
                    hparams["noise_multiplier"],
                    jax.random.fold_in(keys.noise, t),
                    microbatch=dp_microbatch,
                )
            else:
                # No loss value per step: evaluation measures LL; the step needs only its
                # gradient (value_and_grad costs a second pass of transcendentals).
                grads = jax.grad(mean_loss)(params, x, y)
            updates, new_opt_state = tx.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            running = diverged_step < 0
            # A non-finite gradient means the forward pass at ``params`` already overflowed.
            finite_here = _all_finite(grads)
            ok = running & finite_here & _all_finite(new_params)
            # Divergence is data: freeze at the last parameters whose forward pass was finite
            # (the previous step's when this gradient is already non-finite); record the step.
            frozen = select(finite_here, params, previous)
            return (
                select(ok, new_params, select(running, frozen, params)),
                select(ok, params, previous),
                select(ok, new_opt_state, opt_state),
                jnp.where(running & ~ok, t + 1, diverged_step).astype(jnp.int32),
            ), None

        def interval(carry, i):
            ts = (i * eval_every + jnp.arange(eval_every)).astype(jnp.int32)
            carry, _ = lax.scan(step, carry, ts)
            return carry, evaluate(data, carry[0])

        carry = (params, params, opt_state, jnp.asarray(-1, jnp.int32))
        (params, _, _, diverged_step), history = lax.scan(
            interval, carry, jnp.arange(steps // eval_every)
        )
        return MemberRun(params, history, diverged_step)

    return train
