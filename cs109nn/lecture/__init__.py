"""The slides' equations in their own notation: the reference for everything else.

This layer imports nothing of the package.
"""

from cs109nn.lecture.inputs import DataError, OneClassWarning, check_examples
from cs109nn.lecture.logistic_regression import (
    AscentResult,
    add_intercept,
    bernoulli_log_likelihoods,
    gradient,
    gradient_ascent,
    log_likelihood,
    log_likelihoods,
    per_example_gradients,
    sigmoid,
    weighted_sum,
)
from cs109nn.lecture.network import (
    network_forward,
    network_gradients,
    network_log_likelihood,
    network_log_likelihoods,
    network_logits,
)
from cs109nn.lecture.newton import NewtonResult, newton

__all__ = [
    "AscentResult",
    "DataError",
    "NewtonResult",
    "OneClassWarning",
    "add_intercept",
    "bernoulli_log_likelihoods",
    "check_examples",
    "gradient",
    "gradient_ascent",
    "log_likelihood",
    "log_likelihoods",
    "network_forward",
    "network_gradients",
    "network_log_likelihood",
    "network_log_likelihoods",
    "network_logits",
    "newton",
    "per_example_gradients",
    "sigmoid",
    "weighted_sum",
]
