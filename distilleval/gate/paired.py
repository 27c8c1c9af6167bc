"""Paired comparisons for the gate and the reports: one run against a baseline, student against teacher.

McNemar's test, the intervals and the non-inferiority decision come from
``distilleval.results.statistics`` and ``distilleval.results.paired_proportions``, the same
functions that build ``summary.json``, so the gate and the summary agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from distilleval.results.families import Scores

BOOTSTRAP_RESAMPLES = 2_000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison of ``b`` against ``a`` on the items both scored (b - a)."""

    n_paired: int
    mean_a: float | None
    mean_b: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    p_value: float | None = None
    losses: int = 0
    gains: int = 0


def paired_scores(
    a_items: dict[str, float | None], b_items: dict[str, float | None]
) -> tuple[list[float], list[float]]:
    """Scores of the items both sides scored, in a stable id order."""
    common = sorted(k for k in a_items.keys() & b_items.keys() if a_items[k] is not None and b_items[k] is not None)
    return [float(a_items[k]) for k in common], [float(b_items[k]) for k in common]  # type: ignore[arg-type]


def compare_paired_as_tested(a: Scores, b: Scores, *, alpha: float) -> PairedResult:
    """``compare_paired_scores`` with the interval of the test that decides it: for 0/1 scores McNemar's
    exact conditional interval (already so), for other scores the interval that inverts the paired
    sign-flip test at two-sided ``alpha`` (``results.families.agreeing_interval``), never a
    bootstrap printed beside a permutation decision."""
    from distilleval.results.families import agreeing_interval

    paired = compare_paired_scores(a, b, alpha=alpha)
    inverted = agreeing_interval(a, b, level=alpha)
    if inverted is None:
        return paired
    low, high, method = inverted
    return dataclasses.replace(paired, ci_low=low, ci_high=high, method=method)


def compare_paired_scores(a: Scores, b: Scores, *, alpha: float) -> PairedResult:
    """Compare paired scores with ``distilleval.results.statistics.compare_paired`` (the comparison
    summary.json records), as a ``PairedResult`` whose interval always agrees with the test beside it.

    - 0/1 scores: McNemar's exact two-sided p with the exact conditional interval (the
      Clopper–Pearson interval of the share of discordant items favouring b, scaled by the
      observed discordance): the interval excludes 0 exactly when ``p < alpha``.
    - Other scores: the two-sided ``1 - alpha`` interval of
      ``distilleval.results.statistics.paired_difference`` (bootstrap-t, or the score test on
      fractional discordant counts when few items differ); no p-value.

    Args:
        a: the reference scores (baseline run, or teacher).
        b: the scores compared to it, paired by position.
        alpha: significance level.

    Returns:
        The paired result; ``p_value`` is McNemar's for 0/1 scores, None otherwise.
    """
    from distilleval.results.paired_proportions import CONDITIONAL_METHOD
    from distilleval.results.statistics import compare_paired

    n = len(a)
    if n == 0:
        return PairedResult(0, None, None, None, None, None, "no paired items")
    # Summed in order either way (a list, or ``item_results.paired_item_scores``'s arrays): the same figures.
    mean_a, mean_b = float(sum(a)) / n, float(sum(b)) / n
    losses, gains = _losses_and_gains(a, b)
    comparison = compare_paired("a", "b", _as_given(a), _as_given(b), confidence=1 - alpha,
                                n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    if comparison.mcnemar_p is not None:  # 0/1 scores
        return PairedResult(n, mean_a, mean_b, (gains - losses) / n, comparison.mcnemar_ci_low,
                            comparison.mcnemar_ci_high, CONDITIONAL_METHOD, p_value=comparison.mcnemar_p,
                            losses=losses, gains=gains)
    return PairedResult(n, mean_a, mean_b, comparison.difference, comparison.ci_low, comparison.ci_high,
                        comparison.ci_method or "no interval", losses=losses, gains=gains)


def _as_given(scores: Scores) -> Scores:
    """An array as it is (``compare_paired`` takes it without a copy per item), anything else as a list."""
    return scores if isinstance(scores, np.ndarray) else list(scores)


def _losses_and_gains(a: Scores, b: Scores) -> tuple[int, int]:
    """(items where a > b, items where a < b)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return int(np.count_nonzero(a > b)), int(np.count_nonzero(a < b))
    return sum(1 for x, y in zip(a, b) if x > y), sum(1 for x, y in zip(a, b) if x < y)


def is_significant_drop(result: PairedResult, *, alpha: float) -> bool:
    """True when ``b`` is significantly worse than ``a`` at ``alpha`` (see module docstring)."""
    if result.n_paired == 0 or result.difference is None:
        return False
    if result.p_value is not None:
        return result.p_value < alpha and result.losses > result.gains
    return result.ci_high is not None and result.ci_high < 0


def non_inferiority_test(teacher: Scores, student: Scores, *, margin: float, alpha: float):
    """The non-inferiority decision of student - teacher, as ``distilleval.results.statistics`` builds it
    for summary.json (Tango's score test for 0/1 scores; see ``paired_difference``).

    Returns:
        ``distilleval.results.summary_json.NonInferiority``, or None without paired items.
    """
    from distilleval.results.statistics import compare_paired

    if len(teacher) == 0:
        return None
    comparison = compare_paired("teacher", "student", _as_given(teacher), _as_given(student), margin=margin, alpha=alpha,
                                n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    return comparison.non_inferiority
