"""What wrong answers cost per request, with an interval: the spec's ``decision.cost_per_error_usd``.

- One price for every wrong answer: the cost per request is ``price × (1 − accuracy)``, and the
  accuracy's interval (Clopper–Pearson for 0/1 scores) maps to the cost's, end for end: the
  interval covers exactly when the accuracy's does.
- A matrix by gold → predicted label: each answered item costs ``matrix[gold][predicted]``
  (``default`` for a wrong pair the matrix does not list, 0 for a right answer), and the cost
  per request is the mean over the items of the model's confusion matrix. Its interval is the
  interval of a mean of per-item values in [0, 1] (``intervals.mean_interval``: bootstrap-t
  when enough items differ, else count-based Clopper–Pearson; never zero width), applied to the
  costs divided by the largest one and scaled back. ``tests/results/test_error_cost.py``
  checks its coverage by simulation.

Monthly figures are ``cost per request × requests per day × days per month``; a total adds the
inference cost, taken as known (it is priced from measured tokens, not sampled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distilleval.results.intervals import mean_interval

SCALAR_METHOD = "cost per error × (1 − accuracy), the accuracy's interval carried through"
MATRIX_METHOD = "mean cost per item from the confusion matrix; {interval}"


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


def per_item_costs(confusion: dict[str, dict[str, int]], cost) -> np.ndarray:
    """One cost per answered item of a confusion matrix (``cost(gold, predicted)``), in a fixed order."""
    values = []
    for gold in sorted(confusion):
        for predicted in sorted(confusion[gold]):
            count = int(confusion[gold][predicted])
            if count > 0:
                values.append(np.full(count, float(cost(gold, predicted))))
    return np.concatenate(values) if values else np.zeros(0)


def matrix_error_cost(confusion: dict[str, dict[str, int]], cost, max_cost_usd: float, *, confidence: float = 0.95,
                      n_resamples: int = 2000, seed: int = 0) -> ErrorCost | None:
    """Wrong answers priced by gold and predicted label (module docstring).

    Args:
        confusion: gold label -> predicted label (or INVALID) -> answered items.
        cost: ``cost(gold, predicted) -> usd`` (``spec.task_spec.ErrorCostMatrix.cost``).
        max_cost_usd: the largest price of any wrong answer (the matrix's cells and its default):
            per-item costs are divided by it, so they lie in [0, 1] whatever was observed.
        confidence: two-sided coverage of the interval.
        n_resamples: bootstrap replicates, when the bootstrap is used.
        seed: bootstrap seed.

    Returns:
        The cost per request, or None when the matrix holds no item.
    """
    values = per_item_costs(confusion, cost)
    if values.size == 0:
        return None
    if max_cost_usd <= 0:
        return ErrorCost(0.0, 0.0, 0.0, "every wrong answer is priced at $0")
    interval = mean_interval(values / max_cost_usd, confidence=confidence, n_resamples=n_resamples, seed=seed)
    low = interval.low if interval.low is not None else 0.0
    high = interval.high if interval.high is not None else 1.0
    return ErrorCost(float(values.mean()), low * max_cost_usd, high * max_cost_usd,
                     MATRIX_METHOD.format(interval=f"{interval.method}, of cost ÷ ${max_cost_usd:,.4g}"))
