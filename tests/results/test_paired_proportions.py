"""Tests for distilleval.results.paired_proportions: the score test, its interval, McNemar."""

from __future__ import annotations

import math
import time
from statistics import NormalDist

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


@pytest.mark.parametrize("n", [20, 50, 100, 300])
def test_the_score_p_excludes_zero_exactly_when_the_printed_interval_does_on_every_outcome(n):
    """Every (a_only, b_only) outcome at n items: the 95% interval ``score`` and the report print
    excludes 0 exactly when the p printed beside it is below 0.05. McNemar's exact p, printed there
    before, disagrees with the same interval on some outcomes (so it is printed only beside its own
    conditional interval)."""
    a_only, b_only = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    possible = a_only + b_only <= n
    a_only, b_only = a_only[possible], b_only[possible]
    low, high = pp.score_bounds(a_only, b_only, n, 0.025)
    p = pp.score_p_value(a_only, b_only, n)
    excludes = (low > 0) | (high < 0)
    assert np.array_equal(excludes, p < 0.05), np.flatnonzero(excludes != (p < 0.05))[:5]
    assert np.all((p >= 0) & (p <= 1))
    mcnemar = np.array([pp.mcnemar_exact(int(a), int(b)) for a, b in zip(a_only, b_only)])
    if n >= 50:
        assert np.any(excludes != (mcnemar < 0.05))


def test_the_score_p_at_zero_is_the_continuity_corrected_mcnemar_z():
    normal = NormalDist()
    for a_only, b_only in [(10, 3), (3, 10), (0, 7), (25, 40), (1, 0), (0, 0)]:
        m = a_only + b_only
        z = (abs(b_only - a_only) - 1) / math.sqrt(m) if m else 0.0
        expected = min(1.0, 2 * (1 - normal.cdf(z))) if z > 0 else 1.0
        assert pp.score_p_value(a_only, b_only, 100) == pytest.approx(expected, abs=1e-12)
