"""How many paired eval items would show non-inferiority, for 0/1 scores.

An arm is compared with the teacher on the same items: ``p_a_only`` is the share of items only
the teacher gets right, ``p_b_only`` the share only the arm gets right, so the true difference
is ``d = p_b_only - p_a_only``. Non-inferiority at ``margin`` is shown when Tango's score test
(``paired_proportions.rejects_at_or_below``, the test the tool decides with) rejects
``d <= -margin`` at one-sided ``alpha``.

- ``power``: the exact chance that test shows non-inferiority with ``n`` items. The discordant
  count ``D`` is Binomial(n, p_a_only + p_b_only) and, given ``D``, the arm's wins are
  Binomial(D, p_b_only / (p_a_only + p_b_only)); the test's decision is summed over both.
- ``items_for_power``: the fewest items whose exact power reaches the target, found by a search
  that starts from the normal-approximation formula (with the test's continuity correction)
  ``sqrt(n) = (S + sqrt(S^2 + 4 (d + margin) c)) / (2 (d + margin))``, where
  ``S = z_{1-alpha} sqrt(V0) + z_power sqrt(V1)``, ``V1 = p_a_only + p_b_only - d^2`` the
  variance of one item's difference and ``V0`` the same under the null with Tango's restricted
  maximum-likelihood discordance, and ``c`` the continuity correction in items. When the
  difference is at or below ``-margin`` no number of items shows non-inferiority (the power
  falls to at most ``alpha``), and the answer says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from distilleval.results.paired_proportions import (
    CONTINUITY,
    _restricted_a_only_rate,
    normal_quantile,
    rejects_at_or_below,
)

EXACT_POWER_MAX_ITEMS = 50_000
"""Above this many items the exact power sum is slow; the formula's answer is given instead."""
METHOD_EXACT = "exact power of the Tango score test (continuity-corrected), searched from the normal formula"
METHOD_FORMULA = "normal-approximation formula for the Tango score test (continuity-corrected)"


@dataclass(frozen=True)
class SampleSize:
    """How many paired items would show non-inferiority with the target power.

    Attributes:
        items: the fewest paired items (None when no number of items would show it, or when it
            cannot be computed: see ``reason``).
        reachable: False when the difference is at or below ``-margin``.
        power_target: the power the items are sized for.
        method: how ``items`` was found.
        reason: why ``items`` is None, in words.
    """

    items: int | None
    reachable: bool
    power_target: float
    method: str
    reason: str | None = None


def _log_factorials(n: int) -> np.ndarray:
    return np.array([math.lgamma(k + 1) for k in range(n + 1)])


def _binomial_pmf(n: int, p: float, ks: np.ndarray, log_fact: np.ndarray) -> np.ndarray:
    if p <= 0:
        return np.asarray(ks == 0, dtype=float)
    if p >= 1:
        return np.asarray(ks == n, dtype=float)
    logs = log_fact[n] - log_fact[ks] - log_fact[n - ks] + ks * math.log(p) + (n - ks) * math.log1p(-p)
    return np.asarray(np.exp(logs))


def power(n: int, p_a_only: float, p_b_only: float, *, margin: float, alpha: float) -> float:
    """Exact probability that ``n`` paired items show non-inferiority at ``margin`` (module docstring).

    Args:
        n: paired items.
        p_a_only: share of items only the reference (teacher) gets right.
        p_b_only: share of items only the compared arm gets right.
        margin: the non-inferiority margin (a share, e.g. 0.03).
        alpha: one-sided level of the test.

    >>> power(0, 0.05, 0.05, margin=0.03, alpha=0.05)
    0.0
    >>> power(400, 0.0, 0.0, margin=0.03, alpha=0.05)  # no item ever differs: shown from a few items on
    1.0
    """
    if n <= 0:
        return 0.0
    discordance = p_a_only + p_b_only
    log_fact = _log_factorials(n)
    d_values = np.arange(n + 1)
    d_pmf = _binomial_pmf(n, discordance, d_values, log_fact)
    keep = d_pmf > 1e-13
    total = 0.0
    share_b = p_b_only / discordance if discordance > 0 else 0.5
    for d, weight in zip(d_values[keep], d_pmf[keep]):
        wins = np.arange(d + 1)
        wins_pmf = _binomial_pmf(int(d), share_b, wins, log_fact)
        shown = rejects_at_or_below(d - wins, wins, n, -margin, alpha)
        total += weight * float(wins_pmf[shown].sum())
    return min(1.0, total)


