"""Tests for distilleval.results.statistics against published values and by properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.results import statistics


def test_wilson_matches_known_value_83_of_100():
    low, high = statistics.wilson_interval(83, 100)
    assert round(low, 4) == 0.7445
    assert round(high, 4) == 0.8911


def test_wilson_at_the_edges_stays_inside_unit_interval():
    # The Wald interval collapses to [0, 0] at 0 successes; Wilson must not.
    low, high = statistics.wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2
    low, high = statistics.wilson_interval(20, 20)
    assert 0.8 < low < 0.9 and high == 1.0


def test_wilson_of_no_items_is_none_and_bad_counts_raise():
    assert statistics.wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="successes"):
        statistics.wilson_interval(5, 4)


@given(n=st.integers(1, 500), data=st.data())
def test_wilson_contains_the_point_estimate(n, data):
    k = data.draw(st.integers(0, n))
    low, high = statistics.wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_mcnemar_matches_known_value():
    assert round(statistics.mcnemar_exact(10, 3), 4) == 0.0923
    assert round(statistics.mcnemar_exact(3, 10), 4) == 0.0923


def test_mcnemar_without_discordant_pairs_is_one():
    assert statistics.mcnemar_exact(0, 0) == 1.0
    assert statistics.mcnemar_exact(5, 5) == 1.0


def test_paired_counts_give_the_score_tests_difference_bounds_and_verdict():
    # 80 both right, 10 teacher only, 3 student only, 7 both wrong.
    teacher, student = _paired_vectors(80, 10, 3, 7)
    result = statistics.paired_difference(teacher, student, margin=0.05, alpha=0.05)
    assert result.estimate == pytest.approx(-0.07)
    assert -0.15 < result.lower < -0.07 < result.upper < 0
    assert result.decision == "inconclusive"
    assert "Tango" in result.method


def _paired_vectors(both, a_only, b_only, neither):
    teacher = [1] * both + [1] * a_only + [0] * b_only + [0] * neither
    student = [1] * both + [0] * a_only + [1] * b_only + [0] * neither
    return teacher, student


def test_compare_paired_reproduces_known_values_from_item_scores():
    teacher, student = _paired_vectors(80, 10, 3, 7)
    result = statistics.compare_paired("teacher", "student", teacher, student, margin=0.05, alpha=0.05)
    assert result.n_paired == 100
    assert result.difference == pytest.approx(-0.07)
    assert result.discordant == {"a_only": 10, "b_only": 3}
    assert round(result.mcnemar_p, 4) == 0.0923
    assert result.non_inferiority.non_inferior is False
    assert result.non_inferiority.decision == "inconclusive"
    # The two-sided 95% interval is wider than the one-sided 95% bounds, and holds the estimate.
    assert result.ci_low < result.non_inferiority.lower_bound < -0.07 < result.non_inferiority.upper_bound < result.ci_high


@pytest.mark.parametrize("a_only, b_only", [(10, 3), (3, 10), (13, 4), (4, 13), (14, 3), (0, 5), (6, 0), (0, 0)])
def test_every_p_recorded_agrees_with_the_interval_recorded_beside_it(a_only, b_only):
    # McNemar's p is recorded only with its own conditional interval; p_value is the score test's.
    teacher, student = _paired_vectors(50 - a_only - b_only, a_only, b_only, 7)
    result = statistics.compare_paired("teacher", "student", teacher, student)
    assert "Tango score test" in result.p_method and "Tango score test" in result.ci_method
    assert (result.p_value < 0.05) == (result.ci_low > 0 or result.ci_high < 0)
    assert (result.mcnemar_p < 0.05) == (result.mcnemar_ci_low > 0 or result.mcnemar_ci_high < 0)


def test_mcnemar_p_beside_the_score_interval_would_disagree_on_some_outcome():
    disagreements = []
    # 50 items, 4 won by the student: at 13 lost McNemar's exact p is 0.049 while the score
    # interval reaches 0 (its lower end is 0 to within 1e-18).
    for a_only in range(0, 30):
        teacher, student = _paired_vectors(46 - a_only, a_only, 4, 0)
        result = statistics.compare_paired("teacher", "student", teacher, student)
        if (result.mcnemar_p < 0.05) != (result.ci_low > 0 or result.ci_high < 0):
            disagreements.append(a_only)
    assert disagreements  # why the p printed beside that interval is the score test's


def test_compare_paired_non_inferior_when_student_is_as_good():
    teacher, student = _paired_vectors(180, 5, 6, 9)
    result = statistics.compare_paired("t", "s", teacher, student, margin=0.05)
    assert result.non_inferiority.non_inferior is True
    assert result.non_inferiority.decision == "non-inferior"


def test_compare_paired_inferior_when_the_upper_bound_is_below_minus_margin():
    teacher, student = _paired_vectors(150, 40, 5, 5)
    result = statistics.compare_paired("t", "s", teacher, student, margin=0.05)
    assert result.non_inferiority.decision == "inferior"
    assert result.non_inferiority.upper_bound < -0.05


def test_without_discordant_pairs_the_bound_does_not_collapse():
    # Five items, all right on both sides: a Wald bound would claim exactly 0.
    result = statistics.compare_paired("t", "s", [1] * 5, [1] * 5, margin=0.05)
    assert result.non_inferiority.non_inferior is False
    assert result.non_inferiority.lower_bound < -0.3
    assert result.ci_low < -0.3 and result.ci_high > 0.3
    # Many agreeing items do conclude non-inferiority, exactly where (1 - margin)^n <= alpha would.
    assert statistics.compare_paired("t", "s", [1] * 200, [1] * 200, margin=0.05).non_inferiority.non_inferior


@pytest.mark.parametrize("kind", ["partial", "continuous", "micro"])
@pytest.mark.parametrize("n", [2, 30, 500])
def test_identical_data_of_any_metric_kind_get_a_non_zero_interval(kind, n):
    scores = {"partial": [1.0, 0.5] * (n // 2), "continuous": list(np.linspace(0.2, 0.9, n)), "micro": [1.0] * n}[kind]
    rows = [(2.0, 2.0)] * n if kind == "micro" else None
    result = statistics.compare_paired("t", "s", scores, scores, metric_rows_a=rows, metric_rows_b=rows,
                                       statistic=statistics.ratio_statistic if rows else statistics.mean_statistic,
                                       margin=0.02)
    assert result.ci_low < 0 < result.ci_high
    # Non-inferior only when a level-0.05 test on n identical items would be: (1 - 0.02)^n <= 0.05, n >= 149.
    assert result.non_inferiority.non_inferior == (n >= 149)


def test_compare_paired_drops_excluded_items():
    result = statistics.compare_paired("t", "s", [1, None, 0, 1], [1, 1, None, 0])
    assert result.n_paired == 2
    assert result.difference == pytest.approx(-0.5)


def test_bootstrap_degenerate_cases_fall_back_cleanly():
    assert statistics.paired_bootstrap_ci([], []).estimate is None
    single = statistics.paired_bootstrap_ci([1.0], [0.0])
    assert single.estimate == -1.0 and single.low == single.high == -1.0
    assert "one item" in single.method
    same = statistics.paired_bootstrap_ci([1, 1, 1], [1, 1, 1])
    assert same.low == same.high == 0.0 and "degenerate" in same.method
    with pytest.raises(ValueError, match="same items"):
        statistics.paired_bootstrap_ci([1, 0], [1])


def median_per_resample(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """A metric no array sum expresses, computed on each resample in a Python loop."""
    return np.array([float(np.median(values[row])) for row in indices])


def test_a_python_metric_whose_bootstrap_collapses_decides_nothing():
    result = statistics.compare_paired("t", "s", [1.0] * 20, [1.0] * 20, statistic=median_per_resample, margin=0.05)
    assert result.non_inferiority.decision == "inconclusive"


def test_ratio_statistic_recomputes_micro_f1_per_resample():
    # Item 1: TP=1 FP=0 FN=0; item 2: TP=0 FP=1 FN=1 -> micro F1 = 2/(2+2) = 0.5.
    rows = np.array([[2, 2], [0, 2]], dtype=float)
    result = statistics.bootstrap_ci(rows, statistic=statistics.ratio_statistic, n_resamples=500)
    assert result.estimate == pytest.approx(0.5)
    assert result.low == 0.0 and result.high == 1.0


def test_bootstrap_of_a_python_metric_computed_per_resample():
    values = np.array([0, 1, 1, 1, 0, 1], dtype=float)
    result = statistics.bootstrap_ci(values, statistic=median_per_resample, n_resamples=200)
    assert result.estimate == 1.0


def test_bootstrap_is_reproducible_with_a_seed():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    first = statistics.paired_bootstrap_ci(a, b, seed=7)
    second = statistics.paired_bootstrap_ci(a, b, seed=7)
    assert (first.low, first.high) == (second.low, second.high)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=2, max_size=60))
def test_paired_interval_contains_the_observed_difference(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    result = statistics.paired_bootstrap_ci(a, b, n_resamples=300)
    assert result.estimate == pytest.approx(np.mean(b) - np.mean(a))
    assert result.low - 1e-9 <= result.estimate <= result.high + 1e-9
    assert -1.0 <= result.low and result.high <= 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=1, max_size=80), st.randoms(use_true_random=False))
def test_permuting_items_leaves_the_difference_unchanged(values, random):
    other = [1 - v for v in values]
    order = list(range(len(values)))
    random.shuffle(order)
    first = statistics.compare_paired("a", "b", values, other).difference
    second = statistics.compare_paired("a", "b", [values[i] for i in order], [other[i] for i in order]).difference
    assert first == pytest.approx(second)


def test_agreement_and_kappa():
    a = ["x", "y", "x", None]
    b = ["x", "y", "y", None]
    # A missing answer on both sides is not agreement.
    assert statistics.agreement(a, b) == 0.5
    assert statistics.agreement([], []) is None
    assert statistics.cohen_kappa(["x", "y", "x", "y"], ["x", "y", "x", "y"]) == 1.0
    assert statistics.cohen_kappa(["x", "x"], ["x", "x"]) is None
    kappa = statistics.cohen_kappa(["x", "y", "x", "y"], ["x", "x", "y", "y"])
    assert math.isclose(kappa, 0.0, abs_tol=1e-12)


def _labels_from_table(table):
    """Two label lists whose cross-tabulation is ``table`` ({(label_a, label_b): count})."""
    pairs = [pair for pair, count in table.items() for _ in range(count)]
    return [a for a, _ in pairs], [b for _, b in pairs]


@pytest.mark.parametrize(("table", "kappa", "raw_agreement"), [
    # 2x2, 50 items: observed 0.7, chance (25/50)(30/50) + (25/50)(20/50) = 0.5, kappa 0.2/0.5.
    ({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}, 0.4, 0.7),
    # None is its own category: observed 8/10, chance (5*4 + 4*4 + 1*2)/100 = 0.38, kappa 0.42/0.62.
    ({("x", "x"): 4, ("x", "y"): 1, ("y", "y"): 3, ("y", None): 1, (None, None): 1}, 21 / 31, 0.8),
    # Worse than chance: observed 2/8, chance 0.5, kappa -0.25/0.5.
    ({("x", "x"): 1, ("x", "y"): 3, ("y", "x"): 3, ("y", "y"): 1}, -0.5, 0.25),
])
def test_cohen_kappa_of_hand_built_confusion_tables(table, kappa, raw_agreement):
    # Kappa corrects the observed agreement for chance; the raw agreement is a different number
    # on every table here, so a kappa that returned it would fail.
    labels_a, labels_b = _labels_from_table(table)
    assert statistics.cohen_kappa(labels_a, labels_b) == pytest.approx(kappa, abs=1e-12)
    assert statistics.cohen_kappa(labels_b, labels_a) == pytest.approx(kappa, abs=1e-12)  # symmetric
    assert not math.isclose(kappa, raw_agreement)


def test_compare_paired_records_kappa_not_agreement():
    # The 2x2 table above as two models' canonical outputs, scored against gold "yes": the
    # comparison written into summary.json must carry kappa 0.4 beside agreement 0.7.
    labels_a, labels_b = _labels_from_table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    scores_a = [float(label == "yes") for label in labels_a]
    scores_b = [float(label == "yes") for label in labels_b]
    comparison = statistics.compare_paired("a", "b", scores_a, scores_b, canonical_a=labels_a, canonical_b=labels_b)
    assert comparison.agreement == pytest.approx(0.7)
    assert comparison.kappa == pytest.approx(0.4)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000))
def test_mcnemar_equals_scipys_binomial_tail(a_only, b_only):
    # Computed in exact integers (scipy's import would cost every cached re-run most of a second).
    from scipy import stats

    n = a_only + b_only
    expected = 1.0 if n == 0 else min(1.0, 2.0 * float(stats.binom.cdf(min(a_only, b_only), n, 0.5)))
    # Below ~1e-280 scipy's float cdf loses its digits and underflows to 0 (10 vs 1,065
    # discordant pairs: exact 2.7e-300, scipy 0.0); the exact integer result is the truth there.
    assert statistics.mcnemar_exact(a_only, b_only) == pytest.approx(expected, rel=1e-9, abs=1e-280)


def test_normal_quantile_equals_scipys():
    from scipy import stats

    for confidence in (0.8, 0.9, 0.95, 0.99):
        for sided in (1, 2):
            expected = float(stats.norm.ppf(1 - (1 - confidence) / sided))
            assert statistics._z(confidence, sided=sided) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=400),
       st.sampled_from([0.01, 0.03, 0.05, 0.1]))
def test_item_level_decision_is_the_count_level_decision_the_conformance_suite_measures(pairs, margin):
    """The exact type I error of docs/statistics.md is computed on counts; summary.json decides
    from item scores. Both must be the same function of the counts."""
    from distilleval.results import paired_proportions

    teacher, student = [p[0] for p in pairs], [p[1] for p in pairs]
    result = statistics.compare_paired("t", "s", teacher, student, margin=margin, alpha=0.05)
    a_only = sum(1 for x, y in pairs if x == 1 and y == 0)
    b_only = sum(1 for x, y in pairs if x == 0 and y == 1)
    expected = paired_proportions.decide_non_inferiority(a_only, b_only, len(pairs), margin, 0.05)
    assert result.non_inferiority.decision == expected
    low, high = paired_proportions.score_bounds(a_only, b_only, len(pairs), 0.025)
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), abs=1e-12)
