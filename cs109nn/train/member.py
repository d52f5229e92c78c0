"""One member's whole training run as a pure function of (data, key, hyperparameters).

The slides' loop -- initialise, then repeat: step along the gradient of LL -- as a ``lax.scan``
over evaluation intervals, each a ``lax.scan`` over steps. ``make_train`` does the static
set-up (purejaxrl's shape) and returns ``train(data, key, hparams)``, pure in all three: put it
under your own ``jax.jit``, ``jax.vmap`` or ``jax.grad``. The runner (``cs109nn.train.runner``)
is one such caller: it vmaps it over members and shards it over devices.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from cs109nn.data.dataset import Dataset
from cs109nn.grads import dp_gradient, gradient_noise_scale_from_norms, per_example_norms
from cs109nn.hyperparameters import Hyperparameters
from cs109nn.models import objectives
from cs109nn.models.model import Model, Params
from cs109nn.train.optimizers import make_optimizer
from cs109nn.train.schedules import learning_rate_schedule
from cs109nn.train.setup import TrainSetup
from cs109nn.train.shuffle import permuted_positions
from cs109nn.train.subset import subset_weights


class Arrays(NamedTuple):
    """The data a member trains on: x_train [n, ...], y_train [n], optional test and
    validation splits (evaluated, never trained on)."""

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array | None
    y_test: jax.Array | None
    x_val: jax.Array | None = None
    y_val: jax.Array | None = None


def as_arrays(data: Dataset, dtype=None) -> Arrays:
    """A data set's arrays (no names), features as ``dtype`` (default: float32 unless they are
    already floating), labels as they are: the argument ``train`` takes."""
    x_train = np.asarray(data.x_train)
    if dtype is None:
        dtype = x_train.dtype if np.issubdtype(x_train.dtype, np.floating) else np.float32
    features = lambda a: None if a is None else np.asarray(a).astype(dtype)  # noqa: E731
    labels = lambda a: None if a is None else np.asarray(a)  # noqa: E731
    return Arrays(
        features(data.x_train),
        labels(data.y_train),
        features(data.x_test),
        labels(data.y_test),
        features(data.x_val),
        labels(data.y_val),
    )


class Objective(NamedTuple):
    """Per example, from logits and labels: log-likelihoods [n] and whether the predicted
    class is right, correct [n] (0/1). Every metric is a (weighted) mean of one of them."""

    log_likelihoods: Callable[[jax.Array, jax.Array], jax.Array]
    correct: Callable[[jax.Array, jax.Array], jax.Array]


def objective_for(model) -> Objective:
    """The lecture's objective for the model's output: Bernoulli or categorical LL on logits."""
    return Objective(
        log_likelihoods=lambda logits, y: objectives.log_likelihoods(logits, y, model.output),
        correct=lambda logits, y: (
            objectives.predict(logits, model.output) == jnp.asarray(y).astype(jnp.int32)
        ),
    )


def weighted_mean(values: jax.Array, weights: jax.Array | None) -> jax.Array:
    """Mean of ``values [n]``, or ``Σ wᵢ vᵢ / Σ wᵢ`` with ``weights [n]`` (a training subset)."""
    values = jnp.asarray(values)
    if values.dtype == jnp.bool_:  # correct [n]: the default float (float64 under x64)
        values = values.astype(jnp.result_type(float))
    if weights is None:
        return jnp.mean(values)
    weights = weights.astype(values.dtype)
    return jnp.sum(weights * values) / jnp.sum(weights)


def split_metrics(
    apply: Callable, objective: Objective, data: Arrays, params: Params, weights: jax.Array
) -> dict[str, jax.Array]:
    """train_ll, train_acc over the member's training subset (``weights [n]``) and, for each
    validation / test split present, its mean LL and accuracy over the whole split."""
    logits = apply(params, data.x_train)
    metrics = {
        "train_ll": weighted_mean(objective.log_likelihoods(logits, data.y_train), weights),
        "train_acc": weighted_mean(objective.correct(logits, data.y_train), weights),
    }
    for split in ("val", "test"):  # measured, never trained on
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x is not None:
            logits = apply(params, x)
            metrics[f"{split}_ll"] = jnp.mean(objective.log_likelihoods(logits, y))
            metrics[f"{split}_acc"] = weighted_mean(objective.correct(logits, y), None)
    return metrics


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
    subset: jax.Array


def split_member_key(key: jax.Array) -> MemberKeys:
    """key -> (init, shuffle, noise, subset) streams; each depends on the member's seed alone.
    (With partitionable threefry the first three are those of a split in three: adding the
    subset stream changed no earlier result.)"""
    init, shuffle, noise, subset = jax.random.split(key, 4)
    return MemberKeys(init, shuffle, noise, subset)


# keys [C] -> each member's streams, MemberKeys of [C] keys
split_member_keys = jax.vmap(split_member_key)


class StepCarry(NamedTuple):
    """What one step hands the next.

    params: the member's parameters; last_finite: the parameters before the last step taken
    (where a member freezes when its next gradient is already non-finite); opt_state: the
    optimizer's state; diverged_step: -1 while training, else the 1-based step it froze at.
    """

    params: Params
    last_finite: Params
    opt_state: optax.OptState
    diverged_step: jax.Array


class MemberState(NamedTuple):
    """A member's whole training state at an evaluation boundary: enough to continue it
    exactly (a checkpoint, a successive-halving rung). Its random streams need no state: they
    are its key's, folded with the global step.

    step: the step carry; healthy_params / healthy_metrics: its last evaluation within the LL
    bound (where a member whose LL leaves the bound is put back, see ``LL_FLOOR_FACTOR``);
    ll_floor: that bound; weights [n]: the member's training subset (1/0 per example);
    interval: evaluation intervals done (int32).
    """

    step: StepCarry
    healthy_params: Params
    healthy_metrics: dict[str, jax.Array]
    ll_floor: jax.Array
    weights: jax.Array
    interval: jax.Array


class Trainer(NamedTuple):
    """A training run's pure pieces (:func:`make_trainer`).

    Per member (vmap them yourself): ``init(data, key, hparams) -> MemberState``;
    ``advance(data, key, hparams, state, num_intervals) -> (state, history)`` (history: name ->
    [num_intervals]); ``train(data, key, hparams) -> MemberRun`` (init, then every interval).

    For a chunk of C members (keys [C], hparams and states with leaves [C, ...]), with
    divergence checked once per interval instead of once per step (the same bits; see
    :func:`make_trainer`): ``init_members(data, streams, hparams) -> states``;
    ``run_members(data, streams, hparams, states, history, stop) -> (states, history)`` runs the
    chunk's next intervals until ``stop`` (a traced int: one program runs a whole run, a
    segment of it, or a rung of successive halving) and writes each interval's metrics into
    its column of ``history`` (name -> [C, T]); ``train_members(data, keys, hparams) ->
    MemberRun`` is both, for the whole run. ``streams``: the chunk's keys split once,
    ``split_member_keys(keys)`` (a program splits a key once). ``retune_members(hparams,
    states) -> states`` sets the optimizer states' numbers to ``hparams`` (after a state was
    copied from another member, as PBT does).
    """

    init: Callable[[Arrays, jax.Array, Hyperparameters], MemberState]
    advance: Callable[..., tuple[MemberState, dict[str, jax.Array]]]
    train: Callable[[Arrays, jax.Array, Hyperparameters], MemberRun]
    init_members: Callable[[Arrays, MemberKeys, Hyperparameters], MemberState]
    run_members: Callable[..., tuple[MemberState, dict[str, jax.Array]]]
    train_members: Callable[[Arrays, jax.Array, Hyperparameters], MemberRun]
    retune_members: Callable[[Hyperparameters, MemberState], MemberState]


# Divergence that stays finite: a member whose mean per-example train LL falls below
# LL_FLOOR_FACTOR x min(its LL at initialisation, log(1/K)) -- a thousand times worse than a
# uniform guess over the K classes, or than where it started -- is flagged as diverged at
# that evaluation's step and put back to its last evaluation within the bound (a finite
# -1e29 is as much a divergence as inf; NaN is never within the bound).
LL_FLOOR_FACTOR = 1e3


def _all_finite(tree: Params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def empty_history(metrics: dict[str, jax.Array], num_evaluations: int) -> dict[str, jax.Array]:
    """name -> [C, T] of NaN: a chunk's history before any interval (``metrics``: name -> [C],
    arrays or shapes)."""
    return {
        name: jnp.full((*value.shape, num_evaluations), jnp.nan, value.dtype)
        for name, value in metrics.items()
    }


def select(condition: jax.Array, on_true: Params, on_false: Params) -> Params:
    """Leafwise ``where`` for a scalar condition: one pytree or the other."""
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), on_true, on_false)


def make_train(
    model: Model,
    setup: TrainSetup | None = None,
    *,
    objective: Objective | None = None,
    **options,
) -> Callable[[Arrays, jax.Array, Hyperparameters], MemberRun]:
    """Static set-up now, a pure ``train(data, key, hparams) -> MemberRun`` back: the
    ``train`` of :func:`make_trainer` (same arguments; see there)."""
    return make_trainer(model, setup, objective=objective, **options).train


def make_trainer(
    model: Model,
    setup: TrainSetup | None = None,
    *,
    objective: Objective | None = None,
    **options,
) -> Trainer:
    """Static set-up now, the pure pieces of a training run back (a :class:`Trainer`).

    ``setup``: a :class:`TrainSetup`, or its fields as keyword ``options`` (steps, optimizer,
    batch_size, eval_every, dp, dp_microbatch, gradient_statistics, schedule: the learning
    rate's kind, its numbers in ``hparams``); ``objective``: default the lecture's LL for the
    model's output. ``train(data, key, hparams)`` takes ``data``: :class:`Arrays` (x_train
    [n, ...], y_train [n], optional test split; see :func:`as_arrays`), ``key``: the member's
    typed PRNG key, ``hparams``: :class:`~cs109nn.hyperparameters.Hyperparameters` of scalars;
    put it under your own ``jax.jit``, ``jax.vmap`` or ``jax.grad``.
    A member trains on its subset of ``hparams.train_size`` training examples (all of them by
    default; see :mod:`cs109nn.train.subset`; not with ``dp``, whose per-example clipping takes
    whole batches). The history has T = steps // eval_every columns, measured after steps
    eval_every, 2 eval_every, ..., steps: train_ll, train_acc (over the member's training
    subset; LL is the mean per example) and, with a
    validation / test split, val_ll, val_acc / test_ll, test_acc; ``gradient_statistics``
    adds the distribution of per-example gradient norms of the loss over the training set
    (grad_norm_mean, grad_norm_p50, grad_norm_p90) and the gradient noise scale B_simple
    (noise_scale).

    Divergence is data: a step whose gradient or new parameters are non-finite is not taken,
    the member freezes there and ``diverged_step`` records it (1-based); a member whose mean
    train LL at an evaluation falls below the bound of ``LL_FLOOR_FACTOR`` (finite or not) is
    flagged at that evaluation's step and put back to its last evaluation within the bound, so
    its curves stay finite. ``train`` / ``advance`` apply that rule at every step.
    ``run_members`` / ``train_members`` give the same bits for a chunk of members more
    cheaply: each interval runs without per-step checks, and only when some running member's
    parameters end it non-finite is the interval replayed for the chunk with the per-step rule.
    That is exact because non-finiteness is absorbing here -- the optimizers' updates are
    additive, so a non-finite gradient or parameter leaves the parameters non-finite for the
    rest of the interval (inf - inf is NaN, never finite again).
    """
    if setup is not None and options:
        raise TypeError(f"pass a TrainSetup or keyword options, not both; got {sorted(options)}")
    setup = TrainSetup(**options) if setup is None else setup
    objective = objective or objective_for(model)
    eval_every = setup.eval_every
    num_classes = model.num_classes  # K of the model's head (2 for a binary one)

    # ``member``: the model the member runs -- ``model`` itself, or with ``architectures`` the
    # model of the member's own (traced) width and depth inside it (``Model.masked``).
    def per_example_loss(member: Model, params: Params, x: jax.Array, y: jax.Array):
        return -objective.log_likelihoods(member.apply(params, x), y)  # we maximise LL

    def mean_loss(member: Model, params: Params, x: jax.Array, y: jax.Array, weights=None):
        return weighted_mean(per_example_loss(member, params, x, y), weights)

    def subset_first(weights: jax.Array) -> jax.Array:
        """[n] example indices, the member's subset first (a stable sort: with the whole
        split as subset, 0..n-1); once per interval, not per step."""
        return jnp.argsort(weights == 0, stable=True).astype(jnp.int32)

    def batch(data: Arrays, keys: MemberKeys, t: jax.Array, weights: jax.Array, order):
        """(x, y, weights) of step t: the whole subset, or a minibatch drawn from it
        (``order``: :func:`subset_first` of ``weights``)."""
        num_train = data.x_train.shape[0]  # static: shapes are known when tracing
        if setup.is_full_batch(num_train):
            return data.x_train, data.y_train, weights
        # A fresh permutation of the subset per epoch from the member's own shuffle stream,
        # evaluated at this step's B slots only (``cs109nn.train.shuffle``: no sort per step);
        # a subset smaller than a batch is one batch, padded with weight-0 examples.
        batch_size = setup.batch_size
        subset_size = jnp.sum(weights).astype(jnp.int32)
        epoch, position = jnp.divmod(t, jnp.maximum(subset_size // batch_size, 1))
        slots = position * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
        inside = slots < subset_size
        shuffled = permuted_positions(
            jax.random.fold_in(keys.shuffle, epoch),
            jnp.where(inside, slots, 0),
            jnp.maximum(subset_size, 1),
        )
        index = order[jnp.where(inside, shuffled, slots)]
        return data.x_train[index], data.y_train[index], weights[index]

    def evaluate(
        member: Model, data: Arrays, params: Params, weights: jax.Array
    ) -> dict[str, jax.Array]:
        metrics = split_metrics(member.apply, objective, data, params, weights)
        if setup.gradient_statistics:
            loss = functools.partial(per_example_loss, member)
            norms = per_example_norms(loss, params, data.x_train, data.y_train)
            mean_grad = jax.grad(functools.partial(mean_loss, member))(
                params, data.x_train, data.y_train
            )
            metrics["grad_norm_mean"] = jnp.mean(norms)
            metrics["grad_norm_p50"], metrics["grad_norm_p90"] = jnp.quantile(
                norms, jnp.asarray([0.5, 0.9], norms.dtype)
            )
            metrics["noise_scale"] = gradient_noise_scale_from_norms(norms, mean_grad).b_simple
        return metrics

    def gradient(
        member: Model,
        params: Params,
        x: jax.Array,
        y: jax.Array,
        weights: jax.Array,
        hparams: Hyperparameters,
        key: jax.Array,
    ) -> Params:
        if setup.dp:  # per-example clipping of the whole batch: no training subsets here
            return dp_gradient(
                functools.partial(per_example_loss, member),
                params,
                x,
                y,
                hparams.clip_norm,
                hparams.noise_multiplier,
                key,
                microbatch=setup.dp_microbatch,
            )
        # No loss value per step: evaluation measures LL; the step needs only its gradient
        # (value_and_grad costs a second pass of transcendentals).
        return jax.grad(functools.partial(mean_loss, member))(params, x, y, weights)

    # The functions below take the member's streams already split (``MemberKeys``): a key is
    # split once per program, the streams only folded with steps after that.
    def context(hparams: Hyperparameters) -> tuple[Model, optax.GradientTransformation]:
        """The member's model and its optimizer (from its hyperparameters)."""
        member = model.masked(hparams.width, hparams.depth) if setup.architectures else model
        # The schedule's kind is static, its numbers traced: a grid over them is one program.
        learning_rate = learning_rate_schedule(setup.schedule, hparams, setup.steps)
        tx = make_optimizer(setup.optimizer, learning_rate, hparams.momentum, hparams.weight_decay)
        return member, tx

    def init_member(data: Arrays, keys: MemberKeys, hparams: Hyperparameters) -> MemberState:
        member, tx = context(hparams)
        weights = subset_weights(keys.subset, data.y_train, hparams.train_size, num_classes)
        params = member.init(keys.init, data.x_train[:1])
        params = jax.tree.map(lambda p: p * jnp.asarray(hparams.init_scale, p.dtype), params)
        initial = evaluate(member, data, params, weights)
        uniform = -jnp.log(jnp.asarray(num_classes, initial["train_ll"].dtype))
        start_ll = jnp.where(jnp.isfinite(initial["train_ll"]), initial["train_ll"], uniform)
        begin = StepCarry(params, params, tx.init(params), jnp.asarray(-1, jnp.int32))
        return MemberState(
            step=begin,
            healthy_params=params,
            healthy_metrics=initial,
            ll_floor=LL_FLOOR_FACTOR * jnp.minimum(start_ll, uniform),
            weights=weights,
            interval=jnp.asarray(0, jnp.int32),
        )

    def run_steps(
        data: Arrays,
        keys: MemberKeys,
        hparams: Hyperparameters,
        state: MemberState,
        exact: bool | jax.Array,
    ) -> StepCarry:
        """The steps of ``state``'s next interval: with the per-step divergence rule
        (``exact``), or without any check (a frozen member then stays where it was).
        ``exact`` may be traced: one step body serves both (compiled once, not twice)."""
        member, tx = context(hparams)
        order = subset_first(state.weights)

        def step(carry: StepCarry, t: jax.Array) -> tuple[StepCarry, None]:
            x, y, w = batch(data, keys, t, state.weights, order)
            noise = jax.random.fold_in(keys.noise, t)
            grads = gradient(member, carry.params, x, y, w, hparams, noise)
            updates, new_opt_state = tx.update(grads, carry.opt_state, carry.params)
            new_params = optax.apply_updates(carry.params, updates)

            def checked() -> StepCarry:
                running = carry.diverged_step < 0
                # A non-finite gradient means the forward pass at ``params`` already overflowed.
                finite_here = _all_finite(grads)
                ok = running & finite_here & _all_finite(new_params)
                # Divergence is data: freeze at the last parameters whose forward pass was
                # finite (the previous step's when this gradient is already non-finite).
                frozen = select(finite_here, carry.params, carry.last_finite)
                return StepCarry(
                    params=select(ok, new_params, select(running, frozen, carry.params)),
                    last_finite=select(ok, carry.params, carry.last_finite),
                    opt_state=select(ok, new_opt_state, carry.opt_state),
                    diverged_step=jnp.where(running & ~ok, t + 1, carry.diverged_step).astype(
                        jnp.int32
                    ),
                )

            def unchecked() -> StepCarry:
                return StepCarry(new_params, carry.params, new_opt_state, carry.diverged_step)

            if isinstance(exact, bool):
                return (checked() if exact else unchecked()), None
            return lax.cond(exact, checked, unchecked), None

        ts = (state.interval * eval_every + jnp.arange(eval_every)).astype(jnp.int32)
        stepped, _ = lax.scan(step, state.step, ts)
        # (the rule leaves a frozen member as it was; without it, put it back)
        return select(state.step.diverged_step < 0, stepped, state.step)

    def close_interval(
        data: Arrays, hparams: Hyperparameters, state: MemberState, stepped: StepCarry
    ) -> tuple[MemberState, dict[str, jax.Array]]:
        """Evaluate after an interval's steps; a member out of the LL bound is put back."""
        member, _ = context(hparams)
        metrics = evaluate(member, data, stepped.params, state.weights)
        out_of_bounds = ~(metrics["train_ll"] >= state.ll_floor)  # NaN included
        params = select(out_of_bounds, state.healthy_params, stepped.params)
        metrics = select(out_of_bounds, state.healthy_metrics, metrics)
        flag = out_of_bounds & (stepped.diverged_step < 0)
        last_step = (state.interval + 1) * eval_every
        diverged_step = jnp.where(flag, last_step, stepped.diverged_step).astype(jnp.int32)
        stepped = stepped._replace(params=params, diverged_step=diverged_step)
        state = state._replace(step=stepped, healthy_params=params, healthy_metrics=metrics)
        return state._replace(interval=state.interval + 1), metrics

    def advance_member(
        data: Arrays, keys: MemberKeys, hparams: Hyperparameters, state: MemberState, intervals
    ) -> tuple[MemberState, dict[str, jax.Array]]:
        def interval(state: MemberState, _) -> tuple[MemberState, dict[str, jax.Array]]:
            stepped = run_steps(data, keys, hparams, state, exact=True)
            return close_interval(data, hparams, state, stepped)

        return lax.scan(interval, state, None, length=intervals)

    chunk_steps = jax.vmap(run_steps, in_axes=(None, 0, 0, 0, None))
    close_intervals = jax.vmap(close_interval, in_axes=(None, 0, 0, 0))

    def run_chunk(
        data: Arrays,
        keys: MemberKeys,
        hparams: Hyperparameters,
        states: MemberState,
        history: dict[str, jax.Array],
        stop: jax.Array,
    ) -> tuple[MemberState, dict[str, jax.Array]]:
        def interval(carry):
            states, history = carry
            running = states.step.diverged_step < 0

            def attempt(tried):
                exact, _, _ = tried
                stepped = chunk_steps(data, keys, hparams, states, exact)
                went_bad = jnp.any(running & ~jax.vmap(_all_finite)(stepped.params))
                # an unchecked attempt that went bad is made once more, with the rule
                return jnp.bool_(True), stepped, ~exact & went_bad

            # The attempts are the chunk's, not a member's (under vmap a cond runs both
            # branches); one loop body, so the step is compiled once.
            first = (jnp.bool_(False), states.step, jnp.bool_(True))
            _, stepped, _ = lax.while_loop(lambda tried: tried[2], attempt, first)
            column = states.interval[0]  # a chunk's members share their interval count
            states, metrics = close_intervals(data, hparams, states, stepped)
            history = {
                name: lax.dynamic_update_index_in_dim(curve, metrics[name], column, axis=1)
                for name, curve in history.items()
            }
            return states, history

        def more(carry) -> jax.Array:
            return carry[0].interval[0] < stop

        return lax.while_loop(more, interval, (states, history))

    init_chunk = jax.vmap(init_member, in_axes=(None, 0, 0))

    def retune_member(hparams: Hyperparameters, state: MemberState) -> MemberState:
        """``state`` with its optimizer's numbers set to ``hparams``': ``inject_hyperparams``
        keeps them in the optimizer state, so a state copied from another member (PBT) would
        otherwise go on with that member's."""
        _, tx = context(hparams)
        numbers = tx.init(state.step.params).hyperparams
        opt_state = state.step.opt_state._replace(hyperparams=numbers)
        return state._replace(step=state.step._replace(opt_state=opt_state))

    def init(data: Arrays, key: jax.Array, hparams: Hyperparameters) -> MemberState:
        return init_member(data, split_member_key(key), hparams)

    def advance(data: Arrays, key: jax.Array, hparams: Hyperparameters, state, num_intervals):
        return advance_member(data, split_member_key(key), hparams, state, num_intervals)

    def train(data: Arrays, key: jax.Array, hparams: Hyperparameters) -> MemberRun:
        streams = split_member_key(key)
        state = init_member(data, streams, hparams)
        end, history = advance_member(data, streams, hparams, state, setup.num_evaluations)
        return MemberRun(end.step.params, history, end.step.diverged_step)

    def train_members(data: Arrays, keys: jax.Array, hparams: Hyperparameters) -> MemberRun:
        streams = split_member_keys(keys)
        states = init_chunk(data, streams, hparams)
        history = empty_history(states.healthy_metrics, setup.num_evaluations)
        end, history = run_chunk(data, streams, hparams, states, history, setup.num_evaluations)
        return MemberRun(end.step.params, history, end.step.diverged_step)

    retune_members = jax.vmap(retune_member)
    return Trainer(init, advance, train, init_chunk, run_chunk, train_members, retune_members)
