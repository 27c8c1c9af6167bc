"""Holm's step-down, the one-sided exact McNemar tail and the paired sign-flip p-value."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom

from distilleval.results.families import (
    binomial_tail_p,
    drop_p_value,
    holm,
    holm_arrays,
    sign_flip_p,
    two_sided_p_value,
)
from tests.montecarlo import error_rate_bound


def _holm_by_hand(p_values, alpha):
    """Holm as the textbook states it: sort, compare the i-th smallest with alpha / (K - i), stop at the first miss."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for step, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - step):
            break
        rejected[index] = True
    return rejected


@pytest.mark.parametrize("p_values", [
    [0.01, 0.04, 0.03], [0.001, 0.001, 0.2], [0.5], [0.012, 0.013, 0.0125, 0.9], [0.03, 0.02], [0.0, 1.0],
])
def test_holm_matches_the_textbook_procedure(p_values):
    decisions = holm(p_values, 0.05)
    assert [d.rejected for d in decisions] == _holm_by_hand(p_values, 0.05)
    # A rejection is exactly an adjusted p-value at most alpha.
    assert [d.adjusted_p <= 0.05 for d in decisions] == [d.rejected for d in decisions]
    assert all(d.family_size == len(p_values) for d in decisions)


def test_holm_levels_agree_with_the_decisions_and_never_exceed_alpha():
    rng = np.random.default_rng(0)
    p = rng.random((500, 4)) ** 3
    adjusted, rejected, level = holm_arrays(p, 0.05)
    assert np.array_equal(rejected, p <= level)  # an interval at 1 - level agrees with the decision
    assert np.all(level <= 0.05) and np.all(level >= 0.05 / 4)
    for row in range(50):
        assert list(rejected[row]) == _holm_by_hand(list(p[row]), 0.05)


@pytest.mark.parametrize("p", [[0.004, 0.03, 0.011, 0.2], [0.01, 0.01, 0.001, 0.3], [0.02, 0.02, 0.02, 0.02]])
def test_holm_decisions_and_levels_are_the_same_in_any_order(p):
    original = holm(p, 0.05)
    for permutation in itertools.permutations(range(4)):
        decisions = holm([p[i] for i in permutation], 0.05)
        assert [(d.rejected, d.level, d.adjusted_p) for d in decisions] == [
            (original[i].rejected, original[i].level, original[i].adjusted_p) for i in permutation]


@pytest.mark.parametrize("worse, better", [(0, 0), (3, 0), (0, 3), (5, 5), (10, 3), (3, 10), (40, 25), (1, 120)])
def test_one_sided_tail_equals_the_binomial_survival_function(worse, better):
    m = worse + better
    expected = 1.0 if m == 0 else float(binom.sf(worse - 1, m, 0.5))
    assert binomial_tail_p(worse, better) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_drop_and_two_sided_p_values_pick_the_test_by_score_kind():
    baseline, run = [1.0] * 10 + [0.0] * 10, [0.0] * 8 + [1.0] * 2 + [0.0] * 10  # 8 lost, 0 gained
    p, method = drop_p_value(baseline, run)
    assert method == "exact McNemar, one-sided" and p == pytest.approx(binom.sf(7, 8, 0.5))
    p, method = two_sided_p_value(baseline, run)
    assert method == "McNemar exact, two-sided" and p == pytest.approx(2 * binom.sf(7, 8, 0.5))
    p, method = drop_p_value([0.5, 1.0, 0.8] * 10, [0.0, 0.5, 0.3] * 10)
    assert "sign-flip" in method and p < 0.001


def test_sign_flip_p_is_one_without_differences_and_exact_in_small_cases():
    assert sign_flip_p([0.3, 0.7], [0.3, 0.7]) == 1.0
    # Three items, all worse by 0.5: 1 of the 8 sign patterns is as low, so p -> 1/8 with many flips.
    p = sign_flip_p([1.0, 1.0, 1.0], [0.5, 0.5, 0.5], n_flips=40_000)
    assert p == pytest.approx(1 / 8, abs=0.006)
    with pytest.raises(ValueError):
        sign_flip_p([1.0], [1.0, 0.0])


