"""How many paired items show non-inferiority: checked against a direct simulation of the tool's own test.

Each case draws paired 0/1 outcomes (teacher-only right, arm-only right, the rest concordant) from a
multinomial, applies ``paired_proportions.decide_non_inferiority`` (the test the report and the
gate decide with) and counts how often it says "non-inferior". At the item count
``items_for_power`` gives, that share must be 80% within Monte Carlo error; at half the items it
must be clearly below. Seeded; ``DISTILLEVAL_DENSE_STATS=1`` adds cases.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from distilleval.results.paired_proportions import decide_non_inferiority
from distilleval.results.sample_size import eval_split_sizing, formula_items, items_for_power, power
from tests.montecarlo import DENSE, REPLICATES, error_rate_bound

ALPHA = 0.05
CASES = [  # (teacher-only share, arm-only share, margin)
    (0.05, 0.05, 0.05),   # equal accuracy, 10% discordant
    (0.04, 0.06, 0.03),   # the arm slightly better
    (0.08, 0.06, 0.05),   # the arm 2 pts worse, inside the margin
]
if DENSE:
    CASES += [(0.02, 0.02, 0.03), (0.10, 0.10, 0.05), (0.03, 0.02, 0.02), (0.15, 0.13, 0.05)]


def simulated_power(n: int, p_a_only: float, p_b_only: float, margin: float, *, seed: int,
                    replicates: int = REPLICATES) -> float:
    """Share of simulated eval sets of ``n`` paired items on which the tool's test shows non-inferiority."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, [p_a_only, p_b_only, 1 - p_a_only - p_b_only], size=replicates)
    decisions = decide_non_inferiority(counts[:, 0], counts[:, 1], n, margin, ALPHA)
    return float(np.mean(decisions == "non-inferior"))


@pytest.mark.parametrize(("p_a", "p_b", "margin"), CASES)
def test_the_stated_items_give_the_stated_power_and_half_of_them_do_not(p_a, p_b, margin):
    sized = items_for_power(p_a, p_b, margin=margin, alpha=ALPHA, power_target=0.8)
    assert sized.reachable and sized.items is not None
    mc_error = math.sqrt(0.8 * 0.2 / REPLICATES)
    at_n = simulated_power(sized.items, p_a, p_b, margin, seed=sized.items)
    assert abs(at_n - 0.8) <= 0.01 + 3 * mc_error, (sized.items, at_n)
    half = simulated_power(sized.items // 2, p_a, p_b, margin, seed=sized.items + 1)
    assert half < 0.8 - 0.1, (sized.items, half)
    # The exact power the search used agrees with the simulation of the same test.
    assert abs(power(sized.items, p_a, p_b, margin=margin, alpha=ALPHA) - at_n) <= 3 * mc_error
    # And it is the fewest: one item fewer falls short of the target (exactly, not by simulation).
    assert power(sized.items - 1, p_a, p_b, margin=margin, alpha=ALPHA) < 0.8 <= power(sized.items, p_a, p_b, margin=margin, alpha=ALPHA)
    # The normal formula the search starts from is close (within 10%).
    assert formula_items(p_a, p_b, margin=margin, alpha=ALPHA, power_target=0.8) == pytest.approx(sized.items, rel=0.1)


@pytest.mark.parametrize(("p_a", "p_b", "margin"), [(0.08, 0.05, 0.03), (0.10, 0.04, 0.05)])
def test_at_or_below_minus_margin_no_number_of_items_shows_it(p_a, p_b, margin):
    sized = items_for_power(p_a, p_b, margin=margin, alpha=ALPHA)
    assert (sized.items, sized.reachable) == (None, False)
    assert "no number of items will show non-inferiority" in sized.reason
    # However many items, the test says non-inferior at most alpha of the time (at the boundary -margin
    # exactly alpha, below it less and less).
    assert simulated_power(5_000, p_a, p_b, margin, seed=7, replicates=500) <= error_rate_bound(ALPHA, 500)


def test_estimate_sizing_states_its_assumption_and_compares_the_split():
    small = eval_split_sizing(128, margin=0.03, alpha=ALPHA, discordance=0.10)
    needed = items_for_power(0.05, 0.05, margin=0.03, alpha=ALPHA).items
    assert small.items_needed == needed and not small.enough
    assert small.power_now == pytest.approx(power(128, 0.05, 0.05, margin=0.03, alpha=ALPHA))
    assert "10% of items" in small.assumption and "exactly as accurate as the teacher" in small.assumption
    large = eval_split_sizing(needed, margin=0.03, alpha=ALPHA, discordance=0.10)
    assert large.enough and "large enough" in large.text()
    # Less discordance needs fewer items.
    assert eval_split_sizing(128, margin=0.03, alpha=ALPHA, discordance=0.04).items_needed < needed
