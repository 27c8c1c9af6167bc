"""Statistics for comparing two models on the same items.

Everything here is paired: teacher and student answered the same items, so the question is
whether the per-item differences are larger than noise, not whether two independent samples
differ. Functions are pure (numpy and the standard library only) and take a seed wherever they
resample. Every method is named in what it returns, and its level is checked by the conformance
suite (``tests/results/test_conformance.py``, ``docs/statistics.md``).

- ``wilson_interval``: Wilson score interval of a rate (per-class tables, learning curves).
- ``clopper_pearson`` (from ``intervals``): exact interval of an accuracy.
- ``bootstrap_ci`` / ``paired_bootstrap_ci``: percentile bootstrap of any metric, recomputing
  the whole metric on items resampled with replacement (paired: one draw for both models); used
  only for metrics that are not a mean or a ratio of sums.
- ``mcnemar_exact``: exact two-sided test on the discordant pairs of paired correctness.
- ``paired_difference``: the b - a difference of a mean or micro-averaged metric with its
  two-sided interval, its one-sided bounds and the non-inferiority decision, all from one
  method (Tango's score test for 0/1 scores; see ``paired_proportions`` and ``intervals``).
- ``agreement`` / ``cohen_kappa``: how often two models give the same answer, ignoring gold.
- ``compare_paired``: all of the above as a ``distilleval.results.summary_json.Comparison``.
"""

from __future__ import annotations

import math
import statistics as _stdlib_statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from distilleval.results import intervals, paired_proportions
from distilleval.results.intervals import clopper_pearson  # noqa: F401  (re-exported for callers)
from distilleval.results.paired_proportions import mcnemar_exact  # noqa: F401  (re-exported)
from distilleval.results.summary_json import Comparison, NonInferiority

Statistic = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``statistic(values, indices) -> (B,)``: the metric of each resample.

``values`` has one row per item (shape ``(n,)`` or ``(n, k)``); ``indices`` has shape
``(B, n)``, one resample of item positions per row.
"""


def mean_statistic(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The mean of per-item values in each resample (accuracy, mean score)."""
    means: np.ndarray = values[indices].mean(axis=1)
    return means


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