def test_sign_flip_p_holds_its_level_on_exchangeable_partial_credit():
    # Both sides draw each item's score in {0, 0.5, 1} from the same item-specific distribution.
    rng = np.random.default_rng(5)
    replicates, n = 2_000, 60
    rejections = 0
    for _ in range(replicates):
        weights = rng.dirichlet([1.0, 1.0, 1.0], n)
        cumulative = weights.cumsum(axis=1)
        draw = lambda cumulative=cumulative: np.array([0.0, 0.5, 1.0])[(rng.random((n, 1)) > cumulative).sum(axis=1)]  # noqa: E731
        rejections += sign_flip_p(draw(), draw(), n_flips=199, seed=int(rng.integers(1 << 30))) <= 0.05
    assert rejections / replicates <= error_rate_bound(0.05)


def test_the_sign_flip_interval_inverts_the_sign_flip_tests_exactly():
    """Issue 25: an interval printed beside a decision is the inversion of the test that made it.
    Over random partial-credit pairs and Holm-sized levels, the interval's upper end is at or
    below 0 exactly when the one-sided "less" test rejects, its lower end at or above 0 exactly
    when the "greater" test does, the two-sided p rejects exactly when the interval excludes 0,
    and the observed mean difference lies inside."""
    from distilleval.results.families import agreeing_interval, sign_flip_interval

    rng = np.random.default_rng(5)
    for case in range(120):
        n = int(rng.integers(8, 200))
        a = rng.choice([0.0, 0.5, 1.0], size=n, p=[0.2, 0.3, 0.5])
        shift = rng.choice([-0.5, 0.0, 0.5], size=n, p=[0.1 + 0.1 * (case % 2), 0.7, 0.2 - 0.1 * (case % 2)])
        b = np.clip(a + shift, 0.0, 1.0)
        level = (0.025, 0.0125, 0.005)[case % 3]
        low, high = sign_flip_interval(a, b, level=level, n_flips=999, seed=case)
        less = sign_flip_p(a, b, alternative="less", n_flips=999, seed=case)
        greater = sign_flip_p(a, b, alternative="greater", n_flips=999, seed=case)
        assert (high <= 0) == (less <= level) and (low >= 0) == (greater <= level), (case, low, high, less, greater)
        assert low <= float(np.mean(b - a)) <= high
    # The defaults (9,999 flips) used by the gate, compare and the report agree the same way.
    a, b = [0.5, 1.0, 0.8] * 10, [0.5, 0.5, 0.8] * 10
    p, _ = two_sided_p_value(a, b)
    low, high, method = agreeing_interval(a, b, level=0.05)
    assert (p <= 0.05) == (high <= 0 or low >= 0) and "sign-flip" in method
    assert agreeing_interval([1.0, 0.0], [0.0, 1.0], level=0.05) is None  # 0/1: McNemar's own interval


def test_the_sign_flip_interval_covers_a_symmetric_shift():
    # Seeded Monte Carlo: differences symmetric about a true shift of -0.1 (partial credit and
    # continuous noise); the 95% interval (2.5% each end) covers it at least 94% of the time
    # (the rule: nominal - 1 point, widened by two Monte Carlo standard errors).
    from distilleval.results.families import sign_flip_interval

    rng = np.random.default_rng(11)
    replicates, covered = 400, 0
    for r in range(replicates):
        n = 60
        noise = rng.choice([-0.5, 0.0, 0.5], size=n, p=[0.25, 0.5, 0.25]) + rng.normal(0, 0.05, size=n)
        a = rng.random(n)
        b = a - 0.1 + noise
        low, high = sign_flip_interval(a, b, level=0.025, n_flips=499, seed=r)
        covered += low <= -0.1 <= high
    rate, se = covered / replicates, (0.95 * 0.05 / replicates) ** 0.5
    assert rate >= 0.94 - 2 * se, rate
