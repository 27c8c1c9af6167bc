"""Confidence intervals of one model's metric and of a paired difference, for any score kind.

- 0/1 scores: ``clopper_pearson`` (exact binomial; never under its level at any p).
- Means of scores in [0, 1] (partial credit, continuous) and ratios of sums (micro-F1, items
  as the resampled unit): a studentized bootstrap (bootstrap-t) when the items carry enough
  information, else a count-based interval that never has zero width: Clopper–Pearson on the
  score sum over the (effective) number of items, conservative for bounded scores because a
  0/1 score has the largest variance a score with that mean can have.
- Paired differences of bounded scores: the bootstrap-t of the difference, else the paired
  score test of ``distilleval.results.paired_proportions`` on fractional discordant counts
  (each item's loss and gain), which reduces to the exact 0/1 analysis for 0/1 scores.

"Enough information" is at least ``MIN_ITEMS`` items of which at least ``MIN_INFORMATIVE`` differ
from the most common value (for a difference: are not ties); below that a bootstrap's
resamples are too few distinct values to estimate a tail, and its interval collapses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

MIN_ITEMS = 30
MIN_INFORMATIVE = 10

CLOPPER_PEARSON = "Clopper-Pearson (exact binomial)"
COUNT_BASED = "Clopper-Pearson on the score sum over {items} items (count-based, conservative for scores in [0, 1])"
BOOTSTRAP_T = "studentized bootstrap (bootstrap-t), {resamples:,} resamples"


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval and the name of the method that made it."""

    estimate: float | None
    low: float | None
    high: float | None
    method: str


# --- the regularized incomplete beta function, for exact binomial bounds -------------------

def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 100_000):
        even = m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m))
        d = 1.0 + even * d
        c = 1.0 + even / c
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = c if abs(c) > tiny else tiny
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m))
        d = 1.0 + odd * d
        c = 1.0 + odd / c
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = c if abs(c) > tiny else tiny
        step = d * c
        result *= step
        if abs(step - 1.0) < eps:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """``I_x(a, b)``, the Beta(a, b) distribution function at ``x`` (a, b > 0)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def beta_quantile(probability: float, a: float, b: float) -> float:
    """The ``probability`` quantile of Beta(a, b), by bisection (to 1e-15)."""
    low, high = 0.0, 1.0
    for _ in range(55):
        middle = (low + high) / 2
        if regularized_beta(a, b, middle) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def clopper_pearson(successes: float, n: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a binomial rate: each tail at most ``(1 - confidence) / 2``.

    ``successes`` may be fractional (a sum of scores in [0, 1]); the bounds are then the beta
    quantiles at that count.

    Raises:
        ValueError: no items, or ``successes`` outside ``[0, n]``.

    >>> [round(v, 4) for v in clopper_pearson(83, 100)]
    [0.7418, 0.8977]
    >>> round(clopper_pearson(20, 20)[0], 4)
    0.8316
    """
    if n <= 0:
        raise ValueError("no items")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, n={n}], got {successes}")
    tail = (1.0 - confidence) / 2
    low = 0.0 if successes == 0 else beta_quantile(tail, successes, n - successes + 1)
    high = 1.0 if successes == n else beta_quantile(1.0 - tail, successes + 1, n - successes)
    return low, high


# --- studentized bootstrap of a ratio of sums (a mean is the ratio with denominator 1) -------

_MAX_CELLS_PER_CHUNK = 4_000_000  # bounds memory of the (resamples x items) index arrays


def _chunks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_resamples - start), n))


