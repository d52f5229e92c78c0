"""DP-SGD on digits: what privacy costs in test accuracy.

The slides' "one training instance": the gradient of LL is a sum over examples, so each
example's own gradient can be computed. DP-SGD (Abadi et al. 2016) clips every example's
gradient to norm C and adds Gaussian noise of std σ·C to their sum, so that no one example can
move a step by more than C; the claim measured here is that this privacy costs test accuracy,
more the larger σ, and that the clip norm C decides how much. The sweep crosses C in
{0.1, 1, 10, inf} with σ in {0, 0.5, 1, 2, 4, 8} on all 1797 digits (softmax-mlp:32:relu,
SGD with momentum 0.9, batch 64, 400 steps, η in {0.1, 0.5, 2}, 3 seeds: 216 members). The
member C = inf, σ = 0 is exactly plain SGD (tested): the non-private run, in the same sweep.
C = inf with σ > 0 is infinite noise, so those members diverge at once (flagged, drawn as x).

    cs109nn sweep experiments/dp.py
    cs109nn report runs/dp-<hash>

The report's ``figures/dp_digits.png`` draws mean test accuracy (95% t-interval over seeds)
against σ, one line per C, η chosen per (C, σ) by mean validation accuracy, with the
non-private run as a band.

Measured on 2 shared CPU cores: 24 s for ``cs109nn sweep`` (compiling included). Mean test
accuracy over the 3 seeds (η chosen on validation), σ = 0 / 0.5 / 1 / 2 / 4 / 8:

    non-private (C = inf, σ = 0, η = 0.5)   0.943 (95% interval 0.905-0.981)
    C = 0.1                                 0.869 / 0.873 / 0.877 / 0.877 / 0.847 / 0.714
    C = 1                                   0.938 / 0.928 / 0.918 / 0.902 / 0.813 / 0.704
    C = 10                                  0.942 / 0.919 / 0.901 / 0.821 / 0.661 / 0.400

Up to σ = 1 privacy costs 0-4 points at C = 1 or 10; beyond, the noise σ·C dominates, and a
large C pays for its freedom with large noise (C = 10 falls to 0.40 at σ = 8, one seed near
chance) while a tight C = 0.1 starts lower (clipping biases every step; it wants η = 2) but
loses least (0.71 at σ = 8). C = 1 is the best trade here. With clipping only (σ = 0), C = 1
and 10 match the non-private run (0.938, 0.942); C = 0.1 costs 7 points.
"""

from __future__ import annotations

import math

from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="dp",
        claim=(
            "Differential privacy costs test accuracy: more the larger the noise sigma, and "
            "the clip norm C decides how much."
        ),
        datasets=("digits",),
        models=("softmax-mlp:32:relu",),
        optimizers=("sgd",),
        steps=(400,),
        batch_sizes=(64,),
        seeds=(0, 1, 2),
        learning_rate=(0.1, 0.5, 2.0),
        momentum=(0.9,),  # heavy-ball SGD
        # C = inf with sigma = 0 is plain SGD: the non-private member of the same sweep.
        clip_norm=(0.1, 1.0, 10.0, math.inf),
        noise_multiplier=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0),
        eval_every=50,
        dp=True,
    )
