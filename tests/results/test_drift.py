"""The drift verdict: a model changed by the threshold or more passes with probability at most alpha,
checked exactly over every count outcome (the verdict depends only on the count of changes)."""

import math

import pytest

from distilleval.results.drift import (
    changed_share_upper_bound,
    class_changes,
    compare_answers,
    minimum_canaries,
    most_changes_that_pass,
)


def binomial_cdf(k, n, p):
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("threshold", [0.02, 0.05, 0.10])
@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_a_model_changed_by_the_threshold_or_more_passes_at_most_alpha_of_the_time(threshold, alpha):
    for n in (minimum_canaries(threshold, alpha=alpha), 100, 200, 500):
        allowed = most_changes_that_pass(n, threshold=threshold, alpha=alpha)
        if allowed is None:
            continue
        for share in (threshold, threshold + 0.01, 2 * threshold):
            assert binomial_cdf(allowed, n, share) <= alpha + 1e-12


def test_the_minimum_is_the_first_size_at_which_no_change_passes():
    floor = minimum_canaries(0.05, alpha=0.05)
    assert floor == math.floor(math.log(0.05) / math.log(0.95)) + 1 == 59
    assert most_changes_that_pass(floor - 1, threshold=0.05, alpha=0.05) is None
    assert most_changes_that_pass(floor, threshold=0.05, alpha=0.05) == 0
    # no change in n items: the one-sided bound is 1 - alpha ** (1 / n)
    assert changed_share_upper_bound(0, 200, alpha=0.05) == pytest.approx(1 - 0.05 ** (1 / 200))


def test_compare_answers_counts_changes_and_decides_by_the_bound():
    before = ["a"] * 190 + ["b"] * 10
    after = ["a"] * 190 + ["a"] * 10  # every b became a
    result = compare_answers("teacher", before, after, threshold=0.05, alpha=0.05,
                             right_before=[True] * 200, right_after=[True] * 190 + [False] * 10, by_class=True)
    assert (result.compared, result.changed, result.passed) == (200, 10, False)
    assert result.changed_interval[1] > 0.05
    assert result.correctness.right_before_only == 10 and result.correctness.right_after_only == 0
    assert result.correctness.mcnemar_p == pytest.approx(2 / 2**10)
    assert result.per_class == [{"label": "a", "items": 190, "changed": 0, "into": {}},
                                {"label": "b", "items": 10, "changed": 10, "into": {"a": 10}}]
    unchanged = compare_answers("teacher", before, before, threshold=0.05, alpha=0.05)
    assert unchanged.passed and unchanged.correctness is None


def test_too_few_items_fail_with_the_reason():
    result = compare_answers("teacher", ["a"] * 30, ["a"] * 30, threshold=0.05, alpha=0.05)
    assert not result.passed and "too few" in result.reason and "59" in result.reason


def test_class_changes_of_nothing_is_empty():
    assert class_changes([], []) == []
