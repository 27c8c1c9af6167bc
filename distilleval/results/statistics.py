"""Statistics for comparing two models on the same items.

Everything here is paired: teacher and student answered the same items, so the question is
whether the per-item differences are larger than noise, not whether two independent samples
differ. Functions are pure (numpy and the standard library only) and take a seed wherever they resample.

- ``wilson_interval``: confidence interval of a rate (accuracy, error rate).
- ``bootstrap_ci`` / ``paired_bootstrap_ci``: percentile bootstrap of any metric, recomputing
  the whole metric on items resampled with replacement (paired: one draw for both models).
- ``mcnemar_exact``: exact two-sided test on the discordant pairs of paired correctness.
- ``non_inferiority`` / ``paired_wald_lower_bound``: one-sided test that b >= a - margin
  (Newcombe's hybrid score bound when there are no discordant pairs, where Wald collapses).
- ``agreement`` / ``cohen_kappa``: how often two models give the same answer, ignoring gold.
- ``compare_paired``: all of the above as a ``distilleval.results.summary_json.Comparison``.
"""

from __future__ import annotations

import math
import statistics as _stdlib_statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from distilleval.results.summary_json import Comparison, NonInferiority

Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``statistic(values, indices) -> (B,)``: the metric of each resample.

``values`` has one row per item (shape ``(n,)`` or ``(n, k)``); ``indices`` has shape
``(B, n)``, one resample of item positions per row.
"""


def mean_statistic(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The mean of per-item values in each resample (accuracy, mean score)."""
    return values[indices].mean(axis=1)


def ratio_statistic(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``sum(numerator) / sum(denominator)`` per resample; ``values`` is ``(n, 2)``.

    Micro-F1 is this ratio with numerator ``2·TP`` and denominator ``2·TP + FP + FN``; accuracy
    with excluded items is numerator ``score`` and denominator 0 or 1. A resample whose
    denominator is 0 gives NaN (dropped by the bootstrap).
    """
    numerator = values[:, 0][indices].sum(axis=1)
    denominator = values[:, 1][indices].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def per_resample(metric: Callable[[np.ndarray], float]) -> Statistic:
    """Turn ``metric(rows) -> float`` into a ``Statistic`` (a Python loop; for metrics such as
    macro-F1 that cannot be written as array sums)."""

    def statistic(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
        return np.array([metric(values[row]) for row in indices], dtype=float)

    return statistic


def _z(confidence: float, *, sided: int = 2) -> float:
    tail = (1.0 - confidence) / sided
    # The standard library's normal quantile: scipy's import costs a cached re-run most of a second.
    return _stdlib_statistics.NormalDist().inv_cdf(1.0 - tail)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a binomial rate.

    Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible at 0 or n
    successes.

    Args:
        successes: items counted as successes (0 <= successes <= n).
        n: items observed.
        confidence: two-sided coverage.

    Returns:
        ``(low, high)``, or None when ``n`` is 0 (no interval exists).

    Raises:
        ValueError: ``successes`` outside ``[0, n]``.

    >>> [round(x, 4) for x in wilson_interval(83, 100)]
    [0.7445, 0.8911]
    >>> wilson_interval(0, 0) is None
    True
    """
    if n == 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, n={n}], got {successes}")
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; rounding must not move it off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class BootstrapResult:
    """A point estimate with a percentile-bootstrap interval.

    ``low``/``high`` are None when no interval can be formed (no items, or every resample
    undefined). ``method`` names what was done, including a degenerate fallback.
    """

    estimate: float | None
    low: float | None
    high: float | None
    method: str


