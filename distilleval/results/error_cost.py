"""What wrong answers cost per request, with an interval: the spec's ``decision.cost_per_error_usd``.

- One price for every wrong answer: the cost per request is ``price × (1 − accuracy)``, and the
  accuracy's interval (Clopper–Pearson for 0/1 scores) maps to the cost's, end for end: the
  interval covers exactly when the accuracy's does.
- A matrix by gold → predicted label: each answered item costs ``matrix[gold][predicted]``
  (``default`` for a wrong pair the matrix does not list, 0 for a right answer), and the cost
  per request is the mean over the items of the model's confusion matrix,
  ``sum_k price_k × rate_k`` over the K distinct prices a wrong answer can have. Its interval
  takes each price's rate at its Clopper–Pearson interval at level ``1 − (1 − confidence) / K``
  and sums the ends: all K hold together with probability at least ``confidence`` (Bonferroni),
  so the sum covers at least as often, and a costly error never observed still widens the
  upper end (a bootstrap of the observed items cannot see it: at 300 items and a 0.5% rate of
  a $50 error it covered 78% of the time at a nominal 95%). ``tests/results/test_error_cost.py``
  checks the coverage by simulation.

Monthly figures are ``cost per request × requests per day × days per month``; a total adds the
inference cost, taken as known (it is priced from measured tokens, not sampled).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from distilleval.results.intervals import clopper_pearson

SCALAR_METHOD = "cost per error × (1 − accuracy), the accuracy's interval carried through"
MATRIX_METHOD = ("mean cost per item from the confusion matrix; the Clopper-Pearson interval of each of the {levels} "
                 "prices' rate at {level:.2%}, summed (Bonferroni: conservative)")


@dataclass(frozen=True)
class ErrorCost:
    """The expected cost of wrong answers per request, with its two-sided interval (USD)."""

    per_request_usd: float
    low_usd: float
    high_usd: float
    method: str

    def monthly(self, requests_per_day: float, days_per_month: float) -> tuple[float, float, float]:
        """``(point, low, high)`` per month at a daily volume."""
        scale = requests_per_day * days_per_month
        return self.per_request_usd * scale, self.low_usd * scale, self.high_usd * scale


def scalar_error_cost(cost_per_error_usd: float, accuracy: float, accuracy_low: float | None,
                      accuracy_high: float | None) -> ErrorCost:
    """Wrong answers priced at one figure each.

    Args:
        cost_per_error_usd: what one wrong answer costs.
        accuracy: the share of answered items right (the model's accuracy).
        accuracy_low: the lower end of its interval (None: the point is used, and the method says so).
        accuracy_high: the upper end.

    >>> cost = scalar_error_cost(2.0, 0.9, 0.8, 0.95)
    >>> [round(x, 6) for x in (cost.per_request_usd, cost.low_usd, cost.high_usd)]
    [0.2, 0.1, 0.4]
    """
    method = SCALAR_METHOD
    if accuracy_low is None or accuracy_high is None:
        accuracy_low = accuracy_high = accuracy
        method += " (the accuracy has no interval: none is shown)"
    return ErrorCost(cost_per_error_usd * (1 - accuracy), cost_per_error_usd * (1 - accuracy_high),
                     cost_per_error_usd * (1 - accuracy_low), method)


@functools.lru_cache(maxsize=4096)
def _rate_interval(count: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper–Pearson interval of a rate (cached: a month of runs asks for the same few counts)."""
    return clopper_pearson(count, n, confidence=confidence)


def per_item_costs(confusion: dict[str, dict[str, int]], cost: Callable[[str, str], float]) -> np.ndarray:
    """One cost per answered item of a confusion matrix (``cost(gold, predicted)``), in a fixed order."""
    values = []
    for gold in sorted(confusion):
        for predicted in sorted(confusion[gold]):
            count = int(confusion[gold][predicted])
            if count > 0:
                values.append(np.full(count, float(cost(gold, predicted))))
    return np.concatenate(values) if values else np.zeros(0)


def matrix_error_cost(confusion: dict[str, dict[str, int]], cost: Callable[[str, str], float], price_levels_usd: list[float], *,
                      confidence: float = 0.95) -> ErrorCost | None:
    """Wrong answers priced by gold and predicted label (module docstring).

    Args:
        confusion: gold label -> predicted label (or INVALID) -> answered items.
        cost: ``cost(gold, predicted) -> usd`` (``spec.task_spec.ErrorCostMatrix.cost``).
        price_levels_usd: every price a wrong answer can have (the matrix's cells and its default),
            observed or not: an error never seen still widens the upper end.
        confidence: two-sided coverage of the interval.

    Returns:
        The cost per request, or None when the matrix holds no item.
    """
    values = per_item_costs(confusion, cost)
    n = values.size
    if n == 0:
        return None
    levels = sorted({float(p) for p in price_levels_usd if p > 0} | {float(v) for v in values if v > 0})
    if not levels:
        return ErrorCost(0.0, 0.0, 0.0, "every wrong answer is priced at $0")
    level_confidence = 1 - (1 - confidence) / len(levels)
    low = high = 0.0
    for price in levels:
        rate_low, rate_high = _rate_interval(int(np.sum(values == price)), n, level_confidence)
        low, high = low + price * rate_low, high + price * rate_high
    method = MATRIX_METHOD.format(levels=len(levels), level=level_confidence)
    return ErrorCost(float(values.mean()), low, high, method)
