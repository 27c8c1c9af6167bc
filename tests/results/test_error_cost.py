"""The cost of wrong answers per request: exact arithmetic, and the matrix interval's coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distilleval.results.error_cost import matrix_error_cost, per_item_costs, scalar_error_cost
from tests.montecarlo import DENSE

LABELS = ("fraud", "billing", "other")
COSTS = {("fraud", "billing"): 50.0, ("fraud", "other"): 50.0, ("billing", "fraud"): 5.0}
DEFAULT = 1.0
PRICES = sorted(set(COSTS.values()) | {DEFAULT})


def cost(gold: str, predicted: str) -> float:
    return 0.0 if gold == predicted else COSTS.get((gold, predicted), DEFAULT)


def test_one_price_per_error_carries_the_accuracy_interval_end_for_end():
    errors = scalar_error_cost(3.0, 0.90, 0.85, 0.94)
    assert errors.per_request_usd == pytest.approx(0.30)
    # The low end of the cost comes from the high end of the accuracy, and the reverse.
    assert (errors.low_usd, errors.high_usd) == (pytest.approx(3.0 * 0.06), pytest.approx(3.0 * 0.15))
    assert errors.monthly(1_000, 30) == (pytest.approx(9_000), pytest.approx(5_400), pytest.approx(13_500))


def test_a_matrix_prices_each_confusion_cell():
    confusion = {"fraud": {"fraud": 6, "billing": 2, "other": 1}, "billing": {"billing": 8, "fraud": 3},
                 "other": {"other": 9, "billing": 1, "INVALID": 2}}
    errors = matrix_error_cost(confusion, cost, PRICES)
    # By hand: 2×50 + 1×50 + 3×5 + 1×1 + 2×1 (INVALID at the default) over 32 answered items.
    assert errors.per_request_usd == pytest.approx((100 + 50 + 15 + 1 + 2) / 32)
    assert errors.low_usd < errors.per_request_usd < errors.high_usd <= 50.0
    # The interval is the sum of each price's Clopper-Pearson bounds at 1 − 0.05/3 (three prices: 1, 5, 50).
    from distilleval.results.intervals import clopper_pearson

    bounds = [clopper_pearson(k, 32, confidence=1 - 0.05 / 3) for k in (3, 3, 3)]  # 3 items at $1, $5 and $50 each
    assert errors.low_usd == pytest.approx(sum(price * b[0] for price, b in zip((1, 5, 50), bounds)))
    assert errors.high_usd == pytest.approx(sum(price * b[1] for price, b in zip((1, 5, 50), bounds)))
    assert sorted(per_item_costs(confusion, cost)).count(50.0) == 3


def test_no_observed_error_still_gets_an_interval_of_positive_width():
    errors = matrix_error_cost({"fraud": {"fraud": 40}, "billing": {"billing": 40}}, cost, PRICES)
    assert errors.per_request_usd == 0.0 and errors.low_usd == 0.0 and errors.high_usd > 0.0


# (label probabilities, confusion rows by gold: probability of each predicted label), items
GRID = [
    ({"fraud": 0.1, "billing": 0.5, "other": 0.4},
     {"fraud": {"fraud": 0.7, "billing": 0.2, "other": 0.1}, "billing": {"billing": 0.9, "fraud": 0.1},
      "other": {"other": 0.85, "billing": 0.15}}, 80),
    ({"fraud": 0.05, "billing": 0.6, "other": 0.35},
     {"fraud": {"fraud": 0.9, "billing": 0.1}, "billing": {"billing": 0.95, "fraud": 0.05},
      "other": {"other": 0.9, "billing": 0.1}}, 300),
]
if DENSE:
    GRID += [(GRID[0][0], GRID[0][1], 30), (GRID[1][0], GRID[1][1], 1_000)]
REPLICATES = 2_000


@pytest.mark.parametrize(("classes", "rows", "n"), GRID)
def test_the_matrix_interval_covers_the_true_cost_per_request(classes, rows, n):
    cells = [(gold, predicted, classes[gold] * p) for gold, row in rows.items() for predicted, p in row.items()]
    probabilities = np.array([p for _, _, p in cells])
    truth = float(sum(p * cost(g, q) for g, q, p in cells))
    rng = np.random.default_rng(n)
    covered = 0
    for draw in rng.multinomial(n, probabilities / probabilities.sum(), size=REPLICATES):
        confusion: dict[str, dict[str, int]] = {}
        for (gold, predicted, _), count in zip(cells, draw):
            confusion.setdefault(gold, {})[predicted] = int(count)
        errors = matrix_error_cost(confusion, cost, PRICES)
        covered += errors.low_usd <= truth <= errors.high_usd
    coverage = covered / REPLICATES
    # The project's rule: nominal − 1 point − 2 Monte Carlo standard errors.
    assert coverage >= 0.95 - 0.01 - 2 * math.sqrt(0.95 * 0.05 / REPLICATES), coverage