def _ratio_and_se(numerator: np.ndarray, denominator: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``(B, n)`` arrays: the ratio of sums, its delta-method standard error, and
    the linearised per-item contributions (for a paired difference)."""
    total = denominator.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = numerator.sum(axis=-1) / total
        contribution = (numerator - ratio[..., None] * denominator) / total[..., None]
    return ratio, np.sqrt((contribution**2).sum(axis=-1)), contribution


def _t_quantiles(t_values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2
    t_values = t_values[~np.isnan(t_values)]
    if t_values.size == 0:  # every resample degenerate: no tail to estimate
        return -math.inf, math.inf
    return float(np.quantile(t_values, tail)), float(np.quantile(t_values, 1.0 - tail))


def _bootstrap_t(numerator: np.ndarray, denominator: np.ndarray, *, confidences: Sequence[float],
                 n_resamples: int, seed: int, clip: tuple[float, float]) -> tuple[float, list[tuple[float, float]]]:
    """Bootstrap-t intervals of ``sum(numerator) / sum(denominator)``, items resampled whole,
    one ``(low, high)`` per confidence from the same resamples, clipped to ``clip``."""
    estimate, se, _ = _ratio_and_se(numerator, denominator)
    t_parts = []
    for indices in _chunks(len(numerator), n_resamples, seed):
        ratio, se_star, _ = _ratio_and_se(numerator[indices], denominator[indices])
        with np.errstate(invalid="ignore", divide="ignore"):
            t_parts.append((ratio - estimate) / se_star)
    return float(estimate), _t_bounds(np.concatenate(t_parts), float(estimate), float(se), confidences, clip)


def _t_bounds(t_values: np.ndarray, estimate: float, se: float, confidences: Sequence[float],
              clip: tuple[float, float]) -> list[tuple[float, float]]:
    bounds = []
    for confidence in confidences:
        t_low, t_high = _t_quantiles(t_values, confidence)
        low, high = estimate - t_high * se, estimate - t_low * se
        bounds.append((float(min(max(low, clip[0]), estimate)), float(max(min(high, clip[1]), estimate))))
    return bounds


def bootstrap_t_ratio(rows: np.ndarray, *, confidence: float, n_resamples: int, seed: int) -> tuple[float, float, float]:
    """Bootstrap-t interval of ``sum(rows[:, 0]) / sum(rows[:, 1])``, items resampled whole.

    Returns:
        ``(estimate, low, high)``, clipped to [0, 1].
    """
    estimate, [(low, high)] = _bootstrap_t(rows[:, 0], rows[:, 1], confidences=(confidence,),
                                           n_resamples=n_resamples, seed=seed, clip=(0.0, 1.0))
    return estimate, low, high


def bootstrap_t_paired(rows_a: np.ndarray, rows_b: np.ndarray, *, confidences: Sequence[float], n_resamples: int,
                       seed: int) -> tuple[float, list[tuple[float, float]]]:
    """Bootstrap-t intervals of ``ratio(b) - ratio(a)`` on the same items (one resample for both).

    Returns:
        The estimate and one ``(low, high)`` per confidence, clipped to [-1, 1]; every interval
        comes from the same resamples.
    """
    if np.all(rows_a[:, 1] == 1) and np.all(rows_b[:, 1] == 1):
        # Means: the difference of means is the mean of per-item differences (same resamples,
        # same standard error, half the work).
        difference = rows_b[:, 0] - rows_a[:, 0]
        return _bootstrap_t(difference, np.ones_like(difference), confidences=confidences,
                            n_resamples=n_resamples, seed=seed, clip=(-1.0, 1.0))
    ratio_a, _, part_a = _ratio_and_se(rows_a[:, 0], rows_a[:, 1])
    ratio_b, _, part_b = _ratio_and_se(rows_b[:, 0], rows_b[:, 1])
    estimate = float(ratio_b - ratio_a)
    se = math.sqrt(float(((part_b - part_a) ** 2).sum()))
    t_parts = []
    for indices in _chunks(len(rows_a), n_resamples, seed):
        star_a, _, star_part_a = _ratio_and_se(rows_a[:, 0][indices], rows_a[:, 1][indices])
        star_b, _, star_part_b = _ratio_and_se(rows_b[:, 0][indices], rows_b[:, 1][indices])
        se_star = np.sqrt(((star_part_b - star_part_a) ** 2).sum(axis=-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            t_parts.append(((star_b - star_a) - estimate) / se_star)
    return estimate, _t_bounds(np.concatenate(t_parts), estimate, se, confidences, (-1.0, 1.0))


# --- public intervals -----------------------------------------------------------------------

def _informative(values: np.ndarray) -> int:
    """Items that differ from the most common value."""
    _, counts = np.unique(values, return_counts=True)
    return int(len(values) - counts.max()) if len(values) else 0


def _kish_items(weights: np.ndarray) -> float:
    """Effective number of items of a weighted mean (Kish): ``sum(w)^2 / sum(w^2)``."""
    total = float(weights.sum())
    return total * total / float((weights**2).sum()) if total > 0 else 0.0


def ratio_interval(rows: Sequence[Sequence[float]] | np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000,
                   seed: int = 0) -> Interval:
    """Interval of ``sum(numerator) / sum(denominator)`` over items with values in [0, 1].

    A mean of scores is the ratio with denominator 1; micro-F1 is ``2TP / (2TP + FP + FN)``.
    0/1 means get Clopper–Pearson; informative data the bootstrap-t over items; the rest a
    count-based Clopper–Pearson over the effective number of items (never zero width).

    Args:
        rows: ``(n, 2)`` per-item numerator and denominator.
        confidence: two-sided coverage.
        n_resamples: bootstrap replicates (at least 100 when the bootstrap is used).
        seed: bootstrap seed.
    """
    rows = np.asarray(rows, dtype=float).reshape(-1, 2)
    rows = rows[rows[:, 1] > 0]
    n = len(rows)
    if n == 0:
        return Interval(None, None, None, "none (no items with a defined metric)")
    numerator, denominator = rows[:, 0], rows[:, 1]
    estimate = float(numerator.sum() / denominator.sum())
    unit = bool(np.all(denominator == 1))
    if unit and bool(np.all((numerator == 0) | (numerator == 1))):
        low, high = clopper_pearson(int(numerator.sum()), n, confidence=confidence)
        return Interval(estimate, low, high, CLOPPER_PEARSON)
    per_item = numerator / denominator
    if n >= MIN_ITEMS and _informative(per_item) >= MIN_INFORMATIVE and n_resamples >= 100:
        _, low, high = bootstrap_t_ratio(rows, confidence=confidence, n_resamples=n_resamples, seed=seed)
        return Interval(estimate, low, high, BOOTSTRAP_T.format(resamples=n_resamples))
    items = float(n) if unit else _kish_items(denominator)
    successes = min(max(estimate * items, 0.0), items)
    low, high = clopper_pearson(successes, items, confidence=confidence)
    shown = f"{n}" if unit else f"{items:.1f} effective (Kish)"
    return Interval(estimate, low, high, COUNT_BASED.format(items=shown))


def mean_interval(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000,
                  seed: int = 0) -> Interval:
    """Interval of the mean of per-item scores in [0, 1] (see ``ratio_interval``)."""
    values = np.asarray(values, dtype=float)
    return ratio_interval(np.column_stack([values, np.ones_like(values)]), confidence=confidence,
                          n_resamples=n_resamples, seed=seed)


def fractional_discordance(scores_a: np.ndarray, scores_b: np.ndarray) -> tuple[float, float]:
    """``(losses, gains)`` of b against a: the sums of each item's negative and positive
    differences (for 0/1 scores the a-only and b-only counts)."""
    difference = np.asarray(scores_b, dtype=float) - np.asarray(scores_a, dtype=float)
    return float(np.clip(-difference, 0, None).sum()), float(np.clip(difference, 0, None).sum())


def paired_uses_bootstrap(scores_a: np.ndarray, scores_b: np.ndarray, n_resamples: int) -> bool:
    """Whether the paired difference is informative enough for the bootstrap-t: enough items,
    of which enough differ from the most common difference (usually a tie; a constant shift
    has no spread to studentize)."""
    difference = np.asarray(scores_b, dtype=float) - np.asarray(scores_a, dtype=float)
    return len(difference) >= MIN_ITEMS and _informative(difference) >= MIN_INFORMATIVE and n_resamples >= 100
