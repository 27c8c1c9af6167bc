"""Pairwise judging: a double that picks the first-shown answer with a known probability, on 500 items."""

from __future__ import annotations

import os

import numpy as np
import pytest

from distilleval.results.judge_pairwise import pairwise_result
from distilleval.scoring.judge import pairwise_messages, parse_preference
from distilleval.testing.judge_double import JudgeDouble
from distilleval.testing.openai_server import prompt_text

N_ITEMS = 500
DENSE = os.environ.get("DISTILLEVAL_DENSE_STATS") == "1"


def _answers(i: int) -> tuple[str, str]:
    teacher = f"right {i}" if i % 5 else f"wrong {i}"
    student = f"right {i}" if i % 3 else f"wrong {i}"
    return teacher, student


def _judgments(double: JudgeDouble):
    judged = []
    for i in range(N_ITEMS):
        teacher, student = _answers(i)
        inputs = {"text": f"question {i}"}
        pair = []
        for first, second in ((teacher, student), (student, teacher)):
            messages = pairwise_messages("Be right.", inputs, first, second, reference=None)
            pair.append(parse_preference(double(prompt_text(list(messages)))))
        judged.append(tuple(pair))
    return judged


def test_an_unbiased_judge_gives_the_true_wins_ties_and_losses():
    result = pairwise_result("teacher", "student", _judgments(JudgeDouble(truth=lambda a: a.startswith("right"))))
    student_only = sum(1 for i in range(N_ITEMS) if i % 3 and not i % 5)
    teacher_only = sum(1 for i in range(N_ITEMS) if i % 5 and not i % 3)
    assert (result.wins, result.losses, result.ties) == (student_only, teacher_only,
                                                        N_ITEMS - student_only - teacher_only)
    assert result.position_bias.value == 0.0
    assert result.net_win_rate.ci_low <= (student_only - teacher_only) / N_ITEMS <= result.net_win_rate.ci_high


@pytest.mark.parametrize("bias", [0.1, 0.25])
def test_the_true_position_bias_is_inside_the_reported_interval(bias):
    double = JudgeDouble(truth=lambda a: a.startswith("right"), first_position_bias=bias, seed=11)
    result = pairwise_result("teacher", "student", _judgments(double))
    assert result.position_bias.ci_low <= bias <= result.position_bias.ci_high
    assert result.position_bias.ci_low > 0  # a real bias is detected on 500 items


def test_position_bias_interval_covers_over_seeds():
    # The per-item bias is a known mixture; its interval must cover at 95% less 1 point and 2 MC SE.
    rng = np.random.default_rng(4)
    bias, reps, covered = 0.2, (300 if DENSE else 30), 0
    for _ in range(reps):
        judged = []
        for i in range(N_ITEMS):
            teacher, student = _answers(i)
            pair = []
            for first, second in ((teacher, student), (student, teacher)):
                if rng.random() < bias:
                    pair.append("1")
                else:
                    a, b = first.startswith("right"), second.startswith("right")
                    pair.append("tie" if a == b else ("1" if a else "2"))
            judged.append(tuple(pair))
        result = pairwise_result("teacher", "student", judged)
        covered += result.position_bias.ci_low <= bias <= result.position_bias.ci_high
    assert covered / reps >= 0.95 - 0.01 - 2 * (0.95 * 0.05 / reps) ** 0.5


def test_items_without_both_judgments_are_left_out_and_counted():
    result = pairwise_result("teacher", "student", [("1", "2"), (None, "1"), ("tie", "tie")])
    assert (result.n, result.failed_items, result.wins + result.ties + result.losses) == (2, 1, 2)
