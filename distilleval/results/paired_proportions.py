"""Tests and intervals for the difference of two paired proportions (b - a on the same items).

With 0/1 scores only the discordant items carry information: ``a_only`` items only model a got
right, ``b_only`` items only model b got right, out of ``n`` paired items. The difference is
``(b_only - a_only) / n``.

- ``score_z``: Tango's (1998) score statistic for ``H0: p_b - p_a = delta``, with the nuisance
  parameter (the discordance) at its maximum-likelihood value under ``H0``, and a continuity
  correction (``CONTINUITY``, ``CONTINUITY_AWAY``). Without the correction the non-inferiority
  test errs up to 6.9% at a nominal 5% (100 items or fewer, discordance equal to the margin);
  with it the exact type I error of both decisions stays at or under 5% on the dense grid of
  ``docs/statistics.md``.
- ``score_bounds``: the interval that inverts the same test, so a bound and a decision at the
  same level can never disagree.
- ``score_p_value``: the two-sided p-value of the same test at a difference of 0, printed
  beside the interval: the two-sided ``1 - alpha`` interval excludes 0 exactly when it is below
  ``alpha``.
- ``decide_non_inferiority``: non-inferior / inferior / inconclusive, both one-sided tests at
  the same level ``alpha``.
- ``mcnemar_exact`` / ``conditional_interval``: McNemar's exact test and the interval that
  agrees with it (Clopper–Pearson on the split of the discordant items, scaled by the observed
  discordance), used by the gate's comparison with a baseline run.

Every function takes numpy arrays as well as numbers (vectorised), so the conformance suite
evaluates exactly the code the tool runs, on every possible outcome at once.
"""

from __future__ import annotations

import math
import statistics as _stdlib_statistics
from typing import overload

import numpy as np

Counts = float | np.ndarray
"""A count (or level) as a number, or an array of them: every function here is vectorised."""

CONTINUITY = 0.5
"""Continuity correction, in items, of a test that claims the difference lies on zero's side of
``delta`` (non-inferior: above ``-margin``)."""

CONTINUITY_AWAY = 1.0
"""Continuity correction of a test that claims the difference lies beyond ``delta``, away from
zero (inferior: below ``-margin``), or at ``delta = 0``. With 0.5 there the exact type I error of
"inferior" reaches 6.3% at a nominal 5% (84 items, margin 5%, discordance 7%); with 1.0 it stays
at or under 5% on the dense grid."""

DISCORDANCE_CONFIDENCE = 0.99
"""Confidence of the discordance bound in ``conditional_interval`` (its share of the error: the
interval covers with probability at least ``confidence - (1 - DISCORDANCE_CONFIDENCE)``)."""

SCORE_METHOD = "Tango score test, continuity-corrected"
SCORE_P_METHOD = "Tango score test at a difference of 0, two-sided, continuity-corrected (the test the interval inverts)"
CONDITIONAL_METHOD = "McNemar exact (two-sided) with exact conditional interval"


def normal_quantile(probability: float) -> float:
    """The standard normal quantile (the standard library's; scipy's import costs most of a second)."""
    return _stdlib_statistics.NormalDist().inv_cdf(probability)


def _restricted_a_only_rate(a_only: np.ndarray, b_only: np.ndarray, n: int, delta: np.ndarray) -> np.ndarray:
    """Maximum-likelihood P(only a right) under ``p_b - p_a = delta`` (root of Tango's quadratic)."""
    quad_b = -(a_only + b_only) + delta * (2 * n + a_only - b_only)
    quad_c = -a_only * delta * (1 - delta)
    discriminant = np.maximum(quad_b * quad_b - 8 * n * quad_c, 0.0)
    rate: np.ndarray = (-quad_b + np.sqrt(discriminant)) / (4 * n)
    return rate


def score_z(
    a_only: Counts, b_only: Counts, n: int, delta: Counts, *, continuity: float | None = None, side: int = 1
) -> np.ndarray:
    """Score statistic of ``H0: p_b - p_a = delta``.

    ``side=1`` corrects toward rejecting ``p_b - p_a <= delta`` less easily (the lower-bound
    test); ``side=-1`` toward rejecting ``p_b - p_a >= delta`` less easily (the upper-bound test).
    Large positive values are evidence that the difference is above ``delta``. ``continuity``
    None: ``CONTINUITY`` when the test claims the side of ``delta`` toward zero
    (``side * delta < 0``), else ``CONTINUITY_AWAY``.
    """
    a = np.asarray(a_only, dtype=float)
    b = np.asarray(b_only, dtype=float)
    shift = np.asarray(delta, dtype=float)
    correction = np.where(side * shift < 0, CONTINUITY, CONTINUITY_AWAY) if continuity is None else continuity
    p_a_only = _restricted_a_only_rate(a, b, n, shift)
    variance = np.maximum(n * (2 * p_a_only + shift - shift * shift), 0.0)
    numerator = b - a - n * shift - side * correction
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / np.sqrt(variance)
    return np.where(variance > 0, z, np.where(numerator > 0, np.inf, np.where(numerator < 0, -np.inf, 0.0)))


