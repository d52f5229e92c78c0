"""Search beyond grids: grid, random search, successive halving and PBT on one problem.

An MLP (64 ReLU units, softmax head) on all ten of scikit-learn's 8x8 digits, SGD with momentum,
batches of 64, 320 steps evaluated every 10; four hyperparameters searched over one space --
learning rate log-uniform on [1e-3, 1], momentum uniform on [0, 0.95], weight decay
log-uniform on [1e-6, 1e-2], init scale uniform on [0.25, 2] -- times the hidden width 16 or 64
(a member axis, masked inside the 64-unit MLP), by four searches, each a group of 512 members
(256 points x 2 widths) trained in one program:

- ``none``: random search, 256 joint draws (``search_seed``), each trained all 320 steps;
- ``grid``: the same space as a 4 x 4 x 4 x 4 grid (each field's quantiles at the cell
  centres), each point trained all 320 steps;
- ``halving``: successive halving over the 512 members, eta = 4: all for 20 steps, the best
  128 by validation to 80, the best 32 to 320 (a sixth of random search's member-steps);
- ``pbt``: population-based training of the 512 members: every 40 steps the bottom quarter by
  validation copies a member of the top quarter (its width included) and perturbs its learning
  rate, momentum and weight decay by x 0.8 or x 1.25, inside the one compiled program.

Every search selects by validation accuracy (ties to validation LL); the report states the
selected member's test accuracy (a Wilson interval over the 359 test digits: one selected
member, so test sampling is what the interval covers). ``experiments/benchmarks/search.py``
runs the same problem against Optuna and Ray Tune.

    cs109nn sweep experiments/search.py

Measured on 2 CPU cores (2026-12-02): 51 s for the sweep with its report (2,048 models). The
selected member of each search, validation / test accuracy (Wilson over the 359 test digits):
random search 0.979 / 0.958 [0.932, 0.975] with 163,840 member-steps; grid 0.983 / 0.961
[0.936, 0.977], 163,840; successive halving 0.979 / 0.958 [0.932, 0.975] with 25,600 (16 %:
it kept random search's own pick); PBT 0.986 / 0.958 [0.932, 0.975], 163,840, 896 copies over
7 exploits. Every search picks width 64. On this problem the searches find members within
about half a point of each other on validation and the test intervals all overlap: what
halving buys is the same answer for a sixth of the steps. Over five search seeds against
Optuna and Ray Tune (width fixed at 64 there), see ``experiments/benchmarks/README.md``
("Issue 13").
"""

from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="search",
        claim=(
            "Searching beyond a grid: random draws cover a space as well as a grid of the same "
            "size, and successive halving and population-based training find as good a "
            "configuration for a fraction of the training steps."
        ),
        datasets=("digits",),
        models=("softmax-mlp:64:relu",),
        optimizers=("momentum",),
        steps=(320,),
        batch_sizes=(64,),
        eval_every=10,
        seeds=(0,),
        learning_rate="loguniform(0.001,1.0)",
        momentum="uniform(0.0,0.95)",
        weight_decay="loguniform(1e-06,0.01)",
        init_scale="uniform(0.25,2.0)",
        # the hidden width as a member axis (masked inside the 64-unit MLP: one program)
        width=(16, 64),
        samples=256,
        search_seed=0,
        searches=("none", "grid", "halving", "pbt"),
        halving_eta=4,
        halving_rungs=3,
        pbt_every=4,
        pbt_fraction=0.25,
    )
