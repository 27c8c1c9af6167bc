"""Tests for distilleval.results.statistics against published values and by properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.results import intervals, paired_proportions, statistics


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


# -- pinned by mutation testing (docs/mutation.md): each check below failed to notice a mutant --------------------
def _continuous(n=30, shift=0.02, seed=3):
    """Scores in [0, 1] with every item's difference distinct: the bootstrap-t applies (n >= MIN_ITEMS)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.2, 0.8, n)
    return a, np.clip(a + shift + rng.normal(0, 0.1, n), 0, 1)


def _bootstrap_t(a, b, *, confidence=0.95, alpha=0.05, n_resamples=2000, seed=0, rows=None):
    ra, rb = rows if rows is not None else (np.column_stack([a, np.ones(len(a))]), np.column_stack([b, np.ones(len(b))]))
    _, [(low, high), (lower, upper)] = intervals.bootstrap_t_paired(
        ra, rb, confidences=(confidence, 1 - 2 * alpha), n_resamples=n_resamples, seed=seed)
    return low, high, lower, upper


def test_continuous_scores_get_the_bootstrap_t_of_the_paired_differences_from_thirty_items():
    a, b = _continuous()  # exactly MIN_ITEMS items
    result = statistics.paired_difference(a, b)
    low, high, lower, upper = _bootstrap_t(a, b)
    assert result.estimate == pytest.approx(b.mean() - a.mean())
    assert (result.low, result.high, result.lower, result.upper) == (low, high, lower, upper)
    assert low < lower < result.estimate < upper < high
    assert result.method == "studentized bootstrap (bootstrap-t), 2,000 resamples of the difference (paired items)"
    assert result.decision is None and result.p_value is None
    # Every argument reaches the bootstrap.
    other = statistics.paired_difference(a, b, confidence=0.9, alpha=0.1, n_resamples=500, seed=5)
    assert (other.low, other.high, other.lower, other.upper) == _bootstrap_t(a, b, confidence=0.9, alpha=0.1,
                                                                            n_resamples=500, seed=5)


def test_bootstrap_t_decisions_follow_the_bounds_for_each_margin():
    a, b = _continuous(n=40, shift=-0.1)
    _, _, lower, upper = _bootstrap_t(a, b)
    assert lower < upper < 0
    decide = lambda margin: statistics.paired_difference(a, b, margin=margin).decision  # noqa: E731
    assert decide(-lower + 1e-6) == "non-inferior"
    assert decide(-upper - 1e-6) == "inferior"
    assert decide(-(lower + upper) / 2) == "inconclusive"


def test_decision_boundaries_are_strict():
    assert statistics._decision(0.0, 0.1, 0.05) == "non-inferior"
    assert statistics._decision(-0.05, 0.1, 0.05) == "inconclusive"  # lower == -margin is not above it
    assert statistics._decision(-0.3, -0.05, 0.05) == "inconclusive"  # upper == -margin is not below it
    assert statistics._decision(-0.3, 0.0, 0.05) == "inconclusive"
    assert statistics._decision(-0.3, -0.06, 0.05) == "inferior"
    assert statistics._decision(-0.3, -0.06, None) is None


