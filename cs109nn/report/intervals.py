"""Confidence intervals, each over one named source of randomness.

- Across seeds (training randomness, the evaluation set fixed): Student-t and seeded percentile
  bootstrap of a mean over seeds. Seeds are the replicates. Values must be finite: a diverged
  member has no final metric worth averaging, and the caller leaves it out (and counts it)
  before taking a mean.
- Over evaluation examples (test-set sampling, training fixed): the Wilson score interval of an
  accuracy observed on n examples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from scipy import stats

# Resamples of the bootstrap, named so that a report can state it.
BOOTSTRAP_RESAMPLES = 10_000


class Interval(NamedTuple):
    """An estimate and a confidence interval ``[low, high]`` around it, over ``n``
    observations: seeds for the intervals across seeds, examples for :func:`wilson_interval`.

    Across seeds, ``low`` and ``high`` are NaN when ``n < 2`` (one seed says nothing about
    spread).
    """

    mean: float
    low: float
    high: float
    n: int


def finite_array(values: Iterable[float]) -> np.ndarray:
    """``values`` as float64 ``[n]``; raises ValueError when any is not finite."""
    array = np.asarray(list(values), dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite; drop diverged members before taking a mean")
    return array


def standard_error(array: np.ndarray) -> float:
    """s/√n of ``array: [n]``, n >= 2."""
    return float(array.std(ddof=1)) / math.sqrt(array.size)


def _without_spread(array: np.ndarray) -> Interval:
    """The interval of fewer than two values: their mean (NaN for none) and no bounds."""
    mean = float(array.mean()) if array.size else math.nan
    return Interval(mean, math.nan, math.nan, array.size)


def t_quantile(confidence: float, df: float | np.ndarray) -> float | np.ndarray:
    """t_{(1+c)/2, df}: the half-width of a two-sided ``confidence`` interval, in standard
    errors."""
    return stats.t.ppf(0.5 + confidence / 2.0, df)


def t_interval(values: Iterable[float], confidence: float = 0.95) -> Interval:
    """Mean ± t_{(1+c)/2, n-1} · s/√n: the Student-t confidence interval for the mean.

    Same as ``scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=sem)``.
    """
    array = finite_array(values)
    if array.size < 2:
        return _without_spread(array)
    n, mean = array.size, float(array.mean())
    half_width = float(t_quantile(confidence, n - 1)) * standard_error(array)
    return Interval(mean, mean - half_width, mean + half_width, n)


def bootstrap_interval(
    values: Iterable[float],
    confidence: float = 0.95,
    num_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for the mean: resample seeds with replacement.

    The resampling stream comes from ``numpy.random.default_rng(seed)``, so a report is the
    same every time it is regenerated.
    """
    array = finite_array(values)
    if array.size < 2:
        return _without_spread(array)
    n, mean = array.size, float(array.mean())
    rng = np.random.default_rng(seed)
    means = np.empty(num_resamples)
    chunk = max(1, 1_000_000 // n)  # bounds memory at about 8 MB of indices per chunk
    for start in range(0, num_resamples, chunk):
        stop = min(start + chunk, num_resamples)
        means[start:stop] = array[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Interval(mean, float(low), float(high), n)


def curve_t_interval(
    curves: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-step mean and t-interval across seeds of learning curves.

    ``curves: [n_seeds, T]``; non-finite entries are left out step by step. Returns
    ``(mean, low, high)``, each ``[T]``; a step with fewer than two finite values has NaN
    bounds (and a NaN mean when it has none).
    """
    curves = np.asarray(curves, dtype=np.float64)
    finite = np.isfinite(curves)
    count = finite.sum(axis=0)
    filled = np.where(finite, curves, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / count
        squares = np.where(finite, (curves - mean) ** 2, 0.0).sum(axis=0)
        sem = np.sqrt(squares / (count - 1)) / np.sqrt(count)
    quantile = t_quantile(confidence, np.where(count >= 2, count - 1, 1))
    half_width = np.where(count >= 2, quantile * sem, np.nan)
    return mean, mean - half_width, mean + half_width


def wilson_interval(p_hat: float, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion ``p_hat`` observed on ``n`` examples.

    The set of p for which |p_hat - p| <= z·sqrt(p(1 - p)/n), z = Φ⁻¹((1 + c)/2)::

        center = (p_hat + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p_hat(1 - p_hat)/n + z²/4n²)

    Same as ``scipy.stats.binomtest(k, n).proportion_ci(c, method="wilson")`` for
    ``p_hat = k/n``; ``p_hat`` need not be k/n (a mean over seeds of accuracies on the same n
    examples is not). Unlike p_hat ± z·sqrt(p_hat(1 - p_hat)/n) it stays inside [0, 1] and
    does not collapse to a point at p_hat = 0 or 1. It covers sampling of the n examples only.
    """
    p_hat, confidence = float(p_hat), float(confidence)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive whole number of examples, got {n!r}")
    if not 0.0 <= p_hat <= 1.0:
        raise ValueError(f"p_hat must be a proportion in [0, 1], got {p_hat!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    n = int(n)
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    shrink = 1.0 + z * z / n
    center = (p_hat + z * z / (2.0 * n)) / shrink
    half_width = z / shrink * math.sqrt(p_hat * (1.0 - p_hat) / n + z * z / (4.0 * n * n))
    return Interval(p_hat, max(0.0, center - half_width), min(1.0, center + half_width), n)
