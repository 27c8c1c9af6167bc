"""Families of tests decided together: Holm's step-down correction and paired p-values for any score.

When one run makes several comparisons at once (the gate's check per model, the report's student
against each local baseline), testing each at ``alpha`` lets the chance of at least one false
claim grow with the number of comparisons. Holm's step-down procedure keeps that family-wise
error rate at ``alpha`` under any dependence between the tests, and rejects at least as much as
Bonferroni.

- ``holm``: Holm's decisions, adjusted p-values and the level each comparison was decided at,
  vectorised over leading axes so simulations can call the same code as the tool.
- ``binomial_tail_p``: the one-sided exact p-value of paired 0/1 scores (McNemar's, one tail).
- ``sign_flip_p``: a paired permutation p-value for any scores (each item's difference keeps or
  flips its sign at random); exact for 0/1 scores' conditional test, valid for any scores under
  "the two sides are exchangeable item by item".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from distilleval.results.paired_proportions import mcnemar_exact

Scores = Sequence[float] | np.ndarray
"""Paired scores: a list, or a float array (``results.item_results.paired_item_scores``)."""

SIGN_FLIPS = 9_999
SIGN_FLIP_SEED = 0
_MAX_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class HolmDecision:
    """One comparison of a Holm family.

    Attributes:
        p_value: the comparison's own (unadjusted) p-value.
        adjusted_p: Holm's adjusted p-value (reject when it is at most the family's alpha).
        rejected: whether Holm rejects this comparison's null.
        level: the per-comparison level it was decided at: ``alpha / (K - step + 1)`` at its step,
            or, for comparisons the procedure never reached, the level of the step where it
            stopped. An interval at ``1 - level`` (two-sided ``1 - 2·level`` for one-sided tests)
            agrees with the decision.
        family_size: K, the number of comparisons corrected together.
    """

    p_value: float
    adjusted_p: float
    rejected: bool
    level: float
    family_size: int


def holm_arrays(p_values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Holm's step-down procedure over the last axis of ``p_values`` (any leading axes).

    Returns:
        ``(adjusted_p, rejected, level)``, each shaped like ``p_values``.
    """
    p = np.asarray(p_values, dtype=float)
    k = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    multipliers = k - np.arange(k)  # K, K-1, ..., 1
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(sorted_p * multipliers, axis=-1))
    step_levels = alpha / multipliers
    passes = sorted_p <= step_levels
    # Rejected in sorted order while every earlier step rejected too.
    rejected_sorted = np.cumprod(passes, axis=-1).astype(bool)
    stop = rejected_sorted.sum(axis=-1, keepdims=True)  # index of the first step that did not reject
    steps = np.arange(k)
    decided_at = np.minimum(steps, np.minimum(stop, k - 1))
    level_sorted = alpha / (k - decided_at)
    # Tied p-values get the same (strictest) level, so the printed intervals do not depend on
    # the order the comparisons came in.
    steps_shape = np.broadcast_to(steps, sorted_p.shape)
    starts_tie = np.ones(sorted_p.shape, dtype=bool)
    starts_tie[..., 1:] = sorted_p[..., 1:] != sorted_p[..., :-1]
    first_of_tie = np.maximum.accumulate(np.where(starts_tie, steps_shape, 0), axis=-1)
    level_sorted = np.take_along_axis(level_sorted, first_of_tie, axis=-1)
    adjusted, rejected, level = (np.empty_like(sorted_p), np.empty(p.shape, dtype=bool), np.empty_like(sorted_p))
    np.put_along_axis(adjusted, order, adjusted_sorted, axis=-1)
    np.put_along_axis(rejected, order, rejected_sorted, axis=-1)
    np.put_along_axis(level, order, level_sorted, axis=-1)
    return adjusted, rejected, level


def holm(p_values: Sequence[float], alpha: float) -> list[HolmDecision]:
    """Holm's step-down decisions for a family of p-values, in the order given.

    >>> [d.rejected for d in holm([0.01, 0.04, 0.03], 0.05)]
    [True, False, False]
    >>> [round(d.adjusted_p, 2) for d in holm([0.01, 0.04, 0.03], 0.05)]
    [0.03, 0.06, 0.06]
    """
    if not p_values:
        return []
    adjusted, rejected, level = holm_arrays(np.asarray(p_values, dtype=float), alpha)
    k = len(p_values)
    return [HolmDecision(float(p), float(a), bool(r), float(v), k)
            for p, a, r, v in zip(p_values, adjusted, rejected, level)]