def _as_rows(values: Sequence | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _percentile_interval(replicates: np.ndarray, estimate: float, confidence: float, n_resamples: int,
                         *, sided: int = 2) -> BootstrapResult:
    finite = replicates[np.isfinite(replicates)]
    if finite.size < max(10, n_resamples // 2):
        return BootstrapResult(estimate, None, None, "bootstrap (too few defined resamples)")
    tail = (1.0 - confidence) / sided
    low = float(np.quantile(finite, tail))
    high = float(np.quantile(finite, 1.0 - tail)) if sided == 2 else math.inf
    if low == high:
        return BootstrapResult(estimate, low, high, "bootstrap (degenerate: every resample equal)")
    return BootstrapResult(estimate, low, high, f"percentile bootstrap, {n_resamples} resamples")


_MAX_INDICES_PER_CHUNK = 4_000_000  # bounds memory: 100,000 items x 2,000 resamples would be 1.6 GB


def _replicates(statistic: Statistic, rows: Sequence[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """The statistic of each resample, for each array in ``rows`` (same resamples for all)."""
    n = len(rows[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_INDICES_PER_CHUNK // n)
    parts: list[list[np.ndarray]] = [[] for _ in rows]
    for start in range(0, n_resamples, chunk):
        indices = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        for part, values in zip(parts, rows):
            part.append(statistic(values, indices))
    return [np.concatenate(part) for part in parts]


def _estimate(statistic: Statistic, values: np.ndarray) -> float | None:
    value = float(statistic(values, np.arange(len(values))[None, :])[0])
    return value if math.isfinite(value) else None


def bootstrap_ci(
    values: Sequence | np.ndarray,
    *,
    statistic: Statistic = mean_statistic,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Percentile bootstrap interval of one model's metric.

    Args:
        values: one row per item, in the shape ``statistic`` expects.
        statistic: computes the whole metric of each resample (default: the mean).
        n_resamples: bootstrap replicates.
        confidence: two-sided coverage.
        seed: seed of the resampling, for reproducible intervals.

    Returns:
        The metric on all items and its interval; with fewer than two items, or when every
        resample gives the same value, the interval collapses and ``method`` says so.
    """
    rows = _as_rows(values)
    n = len(rows)
    if n == 0:
        return BootstrapResult(None, None, None, "none (no items)")
    estimate = _estimate(statistic, rows)
    if n == 1:
        return BootstrapResult(estimate, estimate, estimate, "bootstrap (degenerate: one item)")
    (replicates,) = _replicates(statistic, [rows], n_resamples, seed)
    return _percentile_interval(replicates, estimate, confidence, n_resamples)


def paired_bootstrap_ci(
    values_a: Sequence | np.ndarray,
    values_b: Sequence | np.ndarray,
    *,
    statistic: Statistic = mean_statistic,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    sided: int = 2,
) -> BootstrapResult:
    """Percentile bootstrap interval of ``metric(b) - metric(a)`` over the same items.

    Each replicate draws one resample of item positions and recomputes the whole metric of
    both models on it, which keeps the pairing (an item hard for both stays hard for both).

    Args:
        values_a: model a's per-item rows (the reference, e.g. the teacher).
        values_b: model b's rows for the same items, in the same order.
        statistic: computes the whole metric of each resample.
        n_resamples: bootstrap replicates.
        confidence: coverage; with ``sided=1`` only the lower bound is meaningful
            (``high`` is +inf), as used by the non-inferiority test.
        seed: seed of the resampling.
        sided: 2 for a two-sided interval, 1 for a one-sided lower bound.

    Returns:
        The difference and its interval. Zero items: no estimate. One item, or identical
        resamples: the interval collapses to the estimate and ``method`` says so.

    Raises:
        ValueError: the two models have a different number of items.
    """
    rows_a, rows_b = _as_rows(values_a), _as_rows(values_b)
    if len(rows_a) != len(rows_b):
        raise ValueError(f"paired values need the same items: {len(rows_a)} vs {len(rows_b)} rows")
    n = len(rows_a)
    if n == 0:
        return BootstrapResult(None, None, None, "none (no paired items)")
    est_a, est_b = _estimate(statistic, rows_a), _estimate(statistic, rows_b)
    estimate = None if est_a is None or est_b is None else est_b - est_a
    if estimate is None:
        return BootstrapResult(None, None, None, "none (metric undefined on these items)")
    if n == 1:
        return BootstrapResult(estimate, estimate, estimate, "bootstrap (degenerate: one item)")
    replicates_a, replicates_b = _replicates(statistic, [rows_a, rows_b], n_resamples, seed)
    replicates = replicates_b - replicates_a
    return _percentile_interval(replicates, estimate, confidence, n_resamples, sided=sided)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pair counts.

    Under the null each discordant item is equally likely to favour a or b, so the count
    favouring one side is Binomial(a_only + b_only, 1/2).

    Args:
        a_only: items only model a got right.
        b_only: items only model b got right.

    Returns:
        The p-value; 1.0 when there are no discordant pairs.

    >>> round(mcnemar_exact(10, 3), 4)
    0.0923
    >>> mcnemar_exact(0, 0)
    1.0
    """
    if a_only < 0 or b_only < 0:
        raise ValueError("discordant counts must be non-negative")
    n = a_only + b_only
    if n == 0:
        return 1.0
    # Binomial(n, 1/2) lower tail in exact integers: sum of C(n, i) for i <= k, over 2**n.
    tail = sum(math.comb(n, i) for i in range(min(a_only, b_only) + 1))
    return min(1.0, 2 * tail / 2**n)  # int / int stays exact until the one rounding to float


def paired_wald_lower_bound(
    both: int, a_only: int, b_only: int, neither: int, *, alpha: float = 0.05
) -> tuple[float, float]:
    """Difference of paired proportions (b - a) and its one-sided ``1 - alpha`` lower bound.

    Wald interval for paired proportions: ``d = (b_only - a_only) / n`` and
    ``var = ((a_only + b_only) / n - d²) / n``.

    Returns:
        ``(difference, lower_bound)``.

    >>> d, low = paired_wald_lower_bound(80, 10, 3, 7)
    >>> round(d, 2), round(low, 3)
    (-0.07, -0.128)
    """
    n = both + a_only + b_only + neither
    if n == 0:
        raise ValueError("no paired items")
    difference = (b_only - a_only) / n
    variance = max(0.0, ((a_only + b_only) / n - difference**2) / n)
    return difference, difference - _z(1 - alpha, sided=1) * math.sqrt(variance)


def paired_newcombe_lower_bound(
    both: int, a_only: int, b_only: int, neither: int, *, alpha: float = 0.05
) -> tuple[float, float]:
    """Difference of paired proportions (b - a) and its one-sided lower bound by Newcombe's
    hybrid score method (1998, method 10), built from Wilson intervals of each rate.

    Unlike the Wald bound it does not collapse to the estimate when there are no discordant
    pairs (a handful of items all right on both sides proves little).

    >>> d, low = paired_newcombe_lower_bound(5, 0, 0, 0)
    >>> d, round(low, 3)
    (0.0, -0.351)
    """
    n = both + a_only + b_only + neither
    if n == 0:
        raise ValueError("no paired items")
    right_a, right_b = both + a_only, both + b_only
    p_a, p_b = right_a / n, right_b / n
    # A one-sided bound at alpha uses the two-sided interval at 2 * alpha.
    _, high_a = wilson_interval(right_a, n, confidence=1 - 2 * alpha)
    low_b, _ = wilson_interval(right_b, n, confidence=1 - 2 * alpha)
    product = right_a * (n - right_a) * right_b * (n - right_b)
    phi = 0.0 if product == 0 else (both * neither - a_only * b_only) / math.sqrt(product)
    spread = (p_b - low_b) ** 2 - 2 * phi * (p_b - low_b) * (high_a - p_a) + (high_a - p_a) ** 2
    difference = p_b - p_a
    return difference, difference - math.sqrt(max(0.0, spread))


def non_inferiority(difference: float, lower_bound: float, *, margin: float, alpha: float, method: str) -> NonInferiority:
    """Decide non-inferiority: b is non-inferior to a when the one-sided lower bound of
    ``b - a`` lies above ``-margin``.

    Args:
        difference: the observed b - a.
        lower_bound: its one-sided ``1 - alpha`` lower confidence bound.
        margin: the largest loss still acceptable (0.05 = five points).
        alpha: one-sided significance level.
        method: how the bound was computed, recorded in the result.
    """
    return NonInferiority(
        margin=margin,
        alpha=alpha,
        difference=difference,
        lower_bound=lower_bound,
        non_inferior=lower_bound > -margin,
        method=method,
    )


def agreement(labels_a: Sequence[str | None], labels_b: Sequence[str | None]) -> float | None:
    """Share of items where both models gave an answer and the answers are equal.

    Items where either model gave no answer count as disagreement; None when there are no
    items at all. This measures consistency with the other model, not correctness.
    """
    if len(labels_a) != len(labels_b):
        raise ValueError("agreement needs the same items for both models")
    if not labels_a:
        return None
    same = sum(1 for x, y in zip(labels_a, labels_b) if x is not None and x == y)
    return same / len(labels_a)


def cohen_kappa(labels_a: Sequence[str | None], labels_b: Sequence[str | None]) -> float | None:
    """Cohen's kappa of two label sequences (None is its own category).

    Returns None when undefined: no items, or chance agreement of 1 (one category only).
    """
    if len(labels_a) != len(labels_b):
        raise ValueError("kappa needs the same items for both models")
    n = len(labels_a)
    if n == 0:
        return None
    observed = sum(1 for x, y in zip(labels_a, labels_b) if x == y) / n
    categories = set(labels_a) | set(labels_b)
    expected = sum((list(labels_a).count(c) / n) * (list(labels_b).count(c) / n) for c in categories)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def _is_binary(values: np.ndarray) -> bool:
    return values.ndim == 1 and bool(np.all((values == 0) | (values == 1)))


def compare_paired(
    a: str,
    b: str,
    scores_a: Sequence[float | None],
    scores_b: Sequence[float | None],
    *,
    metric_rows_a: Sequence | np.ndarray | None = None,
    metric_rows_b: Sequence | np.ndarray | None = None,
    statistic: Statistic = mean_statistic,
    canonical_a: Sequence[str | None] | None = None,
    canonical_b: Sequence[str | None] | None = None,
    margin: float | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
    metric: str | None = None,
) -> Comparison:
    """Compare model ``b`` against model ``a`` on the same items (difference = b - a).

    Items where either score is None (excluded, e.g. a gold query that failed) are dropped
    from the pairing. With 0/1 scores the McNemar test and the paired Wald bound are used
    (the textbook analysis of paired correctness); the bootstrap interval of the whole metric
    is reported in every case, and is the non-inferiority bound for non-binary metrics.

    Args:
        a: name of the reference model (e.g. teacher).
        b: name of the compared model (e.g. student).
        scores_a: per-item scores of a (None = excluded).
        scores_b: per-item scores of b for the same items.
        metric_rows_a: per-item rows the metric is computed from (default: the scores);
            e.g. ``(2·TP, 2·TP+FP+FN)`` for micro-F1 with ``statistic=ratio_statistic``.
        metric_rows_b: the same for b.
        statistic: the metric over resampled rows.
        canonical_a: normalised outputs of a, for the agreement rate.
        canonical_b: normalised outputs of b.
        margin: non-inferiority margin; None skips the test.
        alpha: one-sided level of the non-inferiority test.
        confidence: coverage of the two-sided difference interval.
        n_resamples: bootstrap replicates.
        seed: bootstrap seed.
        metric: name of the metric, recorded in the result.

    Returns:
        A ``Comparison`` ready for summary.json.
    """
    if len(scores_a) != len(scores_b):
        raise ValueError(f"paired comparison needs the same items: {len(scores_a)} vs {len(scores_b)}")
    keep = [i for i, (x, y) in enumerate(zip(scores_a, scores_b)) if x is not None and y is not None]
    sa = np.array([scores_a[i] for i in keep], dtype=float)
    sb = np.array([scores_b[i] for i in keep], dtype=float)
    rows_a = sa if metric_rows_a is None else np.asarray(metric_rows_a, dtype=float)[keep]
    rows_b = sb if metric_rows_b is None else np.asarray(metric_rows_b, dtype=float)[keep]
    boot = paired_bootstrap_ci(rows_a, rows_b, statistic=statistic, n_resamples=n_resamples,
                               confidence=confidence, seed=seed)
    agree = kappa = None
    if canonical_a is not None and canonical_b is not None:
        # Agreement is over every item, scored or not: it does not need gold.
        agree = agreement(list(canonical_a), list(canonical_b))
        kappa = cohen_kappa(list(canonical_a), list(canonical_b))
    comparison = Comparison(
        a=a, b=b, n_paired=len(keep), difference=boot.estimate,
        ci_low=boot.low, ci_high=boot.high, ci_method=boot.method, agreement=agree, kappa=kappa, metric=metric,
    )
    binary = len(keep) > 0 and _is_binary(sa) and _is_binary(sb)
    if binary:
        both = int(np.sum((sa == 1) & (sb == 1)))
        a_only = int(np.sum((sa == 1) & (sb == 0)))
        b_only = int(np.sum((sa == 0) & (sb == 1)))
        neither = len(keep) - both - a_only - b_only
        comparison.mcnemar_p = mcnemar_exact(a_only, b_only)
        comparison.discordant = {"a_only": a_only, "b_only": b_only}
    if margin is not None and len(keep) > 0 and boot.estimate is not None:
        if binary and metric_rows_a is None and a_only + b_only > 0:
            difference, lower = paired_wald_lower_bound(both, a_only, b_only, neither, alpha=alpha)
            method = f"paired Wald, one-sided {1 - alpha:.0%}"
        elif binary and metric_rows_a is None:
            # No discordant pairs: the Wald bound would have zero width.
            difference, lower = paired_newcombe_lower_bound(both, a_only, b_only, neither, alpha=alpha)
            method = f"paired Newcombe hybrid score (no discordant pairs), one-sided {1 - alpha:.0%}"
        else:
            one_sided = paired_bootstrap_ci(rows_a, rows_b, statistic=statistic, n_resamples=n_resamples,
                                            confidence=1 - alpha, seed=seed, sided=1)
            difference = one_sided.estimate
            lower = one_sided.low if one_sided.low is not None else -math.inf
            method = f"paired bootstrap, one-sided {1 - alpha:.0%}"
        comparison.non_inferiority = non_inferiority(difference, lower, margin=margin, alpha=alpha, method=method)
    return comparison
