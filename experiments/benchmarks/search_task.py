"""The one problem every search of ``search.py`` solves: the sweep ``experiments/search.py``.

An MLP (one hidden layer of 64 ReLU units, softmax head) on scikit-learn's 8x8 digits, all ten
classes (1,151 train / 287 validation / 359 test digits, split by the spec's ``data_seed``); SGD
with momentum, batches of 64, ``STEPS`` steps evaluated every ``EVAL_EVERY``. Four
hyperparameters are searched, each over ``SPACE`` (the spec's distributions,
``cs109nn.sweep.distributions``, which Optuna and Ray Tune are given as their own
``suggest_float(..., log=...)`` / ``tune.loguniform`` of the same bounds). Selection is by
validation accuracy (ties to the higher validation log-likelihood), and the test accuracy of
the selected configuration is what each search reports. Everything here is read from the
experiment's spec, so the benchmark and the sweep cannot drift apart -- but for its width axis:
every trial here is the spec's 64-unit MLP (Optuna and Ray get the four continuous fields).

Import it after ``common.pin_threads`` (it imports jax through the spec).
"""

from __future__ import annotations

from pathlib import Path

from cs109nn.sweep.distributions import Distribution
from cs109nn.sweep.spec import load_experiment

EXPERIMENT = Path(__file__).resolve().parents[1] / "search.py"
SPEC = load_experiment(EXPERIMENT)

(DATASET,) = SPEC.datasets
DATA_SEED = SPEC.data_seed
VAL_FRACTION = SPEC.val_fraction
(MODEL,) = SPEC.models
(OPTIMIZER,) = SPEC.optimizers
(BATCH_SIZE,) = SPEC.batch_sizes
(STEPS,) = SPEC.steps
EVAL_EVERY = SPEC.eval_every
EVALUATIONS = STEPS // EVAL_EVERY
ETA, RUNGS = SPEC.halving_eta, SPEC.halving_rungs
PBT_EVERY, PBT_FRACTION, PBT_FACTORS = SPEC.pbt_every, SPEC.pbt_fraction, SPEC.pbt_factors

# name -> (kind, low, high): the search space (every distribution field of the spec)
SPACE = {
    name: (value.kind, *value.args)
    for name in ("learning_rate", "momentum", "weight_decay", "init_scale")
    if isinstance(value := getattr(SPEC, name), Distribution)
}


def space_as_spec() -> dict[str, str]:
    """The space as a sweep spec's hyperparameter fields, ``"loguniform(0.001,1.0)"``."""
    return {name: f"{kind}({low!r},{high!r})" for name, (kind, low, high) in SPACE.items()}


def load():
    """(data, model, setup) of the problem: a ``Dataset``, a ``Model`` and a ``TrainSetup``."""
    from cs109nn.data import load_dataset
    from cs109nn.models import model_from_spec
    from cs109nn.train import TrainSetup

    data = load_dataset(DATASET, seed=DATA_SEED, val_fraction=VAL_FRACTION)
    model = model_from_spec(MODEL, num_classes=data.num_classes)
    setup = TrainSetup(
        steps=STEPS, optimizer=OPTIMIZER, batch_size=BATCH_SIZE, eval_every=EVAL_EVERY
    )
    return data, model, setup