def binomial_tail_p(worse: int, better: int) -> float:
    """One-sided exact p-value that the side with ``worse`` lost more items than chance allows.

    Under the null each discordant item is equally likely to go either way, so the items lost
    are Binomial(worse + better, 1/2); the p-value is P(X >= worse). Computed from McNemar's
    two-sided tail (``distilleval.results.statistics.mcnemar_exact``), which is twice the
    smaller tail.

    >>> binomial_tail_p(0, 0), binomial_tail_p(3, 0)
    (1.0, 0.125)
    >>> round(binomial_tail_p(1, 3), 4)  # P(X >= 1) for X ~ Bin(4, 1/2)
    0.9375
    """
    if worse < 0 or better < 0:
        raise ValueError("discordant counts must be non-negative")
    m = worse + better
    if worse == 0:
        return 1.0
    if worse > better:
        return mcnemar_exact(worse, better) / 2  # the upper tail is the smaller one
    # P(X >= worse) = 1 - P(X <= worse - 1), and worse - 1 is below m / 2 here.
    return 1.0 - mcnemar_exact(worse - 1, m - worse + 1) / 2


def sign_flip_p(
    reference: Sequence[float] | np.ndarray,
    compared: Sequence[float] | np.ndarray,
    *,
    alternative: str = "less",
    n_flips: int = SIGN_FLIPS,
    seed: int = SIGN_FLIP_SEED,
) -> float:
    """Paired sign-flip permutation p-value of the mean of ``compared - reference``.

    Under the null that the two scores of an item are exchangeable (nothing changed between
    them), each item's difference is as likely to be +d as -d. The p-value counts random sign
    flips whose total is at least as extreme as the observed one, with the observed total among
    them: ``(1 + count) / (n_flips + 1)``, a valid p-value for any number of flips.

    Args:
        reference: the reference scores (baseline run, or the other model).
        compared: the scores compared with them, paired by position.
        alternative: "less" (``compared`` is worse), "greater", or "two-sided".
        n_flips: random sign assignments.
        seed: seed of the flips, so a run always gets the same p-value.

    Raises:
        ValueError: different lengths or an unknown ``alternative``.
    """
    a, b = np.asarray(reference, dtype=float), np.asarray(compared, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same items: {a.size} vs {b.size}")
    if alternative not in ("less", "greater", "two-sided"):
        raise ValueError(f"alternative must be less, greater or two-sided, got {alternative!r}")
    differences = (b - a)[b != a]
    if differences.size == 0:
        return 1.0
    observed = differences.sum()
    # Sums of floats in a different order differ in the last bits: compare with a tolerance so
    # that the observed arrangement counts as "at least as extreme" as itself.
    tolerance = 1e-9 * max(1.0, float(np.abs(differences).sum()))
    totals, _ = _flip_sums(differences, n_flips, seed)
    if alternative == "less":
        count = int(np.sum(totals <= observed + tolerance))
    elif alternative == "greater":
        count = int(np.sum(totals >= observed - tolerance))
    else:
        count = int(np.sum(np.abs(totals) >= abs(observed) - tolerance))
    return (1 + count) / (n_flips + 1)


def _flip_sums(differences: np.ndarray, n_flips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """For each random sign assignment of ``differences``: the signed total and the sum of the signs."""
    rng = np.random.default_rng(seed)
    totals, sign_sums = [], []
    chunk = max(1, _MAX_CELLS_PER_CHUNK // differences.size)
    for start in range(0, n_flips, chunk):
        rows = min(chunk, n_flips - start)
        signs = rng.integers(0, 2, size=(rows, differences.size), dtype=np.int8) * 2 - 1
        totals.append(signs @ differences)
        sign_sums.append(signs.sum(axis=1, dtype=np.int64))
    return np.concatenate(totals), np.concatenate(sign_sums)


def sign_flip_interval(
    reference: Sequence[float] | np.ndarray,
    compared: Sequence[float] | np.ndarray,
    *,
    level: float,
    n_flips: int = SIGN_FLIPS,
    seed: int = SIGN_FLIP_SEED,
) -> tuple[float, float]:
    """The interval of the mean difference ``compared - reference`` that inverts ``sign_flip_p``.

    The upper end is the smallest shift d at which the one-sided "less" sign-flip test of the
    differences minus d rejects at ``level``; the lower end mirrors it with "greater". The same
    random signs as ``sign_flip_p`` are used (the items with no difference get theirs from a
    second stream: at d = 0 they add nothing), so at d = 0 the tests are exactly
    ``sign_flip_p``'s: the upper end is at or below 0 exactly when ``sign_flip_p(...,
    alternative="less") <= level``, and the lower end at or above 0 exactly when the
    "greater" p is. Each end holds at ``level`` when each item's difference is symmetric about
    the true shift; the two together make a ``1 - 2 * level`` interval.

    Raises:
        ValueError: different lengths, no items, or ``level`` outside (0, 0.5).
    """
    a, b = np.asarray(reference, dtype=float), np.asarray(compared, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired scores need the same, non-zero number of items: {a.size} vs {b.size}")
    if not 0 < level < 0.5:
        raise ValueError(f"level must be within (0, 0.5), got {level}")
    all_differences = b - a
    differences = all_differences[all_differences != 0]
    n, zeros = all_differences.size, all_differences.size - differences.size
    if differences.size:
        totals, sign_sums = _flip_sums(differences, n_flips, seed)
    else:
        totals, sign_sums = np.zeros(n_flips), np.zeros(n_flips, dtype=np.int64)
    if zeros:
        sign_sums = sign_sums + 2 * np.random.default_rng([seed, 1]).binomial(zeros, 0.5, size=n_flips) - zeros
    observed = float(differences.sum())
    tolerance = 1e-9 * max(1.0, float(np.abs(differences).sum()))
    # At shift d a flip's total is totals - d * sign_sums and the observed one observed - n * d.
    gap = totals - observed

    def p_less(d: float) -> float:
        return (1 + int(np.sum(gap + d * (n - sign_sums) <= tolerance))) / (n_flips + 1)

    def p_greater(d: float) -> float:
        return (1 + int(np.sum(gap + d * (n - sign_sums) >= -tolerance))) / (n_flips + 1)

    span = float(np.abs(all_differences).max()) + 1.0
    upper = _threshold(lambda d: p_less(d) <= level, -span, span)
    lower = -_threshold(lambda d: p_greater(-d) <= level, -span, span)
    # Exact agreement with the tests at 0, whatever the bisection's last digit.
    upper = min(upper, 0.0) if p_less(0.0) <= level else max(upper, math.ulp(0.0))
    lower = max(lower, 0.0) if p_greater(0.0) <= level else min(lower, -math.ulp(0.0))
    return lower, upper


def _threshold(rejects: Callable[[float], bool], low: float, high: float) -> float:
    """The smallest d in [low, high] where ``rejects(d)`` holds, for a test that rejects from
    some d on (bisection to float precision); ``high`` when it never rejects there."""
    if not rejects(high):
        return math.inf
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if rejects(middle):
            high = middle
        else:
            low = middle
    return high


def one_sided_to_two_sided_level(level: float) -> float:
    """The two-sided confidence level whose interval agrees with a one-sided test at ``level``."""
    return 1.0 - 2.0 * level


def is_binary(values: Scores) -> bool:
    """True when every score is 0 or 1."""
    if isinstance(values, np.ndarray):
        return bool(np.all((values == 0.0) | (values == 1.0)))
    return all(v == 0.0 or v == 1.0 for v in values)


def discordant_counts(reference: Scores, compared: Scores) -> tuple[int, int]:
    """(items 1 in ``reference`` and 0 in ``compared``, items 0 in ``reference`` and 1 in ``compared``)."""
    if isinstance(reference, np.ndarray) and isinstance(compared, np.ndarray):
        return (int(np.count_nonzero((reference == 1.0) & (compared == 0.0))),
                int(np.count_nonzero((reference == 0.0) & (compared == 1.0))))
    return (sum(1 for x, y in zip(reference, compared) if x == 1.0 and y == 0.0),
            sum(1 for x, y in zip(reference, compared) if x == 0.0 and y == 1.0))


def drop_p_value(reference: Scores, compared: Scores) -> tuple[float, str]:
    """One-sided p-value that ``compared`` scores lower than ``reference`` on the same items, and its method.

    0/1 scores: exact binomial on the discordant items (McNemar's test, one tail). Other scores:
    the paired sign-flip permutation test of the mean difference.
    """
    if is_binary(reference) and is_binary(compared):
        lost, gained = discordant_counts(reference, compared)
        return binomial_tail_p(lost, gained), "exact McNemar, one-sided"
    return sign_flip_p(reference, compared, alternative="less"), f"paired sign-flip test ({SIGN_FLIPS:,} flips), one-sided"


def two_sided_p_value(reference: Scores, compared: Scores) -> tuple[float, str]:
    """Two-sided p-value that ``compared`` and ``reference`` differ on the same items, and its method.

    0/1 scores: McNemar's exact test. Other scores: the paired sign-flip permutation test.
    """
    if is_binary(reference) and is_binary(compared):
        a_only, b_only = discordant_counts(reference, compared)
        return mcnemar_exact(a_only, b_only), "McNemar exact, two-sided"
    # Twice the smaller one-sided p (not the |total| statistic), so that it agrees exactly with
    # the interval made of the two one-sided inversions (``agreeing_interval``).
    smaller = min(sign_flip_p(reference, compared, alternative="less"),
                  sign_flip_p(reference, compared, alternative="greater"))
    return min(1.0, 2 * smaller), f"paired sign-flip test ({SIGN_FLIPS:,} flips), two-sided (twice the smaller one-sided p)"


def agreeing_interval(reference: Scores, compared: Scores, *, level: float) -> tuple[float, float, str] | None:
    """For scores other than 0/1: the two-sided interval that ``two_sided_p_value`` rejects 0 by at
    ``level`` (each end the inversion of a one-sided sign-flip test at ``level / 2``), and its
    name; None for 0/1 scores, whose McNemar interval already agrees with McNemar's test."""
    if is_binary(reference) and is_binary(compared):
        return None
    low, high = sign_flip_interval(reference, compared, level=level / 2)
    return low, high, "interval inverting the paired sign-flip test"

