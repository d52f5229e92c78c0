"""Statistics across seeds: means with confidence intervals, and paired comparisons.

Seeds are the replicates. A diverged member has no final metric worth averaging: it is left
out of every mean and counted separately (``n_diverged``), never turned into a silent NaN.

The Student-t distribution is computed here (regularised incomplete beta by continued
fraction, quantiles by bisection) because scipy is not a dependency of the package; the
tests check it against ``scipy.stats``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np

from cs109nn.report.configs import ConfigKey, Row, group_by_config, primary_metric, rows_by_dataset

# ---------------------------------------------------------------------------------------------
# The Student-t distribution
# ---------------------------------------------------------------------------------------------

_CF_EPS = 1e-15
_CF_TINY = 1e-300
_CF_MAX_ITERATIONS = 100_000
# Beyond this many degrees of freedom t and the normal agree to ~1e-7 and lgamma loses digits.
_NORMAL_LIMIT_DF = 1e7
# Defaults of the resampling tests, named so that a report can state them.
BOOTSTRAP_RESAMPLES = 10_000
SIGN_FLIP_EXACT_UP_TO = 16


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz; converges for x < (a+1)/(a+b+2))."""
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
    h = d
    for m in range(1, _CF_MAX_ITERATIONS + 1):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a - 1.0 + m2) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _CF_TINY else _CF_TINY
            step = c * d
            h *= step
        if abs(step - 1.0) < _CF_EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def regularized_incomplete_beta(a: float, b: float, x: float, one_minus_x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function.

    ``one_minus_x`` is passed separately so that a caller who knows 1 - x exactly (e.g.
    t^2 / (df + t^2)) does not lose digits to the subtraction.
    """
    if x <= 0.0:
        return 0.0
    if one_minus_x <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + a * math.log(x)
        + b * math.log(one_minus_x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, one_minus_x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for T ~ Student-t with ``df`` degrees of freedom.

    Computed as I_{df/(df+t^2)}(df/2, 1/2) directly, so small p-values keep their digits.
    """
    if math.isnan(t) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    if df > _NORMAL_LIMIT_DF:
        return 2.0 * NormalDist().cdf(-abs(t))
    denominator = df + t * t
    return regularized_incomplete_beta(df / 2.0, 0.5, df / denominator, t * t / denominator)


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for T ~ Student-t with ``df`` degrees of freedom."""
    tail = 0.5 * student_t_two_sided_p(t, df)
    return 1.0 - tail if t > 0 else tail


@functools.lru_cache(maxsize=1024)
def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student-t with ``df`` degrees of freedom (inverse of the cdf).

    ``t.ppf(p, df)`` in scipy's words; found by bisection on the upper tail, to full float64
    precision of the tail function.
    """
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"p must lie in [0, 1], got {p}")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if p == 0.5:
        return 0.0
    if df > _NORMAL_LIMIT_DF:
        return NormalDist().inv_cdf(p)
    upper_tail = 1.0 - p if p > 0.5 else p  # target P(T >= t) for the |t| we are after

    def tail(t: float) -> float:
        return 0.5 * student_t_two_sided_p(t, df)

    low, high = 0.0, 1.0
    while tail(high) > upper_tail:
        low, high = high, 2.0 * high
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if tail(middle) > upper_tail:
            low = middle
        else:
            high = middle
    t = 0.5 * (low + high)
    return t if p > 0.5 else -t


# ---------------------------------------------------------------------------------------------
# Intervals for a mean across seeds
# ---------------------------------------------------------------------------------------------


class Interval(NamedTuple):
    """A mean over ``n`` replicates and a confidence interval ``[low, high]`` around it.

    ``low`` and ``high`` are NaN when ``n < 2`` (one seed says nothing about spread).
    """

    mean: float
    low: float
    high: float
    n: int


