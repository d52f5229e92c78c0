"""A bigger neural network: more hidden layers (depth) or more units per layer (width)?

The lecture's claim that a bigger network can learn a more complex function, tested on a
depth x width grid: ReLU MLPs of 1, 2, 3 hidden layers x 4, 16, 64 units per layer, on two
spirals (2 classes) and handwritten digits (10 classes; ``softmax-mlp`` fits both, softmax with
K=2 on spirals), by Adam over 3 learning rates x 4 seeds, 500 full-batch steps, 600 examples per
data set (spirals 360/90/150 train/validation/test; digits a stratified 600 of its 1797,
383/97/120). The widths are a member axis (``width``, masked inside the 64-wide model of each
depth: ``cs109nn.models.masked``), so the 216 trained models are 6 groups (one per data set and
depth) x 36 members, 6 compiles instead of 18. The report's
``figures/depth_width_<dataset>.png`` is a heatmap over the grid: per cell, the learning rate
chosen by mean validation accuracy over seeds and its mean test accuracy with a 95%
t-interval across seeds.

    cs109nn sweep experiments/depth_width.py
    cs109nn report runs/depth_width-<hash>

Measured on 2 CPU cores: 56 s for ``cs109nn sweep`` with its report (6 groups, 5-6 s of
compile each); the same grid as 18 static groups took 3 min 5 s. Validation-selected mean test
accuracy over the 4 seeds, depth 1 / 2 / 3 at each width:

                width 4              width 16             width 64
    spirals     0.75 / 0.81 / 0.86   0.93 / 0.99 / 0.99   0.99 / 0.99 / 0.99
    digits      0.81 / 0.73 / 0.70   0.92 / 0.90 / 0.89   0.93 / 0.92 / 0.91

Bigger helps, but width more than depth here: 4 units per layer are too few for either data
set at any depth (intervals up to ±0.17: some seeds fail; depth helps a 4-wide net on spirals
and hurts it on digits, a 4-unit bottleneck before 10 classes), and from 16 units on one or two
hidden layers are as good as three (spirals 0.93-0.99, digits 0.89-0.93, intervals
overlapping). (The width-4 cells moved from the static-group run's 0.73 / 0.79 / 0.81 and
0.68 / 0.77 / 0.49: the same initial distribution, other draws, and 4 seeds of a net that
often fails.)
"""

from cs109nn.sweep import SweepSpec

DEPTHS = (1, 2, 3)
WIDTHS = (4, 16, 64)


def get_config() -> SweepSpec:
    return SweepSpec(
        name="depth_width",
        claim=(
            "A bigger network can learn a more complex function: more units per layer, or "
            "more layers."
        ),
        datasets=("spirals", "digits"),
        # softmax with K=2 on spirals, K=10 on digits: one model spec fits both. One group per
        # depth, compiled at the widest width; the widths are masked members of it
        # (cs109nn.models.masked): 3 compiles per data set instead of 9.
        models=tuple(
            "softmax-mlp:" + "x".join([str(max(WIDTHS))] * depth) + ":relu" for depth in DEPTHS
        ),
        width=WIDTHS,
        optimizers=("adam",),
        steps=(500,),
        seeds=(0, 1, 2, 3),
        learning_rate=(0.003, 0.01, 0.03),
        eval_every=50,
        n_examples=600,
    )
