"""Digit recognition as on the slides: logistic regression vs an MLP vs a conv net.

The lecture's digit-recognition example, and its claim that a neural network recognises digits
better than logistic regression, on scikit-learn's 8×8 digits at four difficulties: a binary
pair (0 vs 1, then the harder 3 vs 8: ``digits:AvB``), digit >= 5 (``digits-binary``) and all
10 classes (``digits``). Models: softmax regression (the logistic model; with K = 2 it is
logistic regression), an MLP with one hidden layer of 64 ReLU units, and a small conv net
(3×3 convs of 8 and 16 channels, 2×2 average pool). Adam, 400 steps of batch 64, η in
{0.01, 0.03} × 3 seeds: 12 groups × 6 members = 72 trained models. The conv net sets the
size: even mapped one by one (the engine does not vmap convolutions on a CPU) it is the costly
model on 2 cores, so the grid is small.

Each group also writes its test predictions (``save_predictions``), which the report draws:
``figures/hidden_units_<dataset>.png``, the slides' "look at a single hidden neuron": the
input weights of the MLP's first 16 hidden units and of softmax regression's classes as 8×8
images; ``figures/misclassified_<dataset>.png``: the test digits each model gets wrong, true →
predicted. Per model, the config chosen by mean validation accuracy and its best-validation
seed; never the test split.

    cs109nn sweep experiments/digits.py
    cs109nn report runs/digits-<hash>

Measured on 2 CPU cores: 2 min 55 s for ``cs109nn sweep`` with its report (4 min 57 s before
the engine mapped conv-net members one by one instead of vmapping them). Validation-selected
mean test accuracy over the 3 seeds (95% t-interval across seeds where the seeds differ),
softmax regression / MLP / conv net:

    digits:0v1      1.000 / 1.000 / 1.000                          (72 test digits)
    digits:3v8      1.000 / 1.000 / 0.995 [0.975, 1.015]           (72)
    digits-binary   0.905 [0.891, 0.919] / 0.964 / 0.959 [0.931, 0.987]   (359)
    digits          0.939 [0.932, 0.946] / 0.961 [0.949, 0.973] / 0.978 [0.971, 0.985] (359)

A pair of digits is too easy to tell the models apart (every model gets all 72 test digits of
0 vs 1 and of 3 vs 8 right; one conv-net seed misses one 8). Where the task mixes digits, the
claim holds: on "digit >= 5" a linear model fits only 90% of its own training digits (train
accuracy 0.90, test 0.905) while both networks fit (nearly) all of them and reach 0.96 on
test; on all 10 classes the conv net (0.978) beats the MLP (0.961), which beats softmax
regression (0.939). The conv net's interval across seeds clears the MLP's, but over the 359
test digits (Wilson, about ±0.015) the two overlap: the MLP vs conv-net gap is suggestive, not
shown.
"""

from cs109nn.sweep import SweepSpec


def get_config() -> SweepSpec:
    return SweepSpec(
        name="digits",
        claim=(
            "Digit recognition: a neural network (an MLP, and more so a conv net) recognises "
            "handwritten digits better than logistic regression."
        ),
        # a binary pair (an easy one, then a hard one), digit >= 5, all 10 classes
        datasets=("digits:0v1", "digits:3v8", "digits-binary", "digits"),
        # softmax heads fit every data set: K = 2 on the binary ones (the logistic model with
        # w = w1 - w0), K = 10 on digits; one model list, since models x datasets is a product
        models=("softmax", "softmax-mlp:64:relu", "convnet:8x16"),
        optimizers=("adam",),
        steps=(400,),
        batch_sizes=(64,),
        # few members: the conv net is the costly model on 2 cores
        seeds=(0, 1, 2),
        learning_rate=(0.01, 0.03),
        eval_every=100,
        save_predictions=True,
    )
