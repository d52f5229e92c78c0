"""A tiny sweep for tests and smoke checks (seconds): the lecture's road in miniature.

XOR, which no line separates: logistic regression, a sigmoid hidden layer, a ReLU one;
3 groups x (3 seeds x 2 learning rates) = 18 models.

    cs109nn sweep experiments/quick.py
"""

from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="quick",
        datasets=("xor",),
        models=("logreg", "mlp:4:sigmoid", "mlp:8:relu"),
        optimizers=("sgd",),
        steps=(30,),
        seeds=(0, 1, 2),
        learning_rate=(0.5, 2.0),
        eval_every=10,
        n_examples=200,
    )