def test_micro_rows_give_the_ratio_difference_without_items_undefined_on_both_sides():
    # a: (2 + 0 + 1) / (2 + 2 + 1) ; b: (2 + 2 + 0) / (2 + 2 + 0); the last item has no denominator on
    # either side and is dropped; the third has one only on a's side and is kept.
    rows_a = [(2, 2), (0, 2), (1, 1), (0, 0)]
    rows_b = [(2, 2), (2, 2), (0, 0), (0, 0)]
    result = statistics.paired_difference([1, 0, 1, 1], [1, 1, 0, 1], rows_a=rows_a, rows_b=rows_b)
    assert result.estimate == pytest.approx(1.0 - 3 / 5)
    assert "fractional discordant counts" in result.method
    # A side with no denominator at all counts as a ratio of 1; a denominator of exactly 1 is a real one.
    empty = statistics.paired_difference([0, 1], [1, 0], rows_a=[(0, 0), (0, 0)], rows_b=[(1, 1), (0, 1)])
    assert empty.estimate == pytest.approx(0.5 - 1.0)
    single = statistics.paired_difference([0, 1], [1, 0], rows_a=[(0, 1), (0, 0)], rows_b=[(1, 1), (0, 0)])
    assert single.estimate == pytest.approx(1.0)
    # The same for b.
    empty_b = statistics.paired_difference([1, 0], [0, 1], rows_a=[(1, 1), (0, 1)], rows_b=[(0, 0), (0, 0)])
    assert empty_b.estimate == pytest.approx(1.0 - 0.5)
    single_b = statistics.paired_difference([1, 0], [0, 1], rows_a=[(1, 1), (0, 0)], rows_b=[(0, 1), (0, 0)])
    assert single_b.estimate == pytest.approx(-1.0)
    # Rows for one model only are not a micro average: the mean of the scores is used.
    one_sided = statistics.paired_difference([0.0, 1.0], [1.0, 1.0], rows_a=rows_a[:2])
    assert one_sided.estimate == pytest.approx(0.5)


def test_micro_rows_over_thirty_items_get_the_bootstrap_t_of_items_resampled_whole():
    rng = np.random.default_rng(8)
    denominators = rng.integers(1, 5, size=(40, 2)).astype(float)
    rows_a = np.column_stack([np.floor(denominators[:, 0] * rng.uniform(0.3, 1, 40)), denominators[:, 0]])
    rows_b = np.column_stack([np.floor(denominators[:, 1] * rng.uniform(0.3, 1, 40)), denominators[:, 1]])
    scores_a, scores_b = rows_a[:, 0] / rows_a[:, 1], rows_b[:, 0] / rows_b[:, 1]
    # Binary per-item scores beside micro rows still get the micro method, not the 0/1 test.
    # Five more items without a denominator on either side are dropped before resampling.
    undefined = np.zeros((5, 2))
    result = statistics.paired_difference(np.r_[scores_a, np.ones(5)], np.r_[scores_b, np.ones(5)], margin=0.1,
                                          rows_a=np.r_[rows_a, undefined], rows_b=np.r_[rows_b, undefined])
    low, high, lower, upper = _bootstrap_t(None, None, rows=(rows_a, rows_b))
    assert (result.low, result.high, result.lower, result.upper) == (low, high, lower, upper)
    assert result.method.endswith("of the difference (items resampled whole)")
    binary = statistics.paired_difference(np.ones(40), np.ones(40), rows_a=rows_a, rows_b=rows_b)
    assert "inverts the test" not in binary.method


def test_fractional_count_method_says_why_and_errors_say_what():
    result = statistics.paired_difference([1.0, 0.5, 0.5], [0.5, 0.5, 1.0])
    assert result.method == (f"{paired_proportions.SCORE_METHOD} on fractional discordant counts (count-based: 3 items,"
                             " 2 not tied; too few distinct differences for a bootstrap)")
    binary = statistics.paired_difference([1, 0, 1], [1, 1, 0])
    assert binary.decision is None and binary.method == f"{paired_proportions.SCORE_METHOD} (interval inverts the test)"
    assert statistics.paired_difference([1, 0, 1], [1, 1, 0], margin=0.1) == statistics.paired_difference(
        [1, 0, 1], [1, 1, 0], margin=0.1, alpha=0.05)
    with pytest.raises(ValueError, match=r"^paired values need the same items: 2 vs 1$"):
        statistics.paired_difference([1, 0], [1])
    with pytest.raises(ValueError, match=r"^no paired items$"):
        statistics.paired_difference([], [])
    with pytest.raises(ValueError, match=r"^paired comparison needs the same items: 2 vs 1$"):
        statistics.compare_paired("a", "b", [1, 0], [1])
    with pytest.raises(ValueError, match=r"^agreement needs the same items for both models$"):
        statistics.agreement(["x"], [])
    with pytest.raises(ValueError, match=r"^kappa needs the same items for both models$"):
        statistics.cohen_kappa(["x"], [])


