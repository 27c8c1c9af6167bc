"""Judge-corrected accuracy: the estimator, its interval and the corrected non-inferiority decision.

The simulation draws, per cell, items whose right answers are known (true accuracy ``acc``), a
judge that passes a right answer with probability ``Se`` and a wrong one with ``1 − Sp``, and a
balanced alignment set of ``rows`` human-judged answers scored by the same judge. Issue 24's
rules: coverage of the 95% interval at least 94% less two Monte Carlo standard errors in every
cell; the corrected NI decision, with the student exactly at the margin, errs at most 5% plus
one point plus two MC standard errors. ``DISTILLEVAL_DENSE_STATS=1`` runs the full grid.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest

from distilleval.results import intervals
from distilleval.results.judge_correction import (
    JudgeRates,
    clopper_pearson_array,
    corrected_accuracy_interval,
    corrected_difference,
    corrected_difference_bounds,
    corrected_rate,
    expected_pass_rate,
    rogan_gladen,
)

DENSE = os.environ.get("DISTILLEVAL_DENSE_STATS") == "1"
RATES = (0.6, 0.7, 0.8, 0.9, 0.95, 0.99) if DENSE else (0.6, 0.8, 0.99)
ROWS = (30, 120, 500)
EVAL_SIZES = (100, 1000)
ACCURACIES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98) if DENSE else (0.5, 0.8, 0.98)
REPLICATES = 4000 if DENSE else 1500
NOMINAL = 0.95


def test_rogan_gladen_inverts_the_expected_pass_rate():
    for acc, se, sp in itertools.product((0.0, 0.3, 0.9, 1.0), (0.6, 0.95), (0.7, 0.99)):
        assert rogan_gladen(expected_pass_rate(acc, se, sp), se, sp) == pytest.approx(acc, abs=1e-12)


def test_rogan_gladen_is_undefined_for_a_judge_no_better_than_chance():
    assert math.isnan(rogan_gladen(0.7, 0.4, 0.6))


def test_vectorised_clopper_pearson_gives_the_scalar_numbers():
    for k, n in ((0, 10), (3, 10), (10, 10), (83, 100)):
        low, high = clopper_pearson_array(k, n, confidence=0.95)
        expected = intervals.clopper_pearson(k, n, confidence=0.95)
        assert (low, high) == pytest.approx(expected, abs=1e-9)


def test_a_perfect_judge_gives_the_raw_rate():
    result = corrected_rate(80, 100, JudgeRates(500, 500, 500, 500))
    assert result.corrected == pytest.approx(0.8)
    assert result.corrected_low <= 0.8 <= result.corrected_high


def test_an_alignment_set_that_allows_a_useless_judge_gives_the_whole_range():
    # 3 of 5 right answers passed, 2 of 5 wrong ones failed: J may well be 0 or below.
    assert corrected_accuracy_interval(60, 100, 3, 5, 2, 5) == (0.0, 1.0)


def test_the_corrected_difference_is_the_raw_one_over_youden_j():
    rates = JudgeRates(90, 100, 80, 100)  # J = 0.7
    result = corrected_difference(20, 6, 200, rates, margin=0.05)
    assert result.raw == pytest.approx(-0.07)
    assert result.corrected == pytest.approx(-0.1)
    assert result.ci_low <= result.corrected <= result.ci_high
    assert result.non_inferior is False


def _alignment(rng, se, sp, rows, size):
    positives = rows // 2
    negatives = rows - positives
    return rng.binomial(positives, se, size), positives, rng.binomial(negatives, sp, size), negatives


def _coverage_cell(rng, se, sp, rows, n, acc):
    correct = rng.binomial(n, acc, REPLICATES)
    passes = rng.binomial(correct, se) + rng.binomial(n - correct, 1 - sp)
    true_pass, positives, true_fail, negatives = _alignment(rng, se, sp, rows, REPLICATES)
    low, high = corrected_accuracy_interval(passes, n, true_pass, positives, true_fail, negatives)
    coverage = float(np.mean((low <= acc) & (acc <= high)))
    raw_mean = float(np.mean(passes / n))
    return coverage, raw_mean


def test_corrected_interval_covers_and_raw_rate_is_the_mixture_in_every_cell():
    rng = np.random.default_rng(28)
    worst = (2.0, None)
    for se, sp, rows, n, acc in itertools.product(RATES, RATES, ROWS, EVAL_SIZES, ACCURACIES):
        coverage, raw_mean = _coverage_cell(rng, se, sp, rows, n, acc)
        mc_se = math.sqrt(NOMINAL * (1 - NOMINAL) / REPLICATES)
        assert coverage >= NOMINAL - 0.01 - 2 * mc_se, (se, sp, rows, n, acc, coverage)
        expected = expected_pass_rate(acc, se, sp)
        raw_se = math.sqrt(expected * (1 - expected) / n / REPLICATES)
        assert abs(raw_mean - expected) <= 4 * raw_se + 1e-12, (se, sp, rows, n, acc, raw_mean, expected)
        worst = min(worst, (coverage, (se, sp, rows, n, acc)))
    print(f"worst corrected-accuracy coverage {worst[0]:.4f} at (Se, Sp, rows, n, acc) = {worst[1]}")


def _verdict_pairs(rng, n, teacher_acc, margin, se, sp):
    """Discordant verdict counts (a_only: only the teacher passed; b_only) with the student exactly at the margin.

    The student is right only where the teacher is (discordance = margin, the hardest case)."""
    student_acc = teacher_acc - margin
    classes = rng.multinomial(n, [student_acc, margin, 1 - teacher_acc], REPLICATES)
    a_only = np.zeros(REPLICATES, dtype=int)
    b_only = np.zeros(REPLICATES, dtype=int)
    for column, (teacher_right, student_right) in enumerate(((1, 1), (1, 0), (0, 0))):
        pt = se if teacher_right else 1 - sp
        ps = se if student_right else 1 - sp
        cells = rng.multinomial(classes[:, column], [pt * ps, pt * (1 - ps), (1 - pt) * ps, (1 - pt) * (1 - ps)])
        a_only += cells[:, 1]
        b_only += cells[:, 2]
    return a_only, b_only


NI_ACCURACIES = (0.6, 0.9, 0.98) if DENSE else (0.6, 0.98)
NI_RATES = RATES if DENSE else (0.6, 0.99)


def test_corrected_non_inferiority_errs_at_most_alpha_at_the_margin():
    rng = np.random.default_rng(2828)
    margin, alpha = 0.05, 0.05
    worst = (-1.0, None)
    for se, sp, rows, n, teacher_acc in itertools.product(NI_RATES, NI_RATES, ROWS, EVAL_SIZES, NI_ACCURACIES):
        a_only, b_only = _verdict_pairs(rng, n, teacher_acc, margin, se, sp)
        true_pass, positives, true_fail, negatives = _alignment(rng, se, sp, rows, REPLICATES)
        lower, _ = corrected_difference_bounds(a_only, b_only, n, true_pass, positives, true_fail, negatives,
                                               alpha=alpha)
        error = float(np.mean(lower > -margin))
        mc_se = math.sqrt(alpha * (1 - alpha) / REPLICATES)
        assert error <= alpha + 0.01 + 2 * mc_se, (se, sp, rows, n, teacher_acc, error)
        worst = max(worst, (error, (se, sp, rows, n, teacher_acc)))
    print(f"worst corrected NI error rate {worst[0]:.4f} at (Se, Sp, rows, n, teacher acc) = {worst[1]}")


def test_corrected_non_inferiority_can_pass_with_a_good_judge():
    # Guard against an interval so wide it never decides: equal models, a good judge, many rows.
    rates = JudgeRates(480, 500, 470, 500)
    result = corrected_difference(10, 10, 1000, rates, margin=0.05)
    assert result.non_inferior is True


def test_a_difference_judged_by_a_possibly_useless_judge_is_not_bounded():
    # Se 3/5 and Sp 2/5: J may be 0 or below, so no difference can be ruled out either way.
    assert corrected_difference_bounds(30, 2, 100, 3, 5, 2, 5, alpha=0.025) == (-1.0, 1.0)
