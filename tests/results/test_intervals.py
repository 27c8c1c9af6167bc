"""Tests for distilleval.results.intervals: exact binomial bounds and intervals that never collapse."""

from __future__ import annotations

import numpy as np
import pytest

from distilleval.results import intervals


@pytest.mark.parametrize("n", [1, 7, 20, 100, 1000, 50_000])
def test_clopper_pearson_equals_scipys_beta_quantiles(n):
    from scipy import stats

    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        low, high = intervals.clopper_pearson(k, n)
        expected_low = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
        expected_high = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
        assert low == pytest.approx(expected_low, abs=1e-12)
        assert high == pytest.approx(expected_high, abs=1e-12)


def test_clopper_pearson_rejects_bad_counts():
    with pytest.raises(ValueError):
        intervals.clopper_pearson(5, 4)
    with pytest.raises(ValueError):
        intervals.clopper_pearson(0, 0)


@pytest.mark.parametrize("values", [[1.0] * 30, [1.0] * 29 + [0.5], [0.7] * 200, [0.0] * 5])
def test_identical_or_perfect_scores_get_a_non_zero_interval(values):
    result = intervals.mean_interval(values)
    assert result.high - result.low > 0
    assert result.low <= np.mean(values) <= result.high
    assert "Clopper-Pearson" in result.method


def test_perfect_micro_f1_rows_get_a_count_based_interval():
    rows = [(2.0 * k, 2.0 * k) for k in [1, 2, 3, 4, 5] * 4]
    result = intervals.ratio_interval(rows)
    assert result.estimate == 1.0 and result.high == 1.0 and result.low < 0.9
    assert "Kish" in result.method


def test_informative_scores_use_the_bootstrap_t_and_are_reproducible():
    values = np.random.default_rng(3).beta(4, 2, size=80)
    first, second = intervals.mean_interval(values, seed=5), intervals.mean_interval(values, seed=5)
    assert "bootstrap-t" in first.method
    assert (first.low, first.high) == (second.low, second.high)
    assert first.low < values.mean() < first.high


def test_results_do_not_depend_on_item_order():
    values = np.random.default_rng(4).choice([0.0, 0.5, 1.0], size=20)
    assert intervals.mean_interval(values) == intervals.mean_interval(values[::-1])