def test_kappa_of_no_items_and_of_one_item():
    assert statistics.cohen_kappa([], []) is None
    assert statistics.cohen_kappa(["x"], ["y"]) == 0.0  # chance agreement 0, observed 0


def test_compare_paired_passes_every_option_to_the_bootstrap_t():
    a, b = _continuous(n=40)
    keep = [None] + list(a), [0.5] + list(b)  # the first item is excluded
    comparison = statistics.compare_paired("t", "s", *keep, margin=0.05, alpha=0.1, confidence=0.9,
                                           n_resamples=500, seed=5, metric="mean score")
    low, high, lower, upper = _bootstrap_t(a, b, confidence=0.9, alpha=0.1, n_resamples=500, seed=5)
    assert (comparison.ci_low, comparison.ci_high) == (low, high)
    assert (comparison.non_inferiority.lower_bound, comparison.non_inferiority.upper_bound) == (lower, upper)
    assert comparison.metric == "mean score" and comparison.n_paired == 40
    # Defaults: 2,000 resamples, seed 0; no McNemar for scores that are not 0/1 on both sides.
    default = statistics.compare_paired("t", "s", list(a), list(b))
    assert (default.ci_low, default.ci_high) == _bootstrap_t(a, b)[:2]
    assert default.mcnemar_p is None and default.discordant == {}
    half_binary = statistics.compare_paired("t", "s", [1, 0] * 20, list(b))
    assert half_binary.mcnemar_p is None and half_binary.discordant == {}


def test_compare_paired_without_paired_items_or_with_one_sided_inputs():
    empty = statistics.compare_paired("t", "s", [None, 1], [1, None])
    assert empty.n_paired == 0 and empty.ci_method == "none (no paired items)" and empty.difference is None
    one_sided = statistics.compare_paired("t", "s", [1, 0], [1, 1], canonical_a=["x", "y"], metric_rows_a=[(1, 1), (0, 1)])
    assert one_sided.agreement is None and one_sided.kappa is None
    assert one_sided.difference == pytest.approx(0.5)


def test_compare_paired_micro_rows_follow_the_kept_items():
    rows_a = [(2, 2), (0, 2), (9, 9), (1, 1)]
    rows_b = [(2, 2), (2, 2), (0, 9), (0, 1)]
    comparison = statistics.compare_paired("t", "s", [1, 0, None, 1], [1, 1, 0, 0], metric_rows_a=rows_a,
                                           metric_rows_b=rows_b, statistic=statistics.ratio_statistic)
    # The third item is excluded (no score for a): a = 3 / 5, b = 4 / 5.
    assert comparison.difference == pytest.approx(0.2)


def _medians(a_rows, b_rows, keep, **options):
    reference = statistics.paired_bootstrap_ci(np.asarray(a_rows, dtype=float)[keep], np.asarray(b_rows, dtype=float)[keep],
                                               statistic=median_per_resample, **options)
    return reference


def test_a_python_metric_is_bootstrapped_on_its_metric_rows_with_every_option():
    rng = np.random.default_rng(2)
    rows_a, rows_b = rng.uniform(0, 1, 41), rng.uniform(0.1, 1, 41)
    scores = [None] + [1.0] * 40  # scores only decide which items are kept
    keep = list(range(1, 41))
    comparison = statistics.compare_paired("t", "s", scores, scores, metric_rows_a=rows_a, metric_rows_b=rows_b,
                                           statistic=median_per_resample, margin=0.2, alpha=0.1, confidence=0.9,
                                           n_resamples=300, seed=4)
    two_sided = _medians(rows_a, rows_b, keep, n_resamples=300, confidence=0.9, seed=4)
    bounds = _medians(rows_a, rows_b, keep, n_resamples=300, confidence=0.8, seed=4)
    assert comparison.difference == pytest.approx(np.median(rows_b[1:]) - np.median(rows_a[1:]))
    assert (comparison.ci_low, comparison.ci_high, comparison.ci_method) == (two_sided.low, two_sided.high, two_sided.method)
    assert comparison.ci_method == "percentile bootstrap, 300 resamples"
    assert (comparison.non_inferiority.lower_bound, comparison.non_inferiority.upper_bound) == (bounds.low, bounds.high)
    assert math.isfinite(bounds.low) and bounds.low < bounds.high