def _as_rows(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _percentile_interval(replicates: np.ndarray, estimate: float | None, confidence: float, n_resamples: int,
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
    values: Sequence[Any] | np.ndarray,
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
    values_a: Sequence[Any] | np.ndarray,
    values_b: Sequence[Any] | np.ndarray,
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


@dataclass(frozen=True)
class PairedDifference:
    """The b - a difference of a metric on the same items, with everything one method says.

    ``low``/``high``: two-sided interval at ``confidence``. ``lower``/``upper``: one-sided
    ``1 - alpha`` bounds (a two-sided ``1 - 2 alpha`` interval), the bounds the decision uses.
    ``decision``: ``non-inferior`` when ``lower > -margin``, ``inferior`` when ``upper < -margin``,
    else ``inconclusive`` (None without a margin). ``method`` names the test and the interval.
    ``p_value``: two-sided p of the test the interval inverts, at a difference of 0 (the interval
    excludes 0 exactly when ``p_value < 1 - confidence``); None where no test is inverted (bootstrap).
    """

    estimate: float | None
    low: float | None
    high: float | None
    lower: float | None
    upper: float | None
    decision: str | None
    method: str
    p_value: float | None = None


def _decision(lower: float, upper: float, margin: float | None) -> str | None:
    if margin is None:
        return None
    if lower > -margin:
        return "non-inferior"
    return "inferior" if upper < -margin else "inconclusive"


def _counts_difference(losses: float, gains: float, n: int, estimate: float, *, margin: float | None, alpha: float,
                       confidence: float, method: str) -> PairedDifference:
    """Score-test interval, bounds and decision from (possibly fractional) discordant counts."""
    lows, highs = paired_proportions.score_bounds(losses, gains, n, np.array([(1 - confidence) / 2, alpha]))
    (low, lower), (high, upper) = np.asarray(lows).tolist(), np.asarray(highs).tolist()
    decision = None
    if margin is not None:
        decision = paired_proportions.decide_non_inferiority(losses, gains, n, margin, alpha)
    # With fractional counts (micro-F1) the metric's difference can sit outside the per-item
    # interval; widen to keep it inside rather than print an interval that excludes it.
    return PairedDifference(estimate, min(low, estimate), max(high, estimate), min(lower, estimate),
                            max(upper, estimate), decision, method,
                            paired_proportions.score_p_value(losses, gains, n))


def paired_difference(
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray,
    *,
    rows_a: np.ndarray | None = None,
    rows_b: np.ndarray | None = None,
    margin: float | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> PairedDifference:
    """Difference ``metric(b) - metric(a)`` on paired items, its interval and the
    non-inferiority decision, all from one method so that they cannot contradict each other.

    - 0/1 scores: Tango's continuity-corrected score test on the discordant counts; the
      interval is its inversion.
    - Other scores in [0, 1], or micro-averaged rows: the bootstrap-t of the difference when
      at least ``intervals.MIN_ITEMS`` items of which ``intervals.MIN_INFORMATIVE`` differ from the
      most common per-item difference,
      else the same score test on fractional discordant counts (each item's loss and gain),
      so identical data get an interval of non-zero width from the number of items.

    Args:
        scores_a: per-item scores of a (the reference), in [0, 1].
        scores_b: per-item scores of b on the same items.
        rows_a: per-item ``(numerator, denominator)`` of a micro-averaged metric (None: the mean).
        rows_b: the same for b.
        margin: non-inferiority margin (None: no decision).
        alpha: one-sided level of both decisions (non-inferior and inferior).
        confidence: coverage of the two-sided interval ``low``/``high``.
        n_resamples: bootstrap replicates.
        seed: bootstrap seed.

    Raises:
        ValueError: different numbers of items, or none.
    """
    sa, sb = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if len(sa) != len(sb):
        raise ValueError(f"paired values need the same items: {len(sa)} vs {len(sb)}")
    n = len(sa)
    if n == 0:
        raise ValueError("no paired items")
    micro = rows_a is not None and rows_b is not None
    if micro:
        ra, rb = np.asarray(rows_a, dtype=float).reshape(-1, 2), np.asarray(rows_b, dtype=float).reshape(-1, 2)
        defined = (ra[:, 1] > 0) | (rb[:, 1] > 0)
        ra, rb = ra[defined], rb[defined]
        ratio_a = ra[:, 0].sum() / ra[:, 1].sum() if ra[:, 1].sum() > 0 else 1.0
        ratio_b = rb[:, 0].sum() / rb[:, 1].sum() if rb[:, 1].sum() > 0 else 1.0
        estimate = float(ratio_b - ratio_a)
    else:
        ra, rb = np.column_stack([sa, np.ones(n)]), np.column_stack([sb, np.ones(n)])
        estimate = float(sb.mean() - sa.mean())
    binary = not micro and _is_binary(sa) and _is_binary(sb)
    losses, gains = intervals.fractional_discordance(sa, sb)
    if binary:
        return _counts_difference(losses, gains, n, estimate, margin=margin, alpha=alpha, confidence=confidence,
                                  method=f"{paired_proportions.SCORE_METHOD} (interval inverts the test)")
    if intervals.paired_uses_bootstrap(sa, sb, n_resamples) and len(ra) >= intervals.MIN_ITEMS:
        _, [(low, high), (lower, upper)] = intervals.bootstrap_t_paired(
            ra, rb, confidences=(confidence, 1 - 2 * alpha), n_resamples=n_resamples, seed=seed)
        unit = "items resampled whole" if micro else "paired items"
        method = f"{intervals.BOOTSTRAP_T.format(resamples=n_resamples)} of the difference ({unit})"
        return PairedDifference(estimate, low, high, lower, upper, _decision(lower, upper, margin), method)
    return _counts_difference(losses, gains, n, estimate, margin=margin, alpha=alpha, confidence=confidence,
                              method=f"{paired_proportions.SCORE_METHOD} on fractional discordant counts "
                                     f"(count-based: {n} items, {int(np.sum(sa != sb))} not tied; "
                                     "too few distinct differences for a bootstrap)")


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
    scores_a: Sequence[float | None] | np.ndarray,
    scores_b: Sequence[float | None] | np.ndarray,
    *,
    metric_rows_a: Sequence[Any] | np.ndarray | None = None,
    metric_rows_b: Sequence[Any] | np.ndarray | None = None,
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
    from the pairing. A mean or micro-averaged metric gets ``paired_difference`` (one method for
    the interval, the bounds, the decision and the p-value of the same test); with 0/1 scores McNemar's
    exact p is added with its own agreeing (exact conditional) interval. Any
    other ``statistic`` (e.g. a Python metric computed on each resample) gets a percentile bootstrap.

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
        margin: non-inferiority margin; None skips the decision.
        alpha: one-sided level of the non-inferior and inferior decisions.
        confidence: coverage of the two-sided difference interval.
        n_resamples: bootstrap replicates.
        seed: bootstrap seed.
        metric: name of the metric, recorded in the result.

    Returns:
        A ``Comparison`` ready for summary.json.
    """
    if len(scores_a) != len(scores_b):
        raise ValueError(f"paired comparison needs the same items: {len(scores_a)} vs {len(scores_b)}")
    keep: list[int] | np.ndarray
    if _float_arrays(scores_a, scores_b):
        # Already paired floats (``item_results.paired_item_scores``): nothing to drop, no copy per item.
        keep = np.arange(len(scores_a))
        sa, sb = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    else:
        keep = [i for i, (x, y) in enumerate(zip(scores_a, scores_b)) if x is not None and y is not None]
        sa = np.array([scores_a[i] for i in keep], dtype=float)
        sb = np.array([scores_b[i] for i in keep], dtype=float)
    agree = kappa = None
    if canonical_a is not None and canonical_b is not None:
        # Agreement is over every item, scored or not: it does not need gold.
        agree = agreement(list(canonical_a), list(canonical_b))
        kappa = cohen_kappa(list(canonical_a), list(canonical_b))
    comparison = Comparison(a=a, b=b, n_paired=len(keep), difference=None, agreement=agree, kappa=kappa, metric=metric)
    if len(keep) == 0:
        comparison.ci_method = "none (no paired items)"
        return comparison
    micro = metric_rows_a is not None and metric_rows_b is not None
    if statistic is mean_statistic or (statistic is ratio_statistic and micro):
        rows_a = np.asarray(metric_rows_a, dtype=float)[keep] if micro else None
        rows_b = np.asarray(metric_rows_b, dtype=float)[keep] if micro else None
        result = paired_difference(sa, sb, rows_a=rows_a, rows_b=rows_b, margin=margin, alpha=alpha,
                                   confidence=confidence, n_resamples=n_resamples, seed=seed)
    else:
        result = _percentile_difference(sa, sb, metric_rows_a, metric_rows_b, keep, statistic, margin=margin,
                                        alpha=alpha, confidence=confidence, n_resamples=n_resamples, seed=seed)
    comparison.difference, comparison.ci_low, comparison.ci_high = result.estimate, result.low, result.high
    comparison.ci_method = result.method
    if result.p_value is not None:
        comparison.p_value, comparison.p_method = result.p_value, paired_proportions.SCORE_P_METHOD
    if _is_binary(sa) and _is_binary(sb):
        a_only = int(np.sum((sa == 1) & (sb == 0)))
        b_only = int(np.sum((sa == 0) & (sb == 1)))
        # McNemar's exact p is recorded with the interval that agrees with it, never alone.
        comparison.mcnemar_p = mcnemar_exact(a_only, b_only)
        comparison.mcnemar_ci_low, comparison.mcnemar_ci_high = paired_proportions.conditional_interval(
            a_only, b_only, len(keep), confidence)
        comparison.discordant = {"a_only": a_only, "b_only": b_only}
    if margin is not None and result.estimate is not None and result.lower is not None:
        comparison.non_inferiority = NonInferiority(
            margin=margin, alpha=alpha, difference=result.estimate, lower_bound=result.lower,
            upper_bound=result.upper, non_inferior=result.decision == "non-inferior", decision=result.decision,
            method=f"{result.method}, both decisions one-sided at {alpha:g}",
        )
    return comparison


def _float_arrays(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` are float arrays (which hold no None)."""
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype.kind == "f"
            and b.dtype.kind == "f")


def _percentile_difference(sa: np.ndarray, sb: np.ndarray, metric_rows_a: Sequence[Any] | np.ndarray | None,
                           metric_rows_b: Sequence[Any] | np.ndarray | None, keep: list[int] | np.ndarray,
                           statistic: Statistic, *,
                           margin: float | None, alpha: float, confidence: float, n_resamples: int,
                           seed: int) -> PairedDifference:
    """Percentile bootstrap of a metric that is neither a mean nor a ratio of sums."""
    rows_a = sa if metric_rows_a is None else np.asarray(metric_rows_a, dtype=float)[keep]
    rows_b = sb if metric_rows_b is None else np.asarray(metric_rows_b, dtype=float)[keep]
    two_sided = paired_bootstrap_ci(rows_a, rows_b, statistic=statistic, n_resamples=n_resamples,
                                    confidence=confidence, seed=seed)
    bounds = paired_bootstrap_ci(rows_a, rows_b, statistic=statistic, n_resamples=n_resamples,
                                 confidence=1 - 2 * alpha, seed=seed)
    lower, upper = bounds.low, bounds.high
    if lower is None or upper is None or lower == upper:
        # A collapsed bootstrap proves nothing: no decision rather than a false one.
        lower, upper = -math.inf, math.inf
    decision = _decision(lower, upper, margin) if margin is not None else None
    return PairedDifference(two_sided.estimate, two_sided.low, two_sided.high, lower, upper, decision, two_sided.method)
