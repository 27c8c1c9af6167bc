"""Pairwise judging: b's wins, ties and losses against a, and how much the judge favours a position.

Each item is judged twice, a's answer first and then b's first. b wins an item when both
judgments prefer it, loses when both prefer a, and ties otherwise (a tie, or a preference that
follows the position rather than the answer). The position bias is the share of judgments that
pick the first-shown answer minus the share that pick the second: every item shows each answer
first once, so the answers' quality cancels and only the order is left. Its interval treats the
items as the sampled units (``intervals.mean_interval`` over each item's two judgments).
"""

from __future__ import annotations

from collections.abc import Sequence

from distilleval.results.intervals import clopper_pearson, mean_interval
from distilleval.results.paired_proportions import score_bounds
from distilleval.results.summary_json import MetricValue, PairwiseResult


def _side(preference: str, first_is_b: bool) -> int:
    """+1 when the judgment prefers b, −1 when it prefers a, 0 for a tie."""
    if preference == "tie":
        return 0
    picked_first = preference == "1"
    return 1 if picked_first == first_is_b else -1


def pairwise_result(a: str, b: str, judgments: Sequence[tuple[str | None, str | None]], *,
                    confidence: float = 0.95) -> PairwiseResult:
    """Wins, ties, losses and position bias from ``(a-first, b-first)`` preferences per item
    (``"1"``, ``"2"``, ``"tie"``; None where the judge gave none: the item is left out and counted)."""
    complete = [(x, y) for x, y in judgments if x is not None and y is not None]
    wins = losses = 0
    bias_per_item = []
    for a_first, b_first in complete:
        sides = (_side(a_first, False), _side(b_first, True))
        wins += sides == (1, 1)
        losses += sides == (-1, -1)
        bias_per_item.append(((a_first == "1") - (a_first == "2") + (b_first == "1") - (b_first == "2")) / 2)
    n = len(complete)
    ties = n - wins - losses
    if n == 0:
        empty = MetricValue(name="", value=None, confidence=confidence)
        return PairwiseResult(a=a, b=b, n=0, failed_items=len(judgments), wins=0, ties=0, losses=0,
                              win_rate=empty.model_copy(update={"name": "win_rate"}),
                              net_win_rate=empty.model_copy(update={"name": "net_win_rate"}),
                              position_bias=empty.model_copy(update={"name": "position_bias"}))
    low, high = clopper_pearson(wins, n, confidence=confidence)
    net_low, net_high = score_bounds(losses, wins, n, (1 - confidence) / 2)
    # Each item's bias is in [-1, 1]; mean_interval takes scores in [0, 1], so it is shifted there and back.
    shifted = mean_interval([(d + 1) / 2 for d in bias_per_item], confidence=confidence)
    return PairwiseResult(
        a=a, b=b, n=n, failed_items=len(judgments) - n, wins=wins, ties=ties, losses=losses,
        win_rate=MetricValue(name="win_rate", value=wins / n, ci_low=low, ci_high=high, ci_method="clopper-pearson",
                             confidence=confidence),
        net_win_rate=MetricValue(name="net_win_rate", value=(wins - losses) / n, ci_low=net_low, ci_high=net_high,
                                 ci_method="tango score", confidence=confidence),
        position_bias=MetricValue(name="position_bias", value=sum(bias_per_item) / n, ci_low=_unshift(shifted.low),
                                  ci_high=_unshift(shifted.high), ci_method=shifted.method, confidence=confidence),
    )


def _unshift(bound: float | None) -> float | None:
    """A bound of the [0, 1]-shifted bias mean back on [-1, 1]."""
    return None if bound is None else 2 * bound - 1