def test_bootstrap_results_in_every_degenerate_case():
    BootstrapResult = statistics.BootstrapResult
    assert statistics.bootstrap_ci([]) == BootstrapResult(None, None, None, "none (no items)")
    assert statistics.bootstrap_ci([0.7]) == BootstrapResult(0.7, 0.7, 0.7, "bootstrap (degenerate: one item)")
    assert statistics.paired_bootstrap_ci([], []) == BootstrapResult(None, None, None, "none (no paired items)")
    assert statistics.paired_bootstrap_ci([0.2], [0.7]).method == "bootstrap (degenerate: one item)"
    assert statistics.paired_bootstrap_ci([1, 1], [1, 1]).method == "bootstrap (degenerate: every resample equal)"
    undefined = np.array([[0.0, 0.0], [0.0, 0.0]])
    defined = np.array([[1.0, 2.0], [1.0, 1.0]])
    for a, b in ((undefined, defined), (defined, undefined)):
        assert statistics.paired_bootstrap_ci(a, b, statistic=statistics.ratio_statistic) == BootstrapResult(
            None, None, None, "none (metric undefined on these items)")
    assert statistics.bootstrap_ci(undefined, statistic=statistics.ratio_statistic).estimate is None


def test_bootstrap_defaults_and_the_interval_it_reports():
    values = np.random.default_rng(4).uniform(0, 1, 50)
    result = statistics.bootstrap_ci(values)
    assert result == statistics.bootstrap_ci(values, n_resamples=2000, seed=0)
    assert result.method == "percentile bootstrap, 2000 resamples"
    assert statistics.bootstrap_ci(values, seed=3) == statistics.bootstrap_ci(values, seed=3)
    (replicates,) = statistics._replicates(statistics.mean_statistic, [values], 2000, 0)
    assert (result.low, result.high) == (np.quantile(replicates, 0.025), np.quantile(replicates, 0.975))
    other = values[::-1].copy()
    paired = statistics.paired_bootstrap_ci(values, other)
    assert paired == statistics.paired_bootstrap_ci(values, other, n_resamples=2000, seed=0)
    assert paired.method == "percentile bootstrap, 2000 resamples"
    one_sided = statistics.paired_bootstrap_ci(values, other, sided=1, confidence=0.9)
    reps_a, reps_b = statistics._replicates(statistics.mean_statistic, [values, other], 2000, 0)
    assert (one_sided.low, one_sided.high) == (np.quantile(reps_b - reps_a, 0.1), math.inf)


def test_percentile_interval_needs_half_the_resamples_defined_and_at_least_ten():
    def interval(defined, n_resamples):
        replicates = np.array([i / 10 for i in range(defined)] + [math.nan] * (n_resamples - defined))
        return statistics._percentile_interval(replicates, 0.5, 0.95, n_resamples).method

    too_few = "bootstrap (too few defined resamples)"
    assert interval(10, 21) == "percentile bootstrap, 21 resamples"  # 10 >= max(10, 21 // 2)
    assert interval(9, 18) == too_few
    assert interval(15, 40) == too_few  # under half
    assert statistics._percentile_interval(np.array([math.nan] * 20), 0.5, 0.95, 20) == statistics.BootstrapResult(
        0.5, None, None, too_few)


def test_replicates_are_exactly_the_number_asked_for_across_chunks():
    values = np.zeros(100_000)  # 40 resamples per chunk
    (replicates,) = statistics._replicates(statistics.mean_statistic, [values], 100, 0)
    assert replicates.shape == (100,)


def test_ratio_statistic_is_undefined_only_without_a_denominator():
    values = np.array([[1.0, 1.0], [0.0, 0.0], [3.0, 4.0]])
    result = statistics.ratio_statistic(values, np.array([[0], [1], [2]]))
    assert result[0] == 1.0 and math.isnan(result[1]) and result[2] == 0.75
