"""The default sweep: the road of CS109's *From Logistic Regression to Deep Learning*.

    cs109nn sweep experiments/lecture.py

Three 2-D data sets that no line separates (the lecture's ConvNetJS demo): XOR, circles and
spirals. On each, the lecture's models in order: logistic regression (a single sigma(theta^T x),
which cannot bend), a network with one hidden layer of sigmoids (a chain of logistic
regressions), a deeper and wider one, then the same with ReLU. Every model trains by the
lecture's gradient ascent on LL, with and without momentum (momentum 0 is the slides' loop),
over a grid of learning rates and 8 seeds:

  3 data sets x 4 models            = 12 groups, one compile each
  8 seeds x 6 learning rates x 2 momenta = 96 members per group, one program each
                                    = 1,152 trained models

Built-in data only; about a minute or two on 2 CPU cores including compiles.
"""

from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="lecture",
        claim=(
            "Logistic regression cannot bend; a network of sigmoids (a chain of logistic "
            "regressions) learns what no line separates."
        ),
        datasets=("xor", "circles", "spirals"),
        models=("logreg", "mlp:8:sigmoid", "mlp:32x32:sigmoid", "mlp:32x32:relu"),
        optimizers=("momentum",),
        steps=(1000,),
        batch_sizes=(None,),  # full batch: the slides' loop
        seeds=tuple(range(8)),
        learning_rate=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
        momentum=(0.0, 0.9),
        eval_every=50,
    )
