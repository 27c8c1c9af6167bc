"""Tests for distilleval.results.paired_proportions: the score test, its interval, McNemar."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from distilleval.results import paired_proportions as pp


@pytest.mark.parametrize("a_only,b_only,n,delta", [(10, 3, 100, -0.05), (0, 0, 50, -0.03), (7, 9, 200, 0.02),
                                                   (30, 1, 60, -0.2)])
def test_restricted_estimate_maximises_the_likelihood_under_the_null(a_only, b_only, n, delta):
    from scipy import optimize

    def minus_log_likelihood(p):
        p_b = p + delta
        rest = 1 - 2 * p - delta
        if p <= 0 or p_b <= 0 or rest <= 0:
            return math.inf
        return -(a_only * math.log(p) + b_only * math.log(p_b) + (n - a_only - b_only) * math.log(rest))

    low = max(0.0, -delta) + 1e-12
    best = optimize.minimize_scalar(minus_log_likelihood, bounds=(low, (1 - delta) / 2 - 1e-12), method="bounded",
                                    options={"xatol": 1e-12})
    assert float(pp._restricted_a_only_rate(a_only, b_only, n, delta)) == pytest.approx(best.x, abs=1e-6)


def test_without_correction_at_zero_difference_it_is_mcnemars_z():
    for a_only, b_only in [(10, 3), (4, 9), (50, 50)]:
        expected = (b_only - a_only) / math.sqrt(a_only + b_only)
        assert float(pp.score_z(a_only, b_only, 100, 0.0, continuity=0.0)) == pytest.approx(expected)


def test_bounds_and_decisions_never_disagree_on_any_outcome():
    n = 100
    a, b = np.meshgrid(np.arange(0, 41), np.arange(0, 41), indexing="ij")
    lower, upper = pp.score_bounds(a, b, n, 0.05)
    for margin in (0.01, 0.03, 0.05, 0.1):
        decision = pp.decide_non_inferiority(a, b, n, margin, 0.05)
        assert np.array_equal(decision == "non-inferior", lower > -margin)
        assert np.array_equal(decision == "inferior", upper < -margin)
    estimate = (b - a) / n
    assert np.all((lower < estimate) & (estimate < upper))


def test_two_sided_interval_is_wider_than_the_one_sided_bounds():
    low, high = pp.score_bounds(10, 3, 100, 0.025)
    lower, upper = pp.score_bounds(10, 3, 100, 0.05)
    assert low < lower < -0.07 < upper < high


def test_mcnemar_is_fast_and_exact_at_ten_thousand_discordant_pairs():
    from scipy import stats

    start = time.perf_counter()
    p = pp.mcnemar_exact(4_800, 5_200)
    assert time.perf_counter() - start < 0.5
    assert p == pytest.approx(stats.binomtest(4_800, 10_000).pvalue, rel=1e-9)


def test_conditional_interval_excludes_zero_exactly_when_mcnemar_rejects():
    n = 60
    for a_only in range(0, 30):
        for b_only in range(0, 30):
            low, high = pp.conditional_interval(a_only, b_only, n, 0.95)
            rejects = pp.mcnemar_exact(a_only, b_only) < 0.05
            assert rejects == (high < 0 or low > 0), (a_only, b_only)
            assert low <= (b_only - a_only) / n <= high