def _critical(alpha: Counts) -> Counts:
    """``z_{1 - alpha}`` for a level or an array of levels."""
    if np.ndim(alpha) == 0:
        return normal_quantile(1 - float(alpha))
    quantiles: np.ndarray = np.vectorize(lambda level: normal_quantile(1 - level))(np.asarray(alpha, dtype=float))
    return quantiles


def rejects_at_or_below(a_only: Counts, b_only: Counts, n: int, delta: Counts, alpha: Counts) -> np.ndarray:
    """True where the data reject ``p_b - p_a <= delta`` at one-sided level ``alpha``."""
    return score_z(a_only, b_only, n, delta, side=1) > _critical(alpha)


def rejects_at_or_above(a_only: Counts, b_only: Counts, n: int, delta: Counts, alpha: Counts) -> np.ndarray:
    """True where the data reject ``p_b - p_a >= delta`` at one-sided level ``alpha``."""
    return score_z(a_only, b_only, n, delta, side=-1) < -_critical(alpha)


_BISECTIONS = 60  # halves [-1, 1] to under 1e-17: below any printed digit


@overload
def score_bounds(a_only: float, b_only: float, n: int, alpha: float) -> tuple[float, float]: ...
@overload
def score_bounds(a_only: Counts, b_only: Counts, n: int, alpha: Counts) -> tuple[Counts, Counts]: ...
def score_bounds(a_only: Counts, b_only: Counts, n: int, alpha: Counts) -> tuple[Counts, Counts]:
    """One-sided ``1 - alpha`` lower and upper bounds of ``p_b - p_a`` from the score test.

    The lower bound is the largest ``delta`` the lower-bound test rejects (``-1`` if none), so
    ``lower > delta`` exactly when ``rejects_at_or_below(..., delta, alpha)`` (up to 1e-15);
    the upper bound mirrors it. Together they are a two-sided ``1 - 2 alpha`` interval.
    ``alpha`` may be an array (several levels in one pass), broadcast against the counts.

    Returns:
        ``(lower, upper)``, numbers or arrays shaped like the counts.
    """
    a = np.asarray(a_only, dtype=float)
    b = np.asarray(b_only, dtype=float)
    critical = _critical(alpha)
    shape = np.broadcast(a, b, critical).shape
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    critical = np.broadcast_to(critical, shape)
    estimate = (b - a) / n

    # Lower: rejected below, not rejected at the estimate (the correction keeps the estimate inside).
    low, high = np.full(shape, -1.0), estimate.copy()
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        rejected = score_z(a, b, n, middle, side=1) > critical
        low, high = np.where(rejected, middle, low), np.where(rejected, high, middle)
    lower = np.where(score_z(a, b, n, -1.0, side=1) > critical, low, -1.0)

    low, high = estimate.copy(), np.full(shape, 1.0)
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        rejected = score_z(a, b, n, middle, side=-1) < -critical
        low, high = np.where(rejected, low, middle), np.where(rejected, middle, high)
    upper = np.where(score_z(a, b, n, 1.0, side=-1) < -critical, high, 1.0)
    if shape == ():
        return float(lower), float(upper)
    return lower, upper


@overload
def score_p_value(a_only: float, b_only: float, n: int) -> float: ...
@overload
def score_p_value(a_only: Counts, b_only: Counts, n: int) -> Counts: ...
def score_p_value(a_only: Counts, b_only: Counts, n: int) -> Counts:
    """Two-sided p-value of ``H0: p_b - p_a = 0`` from the score test ``score_bounds`` inverts.

    Twice the smaller one-sided tail of the two continuity-corrected statistics at ``delta = 0``
    (``CONTINUITY_AWAY`` each, as in the interval), at most 1. The two-sided ``1 - alpha`` interval
    (``score_bounds`` at ``alpha / 2``) excludes 0 exactly when this p is below ``alpha``, so the
    interval and the p printed beside it never disagree. At ``delta = 0`` the statistic is the
    continuity-corrected McNemar z, ``(|b_only - a_only| - 1) / sqrt(a_only + b_only)``.
    Vectorised like ``score_z``.

    >>> round(score_p_value(10, 3, 100), 4)
    0.0961
    >>> score_p_value(0, 0, 50)
    1.0
    """
    normal = _stdlib_statistics.NormalDist()
    upper_tail = np.vectorize(lambda z: normal.cdf(-z), otypes=[float])(score_z(a_only, b_only, n, 0.0, side=1))
    lower_tail = np.vectorize(normal.cdf, otypes=[float])(score_z(a_only, b_only, n, 0.0, side=-1))
    p = np.minimum(1.0, 2 * np.minimum(upper_tail, lower_tail))
    return float(p) if p.shape == () else p