def _finite_array(values: Iterable[float]) -> np.ndarray:
    array = np.asarray(list(values), dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite; drop diverged members before taking a mean")
    return array


def t_interval(values: Iterable[float], confidence: float = 0.95) -> Interval:
    """Mean ± t_{(1+c)/2, n-1} · s/√n: the Student-t confidence interval for the mean.

    Same as ``scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=sem)``.
    """
    array = _finite_array(values)
    n = array.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(array.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    half_width = student_t_quantile(0.5 + confidence / 2.0, n - 1) * _standard_error(array)
    return Interval(mean, mean - half_width, mean + half_width, n)


def _standard_error(array: np.ndarray) -> float:
    return float(array.std(ddof=1)) / math.sqrt(array.size)


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
    array = _finite_array(values)
    n = array.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(array.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
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
    quantile = np.array(
        [
            student_t_quantile(0.5 + confidence / 2.0, int(c) - 1) if c >= 2 else np.nan
            for c in count
        ]
    )
    half_width = np.where(count >= 2, quantile * sem, np.nan)
    return mean, mean - half_width, mean + half_width


# ---------------------------------------------------------------------------------------------
# Paired comparisons over shared seeds
# ---------------------------------------------------------------------------------------------


class PairedTest(NamedTuple):
    """Paired t-test of a - b: mean difference, its confidence interval, t and p (two-sided)."""

    mean_difference: float
    low: float
    high: float
    t_statistic: float
    p_value: float
    n: int


def paired_t_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedTest:
    """Paired t-test of H0: E[a - b] = 0 over matched replicates (``scipy.stats.ttest_rel``).

    With fewer than two pairs nothing is testable: bounds, t and p are NaN. When every
    difference is the same (zero spread), the answer is exact rather than NaN: p = 1 if the
    differences are all zero, p = 0 otherwise.
    """
    a_array, b_array = _finite_array(a), _finite_array(b)
    if a_array.shape != b_array.shape:
        raise ValueError(f"paired samples differ in length: {a_array.size} vs {b_array.size}")
    differences = a_array - b_array
    n = differences.size
    if n < 2:
        mean = float(differences.mean()) if n else math.nan
        return PairedTest(mean, math.nan, math.nan, math.nan, math.nan, n)
    mean = float(differences.mean())
    sem = _standard_error(differences)
    if sem == 0.0:
        if mean == 0.0:
            return PairedTest(0.0, 0.0, 0.0, 0.0, 1.0, n)
        return PairedTest(mean, mean, mean, math.copysign(math.inf, mean), 0.0, n)
    t = mean / sem
    half_width = student_t_quantile(0.5 + confidence / 2.0, n - 1) * sem
    return PairedTest(
        mean, mean - half_width, mean + half_width, t, student_t_two_sided_p(t, n - 1), n
    )


def sign_flip_test(
    a: Sequence[float],
    b: Sequence[float],
    num_permutations: int = 20_000,
    seed: int = 0,
    exact_up_to: int = SIGN_FLIP_EXACT_UP_TO,
) -> float:
    """Two-sided sign-flip permutation p-value of H0: a - b is symmetric about zero.

    Under H0 each difference's sign is a fair coin. Exact (all 2^n sign patterns) for
    ``n <= exact_up_to``; beyond, ``num_permutations`` seeded random patterns, with the
    observed one counted so the p-value is never zero.
    """
    differences = _finite_array(a) - _finite_array(b)
    n = differences.size
    if n == 0:
        return math.nan
    observed = abs(differences.mean())
    tolerance = 1e-12 * max(1.0, observed)  # so that ties with the observed mean count
    if n <= exact_up_to:
        patterns = np.arange(2**n)[:, None] >> np.arange(n)[None, :] & 1
        means = (1 - 2 * patterns) @ differences / n
        return float(np.mean(np.abs(means) >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(num_permutations, n))
    extreme = np.sum(np.abs(signs @ differences / n) >= observed - tolerance)
    return float((extreme + 1) / (num_permutations + 1))


# ---------------------------------------------------------------------------------------------
# Configs: summaries, rankings, comparisons
# ---------------------------------------------------------------------------------------------


def is_diverged(row: Mapping[str, Any]) -> bool:
    """True when the row's member was flagged as diverged (bool or its text form)."""
    value = row.get("diverged")
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def metric_value(row: Mapping[str, Any], metric: str) -> float | None:
    """The row's ``metric`` as a finite float, or ``None`` when it is absent or non-finite."""
    value = row.get(metric)
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class ConfigSummary(NamedTuple):
    """One config's ``metric`` across seeds.

    ``values``/``seeds``: the members that count (not diverged, metric present), in row order.
    ``n_diverged``: members left out because they diverged. ``n_missing``: members that did
    not diverge but have no finite value for the metric (e.g. no test split).
    """

    config: ConfigKey
    metric: str
    rows: list[Row]
    values: list[float]
    seeds: list[Any]
    t: Interval
    bootstrap: Interval
    n_diverged: int
    n_missing: int

    @property
    def n(self) -> int:
        """Members the mean is taken over."""
        return len(self.values)


def summarize_config(
    config: ConfigKey,
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
) -> ConfigSummary:
    """Mean, t-interval and bootstrap interval of ``metric`` over one config's seeds."""
    values: list[float] = []
    seeds: list[Any] = []
    n_diverged = n_missing = 0
    for row in rows:
        if is_diverged(row):
            n_diverged += 1
            continue
        value = metric_value(row, metric)
        if value is None:
            n_missing += 1
            continue
        values.append(value)
        seeds.append(row.get("seed"))
    return ConfigSummary(
        config=config,
        metric=metric,
        rows=[dict(row) for row in rows],
        values=values,
        seeds=seeds,
        t=t_interval(values, confidence),
        bootstrap=bootstrap_interval(values, confidence, seed=bootstrap_seed),
        n_diverged=n_diverged,
        n_missing=n_missing,
    )


def rank_configs(
    rows: Iterable[Mapping[str, Any]],
    metric: str,
    columns: Sequence[str] | None = None,
    confidence: float = 0.95,
    higher_is_better: bool = True,
    bootstrap_seed: int = 0,
) -> list[ConfigSummary]:
    """Every config's summary, best mean first; configs with no usable member come last.

    Ties in the mean keep the configs' order of first appearance (the sort is stable).
    """
    summaries = [
        summarize_config(config, config_rows, metric, confidence, bootstrap_seed)
        for config, config_rows in group_by_config(rows, columns).items()
    ]
    sign = -1.0 if higher_is_better else 1.0

    def order(summary: ConfigSummary) -> tuple[int, float]:
        if summary.n == 0:
            return (1, 0.0)
        return (0, sign * summary.t.mean)

    return sorted(summaries, key=order)


def rank_by_dataset(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
) -> dict[str, list[ConfigSummary]]:
    """Per dataset, :func:`rank_configs` by the dataset's primary metric (final test accuracy,
    or final train accuracy where no member has a test value)."""
    return {
        dataset: rank_configs(
            dataset_rows,
            primary_metric(dataset_rows),
            columns,
            confidence,
            bootstrap_seed=bootstrap_seed,
        )
        for dataset, dataset_rows in rows_by_dataset(rows).items()
    }


class PairedComparison(NamedTuple):
    """``a`` vs ``b`` over the seeds where both members finished with a value.

    ``test`` is the paired t-test of a - b; ``sign_flip_p_value`` the permutation p-value.
    """

    seeds: list[Any]
    test: PairedTest
    sign_flip_p_value: float


def compare_configs(
    a: ConfigSummary, b: ConfigSummary, confidence: float = 0.95
) -> PairedComparison:
    """Paired comparison of two configs' summaries, matched by seed.

    Seeds present in only one config, or where either member diverged, are left out.
    """
    b_by_seed = dict(zip(b.seeds, b.values, strict=True))
    shared = [
        (seed, value, b_by_seed[seed])
        for seed, value in zip(a.seeds, a.values, strict=True)
        if seed in b_by_seed
    ]
    seeds = [seed for seed, _, _ in shared]
    a_values = [value for _, value, _ in shared]
    b_values = [value for _, _, value in shared]
    return PairedComparison(
        seeds=seeds,
        test=paired_t_test(a_values, b_values, confidence),
        sign_flip_p_value=sign_flip_test(a_values, b_values),
    )