def formula_items(p_a_only: float, p_b_only: float, *, margin: float, alpha: float, power_target: float) -> float | None:
    """The normal-approximation item count (module docstring); None when the difference is at or below ``-margin``."""
    difference = p_b_only - p_a_only
    gap = difference + margin
    if gap <= 0:
        return None
    null_a_only = float(_restricted_a_only_rate(np.asarray(p_a_only), np.asarray(p_b_only), 1, np.asarray(-margin)))
    v0 = max(2 * null_a_only - margin - margin * margin, 0.0)
    v1 = max(p_a_only + p_b_only - difference * difference, 0.0)
    spread = normal_quantile(1 - alpha) * math.sqrt(v0) + normal_quantile(power_target) * math.sqrt(v1)
    root = (spread + math.sqrt(spread * spread + 4 * gap * CONTINUITY)) / (2 * gap)
    return root * root


def items_for_power(p_a_only: float, p_b_only: float, *, margin: float, alpha: float,
                    power_target: float = 0.8) -> SampleSize:
    """The fewest paired items whose exact power to show non-inferiority reaches ``power_target``.

    Args:
        p_a_only: share of items only the teacher gets right (observed, or assumed).
        p_b_only: share of items only the arm gets right.
        margin: the non-inferiority margin.
        alpha: one-sided level of the test.
        power_target: the chance of showing it the items are sized for.

    Returns:
        The item count, or the reason none exists.
    """
    if not (0 <= p_a_only <= 1 and 0 <= p_b_only <= 1 and p_a_only + p_b_only <= 1):
        raise ValueError("discordant shares must be in [0, 1] and sum to at most 1")
    approx = formula_items(p_a_only, p_b_only, margin=margin, alpha=alpha, power_target=power_target)
    if approx is None:
        difference = (p_b_only - p_a_only) * 100
        return SampleSize(None, False, power_target, METHOD_FORMULA,
                          f"the difference {difference:+.1f} pts is at or below −margin (−{margin * 100:g} pts): "
                          "no number of items will show non-inferiority")
    start = max(1, math.ceil(approx))
    if start > EXACT_POWER_MAX_ITEMS:
        return SampleSize(start, True, power_target, METHOD_FORMULA)

    def enough(n: int) -> bool:
        return power(n, p_a_only, p_b_only, margin=margin, alpha=alpha) >= power_target

    low, high = start // 2, start
    if enough(high):
        while low > 0 and enough(low):
            low, high = low // 2, low
    else:
        while not enough(high):
            low, high = high, high * 2
            if high > 4 * EXACT_POWER_MAX_ITEMS:
                return SampleSize(start, True, power_target, METHOD_FORMULA)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return SampleSize(high, True, power_target, METHOD_EXACT)


def assumption_text(discordance: float, power_target: float, margin: float, alpha: float) -> str:
    """The stated assumption behind ``estimate``'s sizing, in words."""
    return (f"assumes the arm is exactly as accurate as the teacher and the two differ in correctness on "
            f"{discordance:.0%} of items (decision.assumed_discordance); {power_target:.0%} power, margin "
            f"{margin * 100:g} pts, one-sided α = {alpha:g}")


@dataclass(frozen=True)
class EvalSizing:
    """Whether an eval split is large enough to show non-inferiority, under a stated assumption."""

    eval_items: int
    items_needed: int | None
    power_now: float
    enough: bool
    assumption: str
    method: str

    def text(self) -> str:
        """The sizing as one sentence."""
        verdict = ("large enough" if self.enough else "too small")
        needed = f"{self.items_needed:,}" if self.items_needed is not None else "no number of"
        return (f"The eval split ({self.eval_items:,} items) is {verdict} to show non-inferiority: {needed} paired items "
                f"are needed, and {self.eval_items:,} give {self.power_now:.0%} power ({self.assumption}).")


def eval_split_sizing(eval_items: int, *, margin: float, alpha: float, discordance: float,
                      power_target: float = 0.8) -> EvalSizing:
    """Size the eval split before any money is spent: an arm exactly as accurate as the teacher (half the
    discordant items go each way), ``discordance`` of items discordant (module docstring).

    Args:
        eval_items: items in the eval split.
        margin: the spec's non-inferiority margin.
        alpha: one-sided level of the test.
        discordance: the assumed share of items where the arm and the teacher differ in correctness.
        power_target: the chance of showing non-inferiority the split should give.
    """
    half = discordance / 2
    needed = items_for_power(half, half, margin=margin, alpha=alpha, power_target=power_target)
    now = power(eval_items, half, half, margin=margin, alpha=alpha) if eval_items <= 4 * EXACT_POWER_MAX_ITEMS else 1.0
    return EvalSizing(eval_items, needed.items, now, needed.items is not None and eval_items >= needed.items,
                      assumption_text(discordance, power_target, margin, alpha), needed.method)
