"""Models: pure ``(init, apply)`` pairs returning logits, built on flax.linen.

- :class:`Model` — the contract; :func:`model_from_spec` names one by a spec string
  (``logreg``, ``mlp:32x32:sigmoid``, ``mlp:64:relu:he``, ``softmax``, ``softmax-mlp:64:relu``,
  ``convnet``, ``stack:dense=64-relu-mylayer=8``); :func:`register_layer` /
  :func:`register_model` plug in new ones from outside the package.
- :mod:`~cs109nn.models.objectives` — log-likelihood on logits (we maximise LL; the loss is
  −mean LL), accuracy, probabilities, L2 penalty.
- :mod:`~cs109nn.models.naive_bayes` — Bernoulli and Gaussian Naive Bayes by counting; as a
  :class:`FittedModel` (``naive-bayes[:bernoulli|gaussian[:SMOOTHING]]``) a sweep fits it per
  member instead of training it.
- :mod:`~cs109nn.models.parameter_count` — parameters per layer and in total.
"""

from cs109nn.models.convnet import ConvNet
from cs109nn.models.flax_model import model_from_module, model_from_pair
from cs109nn.models.initializers import initializer, known_initializers, register_initializer
from cs109nn.models.layers import (
    Layer,
    LayerToken,
    NamedLayer,
    known_layers,
    make_layer,
    parse_layer,
    register_activation,
    register_layer,
)
from cs109nn.models.logistic import LogisticRegression
from cs109nn.models.mlp import MLP
from cs109nn.models.model import FittedModel, Model, Output, Params, check_output
from cs109nn.models.naive_bayes import (
    BernoulliNaiveBayes,
    GaussianNaiveBayes,
    fit_bernoulli,
    fit_gaussian,
    joint_log_likelihood,
    naive_bayes_model,
    predict_log_proba,
    predict_logits,
)
from cs109nn.models.objectives import (
    accuracy,
    l2_penalty,
    log_likelihood,
    log_likelihoods,
    loss,
    mean_log_likelihood,
    predict,
    probabilities,
)
from cs109nn.models.parameter_count import (
    dense_parameter_count,
    parameter_count,
    parameter_counts,
)
from cs109nn.models.registry import (
    KNOWN_MODELS,
    is_fitted_spec,
    known_models,
    model_from_spec,
    register_model,
)
from cs109nn.models.shape_check import with_shape_check
from cs109nn.models.stack import Stack

__all__ = [
    "KNOWN_MODELS",
    "MLP",
    "BernoulliNaiveBayes",
    "ConvNet",
    "GaussianNaiveBayes",
    "Layer",
    "LayerToken",
    "LogisticRegression",
    "FittedModel",
    "Model",
    "NamedLayer",
    "Output",
    "Params",
    "Stack",
    "accuracy",
    "check_output",
    "dense_parameter_count",
    "fit_bernoulli",
    "fit_gaussian",
    "initializer",
    "naive_bayes_model",
    "is_fitted_spec",
    "joint_log_likelihood",
    "known_initializers",
    "known_layers",
    "known_models",
    "l2_penalty",
    "log_likelihood",
    "log_likelihoods",
    "loss",
    "make_layer",
    "mean_log_likelihood",
    "model_from_module",
    "model_from_pair",
    "model_from_spec",
    "parameter_count",
    "parameter_counts",
    "parse_layer",
    "predict",
    "predict_log_proba",
    "predict_logits",
    "probabilities",
    "register_activation",
    "register_initializer",
    "register_layer",
    "register_model",
    "with_shape_check",
]