@overload
def decide_non_inferiority(a_only: float, b_only: float, n: int, margin: float, alpha: float) -> str: ...
@overload
def decide_non_inferiority(a_only: Counts, b_only: Counts, n: int, margin: float, alpha: float) -> str | np.ndarray: ...
def decide_non_inferiority(a_only: Counts, b_only: Counts, n: int, margin: float, alpha: float) -> str | np.ndarray:
    """``"non-inferior"``, ``"inferior"`` or ``"inconclusive"`` for b against a at ``margin``.

    Non-inferior: the test rejects ``p_b - p_a <= -margin`` at one-sided level ``alpha``.
    Inferior: it rejects ``p_b - p_a >= -margin`` at the same level. Otherwise inconclusive.
    Vectorised: arrays give an array of strings.
    """
    non_inferior = rejects_at_or_below(a_only, b_only, n, -margin, alpha)
    inferior = rejects_at_or_above(a_only, b_only, n, -margin, alpha)
    decision = np.where(non_inferior, "non-inferior", np.where(inferior, "inferior", "inconclusive"))
    return str(decision) if decision.shape == () else decision


def _log_binomial_pmf(k: int, trials: int) -> list[float]:
    """``log P(X = i)`` for ``i = 0..k`` under Binomial(trials, 1/2), in log space."""
    base = math.lgamma(trials + 1) - trials * math.log(2)
    return [base - math.lgamma(i + 1) - math.lgamma(trials - i + 1) for i in range(k + 1)]


_EXACT_INTEGER_TRIALS = 1_000  # exact integer sums cost ~10 ms at 1,000 discordant pairs and seconds at 10,000


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pair counts.

    Under the null each discordant item is equally likely to favour a or b, so the count
    favouring one side is Binomial(a_only + b_only, 1/2); the p-value is twice the smaller
    tail, at most 1. Up to 1,000 discordant pairs the tail is summed in exact integers; above,
    in log space (a few milliseconds at 10,000 pairs; relative error about 1e-11; tails under
    ~1e-308 underflow to 0).

    >>> round(mcnemar_exact(10, 3), 4)
    0.0923
    >>> mcnemar_exact(0, 0)
    1.0
    """
    if a_only < 0 or b_only < 0:
        raise ValueError("discordant counts must be non-negative")
    trials = a_only + b_only
    smaller = min(a_only, b_only)
    if trials == 0 or 2 * smaller >= trials - 1:
        return 1.0
    if trials <= _EXACT_INTEGER_TRIALS:
        # Exact integers (one rounding at the end) where they are cheap.
        return min(1.0, 2 * sum(math.comb(trials, i) for i in range(smaller + 1)) / (1 << trials))
    logs = _log_binomial_pmf(smaller, trials)
    top = max(logs)
    log_tail = top + math.log(math.fsum(math.exp(v - top) for v in logs))
    return min(1.0, 2.0 * math.exp(log_tail))


def conditional_interval(a_only: int, b_only: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided interval of ``p_b - p_a`` that agrees with ``mcnemar_exact``.

    The difference is ``D (2 pi - 1)``: ``D`` the discordance, ``pi`` the share of discordant
    items that favour b. The Clopper–Pearson interval of ``pi`` at ``confidence`` (the interval
    McNemar's exact test inverts) is combined with a Clopper–Pearson bound of ``D`` at
    ``DISCORDANCE_CONFIDENCE``, each end taking the ``D`` that widens it. The sign of each end is
    the sign of ``2 pi - 1``, so the interval excludes 0 exactly when McNemar's p is below
    ``1 - confidence``; it covers with probability at least ``confidence - 0.01``.
    """
    from distilleval.results.intervals import clopper_pearson

    discordant = a_only + b_only
    if n == 0:
        raise ValueError("no paired items")
    if discordant == 0:
        # No discordant pair: the conditional test has nothing to say; the score interval does.
        return score_bounds(0, 0, n, (1 - confidence) / 2)
    pi_low, pi_high = clopper_pearson(b_only, discordant, confidence=confidence)
    d_low, d_high = clopper_pearson(discordant, n, confidence=DISCORDANCE_CONFIDENCE)
    low = (d_high if pi_low < 0.5 else d_low) * (2 * pi_low - 1)
    high = (d_high if pi_high > 0.5 else d_low) * (2 * pi_high - 1)
    return low, high
