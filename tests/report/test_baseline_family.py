"""The student against every local baseline, Holm-corrected: "no better than the local baseline" holds its level.

Simulation model ("all equal"): each item has a difficulty drawn from Beta(1.8, 0.45) (mean
accuracy 80%), shared by every model; the student and K baselines answer it correctly with that
probability, independently. Every baseline meets the floor. 2,000 seeded replicates a cell; the
rate at which the verdict says "no better than the local baseline" must stay at most the
family-wise alpha printed (5%) + 1 point + 2 Monte Carlo standard errors. Replicates are decided
by the report's own functions (``mcnemar_exact``, ``holm_arrays``, ``says_no_better``);
``test_the_vectorised_decisions_are_the_reports`` checks that they decide as
``compare_with_baselines`` does.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from distilleval.report.baseline_family import compare_with_baselines, says_no_better, shown_better_than_all
from distilleval.results.families import holm_arrays
from distilleval.results.statistics import mcnemar_exact
from tests.montecarlo import DENSE, REPLICATES, error_rate_bound

ALPHA = 0.05
FAMILY_SIZES = (1, 3, 5) + ((2, 4, 8) if DENSE else ())
SIZES = (100, 300, 1_000) + ((50, 3_000) if DENSE else ())

_mcnemar = np.vectorize(lru_cache(maxsize=None)(mcnemar_exact), otypes=[float])


def all_equal(rng: np.random.Generator, replicates: int, baselines: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(baseline-only right, student-only right) per (replicate, baseline), every model equally good."""
    difficulty = rng.beta(1.8, 0.45, (replicates, 1, n))
    student = rng.random((replicates, 1, n)) < difficulty
    others = rng.random((replicates, baselines, n)) < difficulty
    return (others & ~student).sum(axis=-1), (student & ~others).sum(axis=-1)


def no_better_rate(baseline_only: np.ndarray, student_only: np.ndarray) -> float:
    """Share of replicates where the verdict says the student is no better than a local baseline."""
    _, rejected, _ = holm_arrays(_mcnemar(baseline_only, student_only), ALPHA)
    return float(np.mean(says_no_better(student_only - baseline_only, rejected, np.ones_like(rejected))))


@pytest.mark.parametrize("n", SIZES)
def test_with_all_equal_no_better_is_said_at_most_at_the_family_level(n):
    rng = np.random.default_rng(2000 + n)
    baseline_only, student_only = all_equal(rng, REPLICATES, max(FAMILY_SIZES), n)
    rates = {k: no_better_rate(baseline_only[:, :k], student_only[:, :k]) for k in FAMILY_SIZES}
    assert all(rate <= error_rate_bound(ALPHA) for rate in rates.values()), (n, rates)


def test_picking_the_best_baseline_on_the_same_items_would_say_it_far_more_often():
    # The old rule: the highest-scoring of 5 baselines, then an uncorrected test against it.
    rng = np.random.default_rng(11)
    baseline_only, student_only = all_equal(rng, REPLICATES, 5, 300)
    best = np.argmax(baseline_only - student_only, axis=-1)[:, None]  # the highest-scoring baseline
    lost, won = np.take_along_axis(baseline_only, best, -1), np.take_along_axis(student_only, best, -1)
    picked = float(np.mean((_mcnemar(lost, won) <= ALPHA) & (lost > won)))
    assert picked > 1.5 * no_better_rate(baseline_only, student_only)


def test_the_vectorised_decisions_are_the_reports():
    rng = np.random.default_rng(4)
    for _ in range(20):
        n = 300
        difficulty = rng.beta(1.8, 0.45, n)
        student = (rng.random(n) < difficulty).astype(float)
        pairs, counts = {}, []
        for k in range(3):
            shift = rng.choice([0.0, 0.1])
            other = (rng.random(n) < np.clip(difficulty + shift, 0, 1)).astype(float)
            pairs[f"b{k}"] = (f"baseline {k}", list(other), list(student))
            counts.append((int(np.sum((other == 1) & (student == 0))), int(np.sum((other == 0) & (student == 1)))))
        comparisons = compare_with_baselines(pairs, alpha=ALPHA)
        baseline_only, student_only = (np.array([[c[i] for c in counts]]) for i in (0, 1))
        _, rejected, _ = holm_arrays(_mcnemar(baseline_only, student_only), ALPHA)
        everyone = np.ones_like(rejected)
        worse = [c.direction == "worse" for c in comparisons]
        assert any(worse) == bool(says_no_better(student_only - baseline_only, rejected, everyone)[0])
        better = all(c.direction == "better" for c in comparisons)
        assert better == bool(shown_better_than_all(student_only - baseline_only, rejected, everyone)[0])


def test_each_comparison_carries_its_holm_level_and_an_agreeing_interval():
    baseline = [1.0] * 80 + [0.0] * 20
    student_better = [1.0] * 80 + [1.0] * 15 + [0.0] * 5  # gains 15, p = 6e-5
    comparisons = compare_with_baselines(
        {"x": ("X", baseline, student_better), "y": ("Y", baseline, baseline)}, alpha=ALPHA)
    x, y = comparisons
    assert x.direction == "better" and y.direction == "inconclusive"
    assert x.decision.level == pytest.approx(0.025) and x.interval_confidence == pytest.approx(0.975)
    assert x.paired.ci_low > 0 and x.method == "McNemar exact, two-sided"
    # Y was never reached below its step: decided at the level where Holm stopped (alpha / 1).
    assert y.decision.level == pytest.approx(0.05)


def test_only_baselines_that_count_can_make_the_student_no_better():
    differences = np.array([[-5, 3]])
    rejected = np.array([[True, True]])
    assert says_no_better(differences, rejected, np.array([[True, True]]))[0]
    assert not says_no_better(differences, rejected, np.array([[False, True]]))[0]
    assert shown_better_than_all(differences, rejected, np.array([[False, True]]))[0]
    assert not shown_better_than_all(differences, rejected, np.array([[False, False]]))[0]


def test_partial_credit_baselines_use_the_two_sided_sign_flip_test():
    rng = np.random.default_rng(6)
    baseline = list(rng.choice([0.0, 0.5, 1.0], 200, p=[0.2, 0.2, 0.6]))
    student = [min(1.0, v + 0.5) if i % 3 == 0 else v for i, v in enumerate(baseline)]
    (better,) = compare_with_baselines({"x": ("X", baseline, student)}, alpha=ALPHA)
    assert better.method == "paired sign-flip test (9,999 flips), two-sided (twice the smaller one-sided p)" and better.direction == "better"
    (same,) = compare_with_baselines({"x": ("X", baseline, baseline)}, alpha=ALPHA)
    assert same.p_value == 1.0 and same.direction == "inconclusive"
