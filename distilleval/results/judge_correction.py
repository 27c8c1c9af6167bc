"""Accuracy scored by a model judge, corrected for the judge's own measured error.

A judge with sensitivity ``Se`` (it passes a right answer) and specificity ``Sp`` (it fails a
wrong one) passes a model of true accuracy ``a`` at the rate

    p = Se·a + (1 − Sp)·(1 − a),

so the raw pass rate is biased, and by a different amount for a strong teacher than for a weak
student. The Rogan–Gladen estimator inverts it:

    a = (p + Sp − 1) / (Se + Sp − 1),   clipped to [0, 1],

undefined when ``Se + Sp ≤ 1`` (Youden's J ≤ 0: the judge is no better than a coin). For two
models scored by the same judge on the same items the false-pass rate cancels from the
difference: ``a_b − a_a = (p_b − p_a) / J``.

Intervals carry the eval sample's and the alignment set's uncertainty together: each of the
three independent binomials (passes on the eval items, the judge's passes on the human-right
alignment rows, its fails on the human-wrong rows) gets an exact interval at level
``(1 − alpha)^(1/3)`` (Šidák: the three are independent, so all three hold together with
probability at least ``1 − alpha``), and the corrected figure's interval is the range of the
estimator over that box. The estimator is monotone in each coordinate with the others held, so
its range over the box is reached at a corner; a box that admits ``J ≤ 0`` gives [0, 1] for an
accuracy, [−1, 1] for a difference. The interval therefore holds its level in every case; the
simulation in ``tests/results/test_judge_correction.py`` measures it over the grid of issue 28.

Every function takes numpy arrays as well as numbers, so the simulation runs the same code the
tool runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from distilleval.results.paired_proportions import Counts

CORRECTION_METHOD = "Rogan-Gladen, Šidák box of three Clopper-Pearson intervals"
DIFFERENCE_METHOD = "paired difference / Youden J; Tango score bound and Clopper-Pearson box (Šidák)"


def sidak_level(confidence: float, parts: int = 3) -> float:
    """The level each of ``parts`` independent intervals needs so that all hold together at ``confidence``.

    >>> round(sidak_level(0.95), 5)
    0.98305
    """
    return float(confidence ** (1.0 / parts))


@overload
def clopper_pearson_array(successes: float, n: float, *, confidence: float) -> tuple[float, float]: ...
@overload
def clopper_pearson_array(successes: Counts, n: Counts, *, confidence: float) -> tuple[Counts, Counts]: ...
def clopper_pearson_array(successes: Counts, n: Counts, *, confidence: float) -> tuple[Counts, Counts]:
    """Two-sided Clopper–Pearson bounds, vectorised (``results.intervals.clopper_pearson``'s numbers).

    ``n`` of 0 gives ``(0, 1)``.
    """
    from scipy.special import betaincinv

    k = np.asarray(successes, dtype=float)
    trials = np.broadcast_to(np.asarray(n, dtype=float), k.shape) if k.shape else np.asarray(n, dtype=float)
    tail = (1.0 - confidence) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k <= 0, 0.0, betaincinv(np.maximum(k, 1e-300), trials - k + 1, tail))
        high = np.where(k >= trials, 1.0, betaincinv(k + 1, np.maximum(trials - k, 1e-300), 1.0 - tail))
    low = np.where(trials <= 0, 0.0, low)
    high = np.where(trials <= 0, 1.0, high)
    if low.shape == ():
        return float(low), float(high)
    return low, high


@overload
def rogan_gladen(pass_rate: float, sensitivity: float, specificity: float) -> float: ...
@overload
def rogan_gladen(pass_rate: Counts, sensitivity: Counts, specificity: Counts) -> Counts: ...
def rogan_gladen(pass_rate: Counts, sensitivity: Counts, specificity: Counts) -> Counts:
    """The corrected accuracy ``(p + Sp − 1) / (Se + Sp − 1)`` clipped to [0, 1]; NaN where ``Se + Sp ≤ 1``.

    >>> rogan_gladen(0.62, 0.9, 0.8)
    0.6
    >>> import math; math.isnan(rogan_gladen(0.5, 0.5, 0.5))
    True
    """
    p, se, sp = (np.asarray(v, dtype=float) for v in (pass_rate, sensitivity, specificity))
    youden = se + sp - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(youden > 0, np.clip((p + sp - 1) / np.where(youden > 0, youden, 1.0), 0.0, 1.0), np.nan)
    return float(np.round(value, 12)) if value.shape == () else value


def expected_pass_rate(accuracy: Counts, sensitivity: Counts, specificity: Counts) -> Counts:
    """What a judge passes of a model with this true accuracy: ``Se·a + (1 − Sp)(1 − a)``."""
    return sensitivity * accuracy + (1 - specificity) * (1 - accuracy)


def _corrected_range(
    p_box: tuple[Counts, Counts], se_box: tuple[Counts, Counts], sp_box: tuple[Counts, Counts]
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of the clipped estimator over the box (corners), or [0, 1] where J ≤ 0 is possible."""
    corners = [rogan_gladen(p, se, sp) for p in p_box for se in se_box for sp in sp_box]
    stacked = np.stack([np.asarray(c, dtype=float) for c in corners])
    unbounded = (np.asarray(se_box[0]) + np.asarray(sp_box[0]) - 1) <= 0
    low = np.where(unbounded, 0.0, np.nanmin(np.where(np.isnan(stacked), 0.0, stacked), axis=0))
    high = np.where(unbounded, 1.0, np.nanmax(np.where(np.isnan(stacked), 1.0, stacked), axis=0))
    return low, high


@overload
def corrected_accuracy_interval(passes: float, n: float, true_pass: float, n_positive: float, true_fail: float,
                                n_negative: float, *, confidence: float = 0.95) -> tuple[float, float]: ...
@overload
def corrected_accuracy_interval(passes: Counts, n: Counts, true_pass: Counts, n_positive: Counts, true_fail: Counts,
                                n_negative: Counts, *, confidence: float = 0.95) -> tuple[Counts, Counts]: ...
def corrected_accuracy_interval(passes: Counts, n: Counts, true_pass: Counts, n_positive: Counts, true_fail: Counts,
                                n_negative: Counts, *, confidence: float = 0.95) -> tuple[Counts, Counts]:
    """Two-sided interval of the corrected accuracy at ``confidence``.

    Args:
        passes, n: the judge's passes over the ``n`` eval answers it scored.
        true_pass, n_positive: its passes on the alignment rows humans marked right (sensitivity).
        true_fail, n_negative: its fails on the alignment rows humans marked wrong (specificity).

    Returns:
        ``(low, high)`` (arrays when the counts are arrays).
    """
    level = sidak_level(confidence)
    p_box = clopper_pearson_array(passes, n, confidence=level)
    se_box = clopper_pearson_array(true_pass, n_positive, confidence=level)
    sp_box = clopper_pearson_array(true_fail, n_negative, confidence=level)
    low, high = _corrected_range(p_box, se_box, sp_box)
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


@overload
def corrected_difference_bounds(a_only: float, b_only: float, n_paired: int, true_pass: float, n_positive: float,
                                true_fail: float, n_negative: float, *, alpha: float) -> tuple[float, float]: ...
@overload
def corrected_difference_bounds(a_only: Counts, b_only: Counts, n_paired: int, true_pass: Counts, n_positive: Counts,
                                true_fail: Counts, n_negative: Counts, *, alpha: float) -> tuple[Counts, Counts]: ...
def corrected_difference_bounds(a_only: Counts, b_only: Counts, n_paired: int, true_pass: Counts, n_positive: Counts,
                                true_fail: Counts, n_negative: Counts, *, alpha: float) -> tuple[Counts, Counts]:
    """One-sided ``1 − alpha`` lower and upper bounds of the corrected paired difference ``b − a``.

    The raw difference's bound is the Tango score bound (``results.paired_proportions``) on the
    judge's verdicts, whose discordant counts are ``a_only`` (only a passed) and ``b_only``; each
    bound divides it by the Youden J at the end of J's interval that makes it widest. Each bound
    holds at ``1 − alpha``; together they are a two-sided ``1 − 2·alpha`` interval.
    """
    from distilleval.results.paired_proportions import score_bounds

    level = sidak_level(1 - alpha)
    raw_low, raw_high = score_bounds(a_only, b_only, n_paired, 1 - level)
    # J's box: Se and Sp each inside its two-sided interval at ``level``; the raw bound holds at ``level``.
    se_low, se_high = clopper_pearson_array(true_pass, n_positive, confidence=level)
    sp_low, sp_high = clopper_pearson_array(true_fail, n_negative, confidence=level)
    j_low, j_high = np.asarray(se_low) + sp_low - 1, np.asarray(se_high) + sp_high - 1
    unbounded = j_low <= 0
    safe_low, safe_high = np.where(unbounded, 1.0, j_low), np.where(unbounded, 1.0, j_high)
    lower = np.where(raw_low < 0, raw_low / safe_low, raw_low / safe_high)
    upper = np.where(raw_high > 0, raw_high / safe_low, raw_high / safe_high)
    # J's interval reaching 0 or below allows any difference (a judge no better than chance, or worse).
    lower = np.where(unbounded, -1.0, np.clip(lower, -1.0, 1.0))
    upper = np.where(unbounded, 1.0, np.clip(upper, -1.0, 1.0))
    if np.ndim(lower) == 0:
        return float(lower), float(upper)
    return lower, upper


@dataclass(frozen=True)
class JudgeRates:
    """The judge's measured error: counts from the alignment set."""

    true_pass: int
    n_positive: int
    true_fail: int
    n_negative: int

    @property
    def sensitivity(self) -> float | None:
        """Share of human-right answers the judge passed."""
        return self.true_pass / self.n_positive if self.n_positive else None

    @property
    def specificity(self) -> float | None:
        """Share of human-wrong answers the judge failed."""
        return self.true_fail / self.n_negative if self.n_negative else None


@dataclass(frozen=True)
class CorrectedRate:
    """A judge-scored accuracy: raw pass rate and corrected accuracy, each with its interval."""

    n: int
    raw: float | None
    raw_low: float | None
    raw_high: float | None
    corrected: float | None
    corrected_low: float | None
    corrected_high: float | None
    method: str = CORRECTION_METHOD


def corrected_rate(passes: int, n: int, rates: JudgeRates, *, confidence: float = 0.95) -> CorrectedRate:
    """Raw (Clopper–Pearson) and corrected (``corrected_accuracy_interval``) figures of one model."""
    if n <= 0:
        return CorrectedRate(0, None, None, None, None, None, None)
    raw_low, raw_high = clopper_pearson_array(passes, n, confidence=confidence)
    se, sp = rates.sensitivity, rates.specificity
    point = rogan_gladen(passes / n, se, sp) if se is not None and sp is not None else float("nan")
    low, high = corrected_accuracy_interval(passes, n, rates.true_pass, rates.n_positive, rates.true_fail,
                                            rates.n_negative, confidence=confidence)
    return CorrectedRate(n, passes / n, raw_low, raw_high, None if np.isnan(point) else point, low, high)


@dataclass(frozen=True)
class CorrectedDifference:
    """Corrected paired difference ``b − a`` with its two-sided interval and the NI decision."""

    n_paired: int
    raw: float
    corrected: float | None
    ci_low: float
    ci_high: float
    lower_bound: float
    margin: float | None
    non_inferior: bool | None
    method: str = DIFFERENCE_METHOD


def corrected_difference(a_only: int, b_only: int, n_paired: int, rates: JudgeRates, *, alpha: float = 0.05,
                         margin: float | None = None) -> CorrectedDifference:
    """The corrected difference of two models judged on the same ``n_paired`` items.

    ``ci_low``/``ci_high``: two-sided ``1 − alpha`` interval; ``lower_bound``: one-sided
    ``1 − alpha`` bound; non-inferior when it is above ``−margin``.
    """
    raw = (b_only - a_only) / n_paired
    se, sp = rates.sensitivity, rates.specificity
    youden = (se + sp - 1) if se is not None and sp is not None else 0.0
    point = float(np.clip(raw / youden, -1, 1)) if youden > 0 else None
    ci_low, ci_high = corrected_difference_bounds(a_only, b_only, n_paired, rates.true_pass, rates.n_positive,
                                                  rates.true_fail, rates.n_negative, alpha=alpha / 2)
    lower, _ = corrected_difference_bounds(a_only, b_only, n_paired, rates.true_pass, rates.n_positive,
                                           rates.true_fail, rates.n_negative, alpha=alpha)
    decided = None if margin is None else bool(lower > -margin)
    return CorrectedDifference(n_paired, raw, point, ci_low, ci_high, lower, margin, decided)
