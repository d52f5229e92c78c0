"""Some data are not linearly separable; neural networks can learn complex functions.

The lecture's two claims, on four 2-D data sets no line separates (XOR, concentric circles,
two moons, two spirals): logistic regression against one hidden layer (``mlp:16:tanh``) and two
(``mlp:16x16:tanh``), each by gradient ascent with momentum 0.9 over 3 learning rates × 5 seeds:
12 groups × 15 members = 180 trained models. Each group also writes P(Y=1|x) on a 60 × 60 grid
(``boundary_grid``), which the report draws as ``figures/boundaries_<dataset>.png``: per model,
its validation-selected config's best seed and its mean over seeds, with the training points.

    cs109nn sweep experiments/separability.py
    cs109nn report runs/separability-<hash>

Measured on 2 CPU cores: about 21 s for ``cs109nn sweep`` (10 s of it training, the rest
start-up, boundary grids and the report). Validation-selected mean test accuracy over the 5 seeds,
logistic regression / 1 hidden layer / 2 hidden layers: xor 0.55 / 0.93 / 0.93, circles
0.49 / 0.99 / 0.99, moons 0.89 / 1.00 / 1.00, spirals 0.70 / 0.98 / 0.99: no line separates any
of the four (moons nearly), and a hidden layer of 16 tanh units already bends the boundary
around each (the figures' per-model titles give the same numbers).
"""

from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="separability",
        claim=(
            "Some data are not linearly separable; neural networks can learn complex functions."
        ),
        datasets=("xor", "circles", "moons", "spirals"),
        models=("logreg", "mlp:16:tanh", "mlp:16x16:tanh"),
        optimizers=("momentum",),
        steps=(1000,),
        seeds=(0, 1, 2, 3, 4),
        learning_rate=(0.1, 0.3, 1.0),
        momentum=(0.9,),
        eval_every=50,
        boundary_grid=60,
    )
