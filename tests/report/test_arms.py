"""Every arm of the decision and which ones are dominated: exact truths on hand-built arms and the fixture."""

from __future__ import annotations

import pytest

from distilleval.costs import cost_model
from distilleval.report import compute_figures, load_run
from distilleval.report.arms import Arm, build_arms, dominance
from tests.ticket_routing_fixture import SUMMARY_PATH


def arm(name, accuracy, cost):
    return Arm(name, "candidate", name, accuracy, None, None, cost, "measured")


def test_dominated_means_no_better_on_either_axis_and_worse_on_one():
    arms = [arm("teacher", 0.95, 3.0), arm("mini", 0.95, 1.0), arm("student", 0.92, 0.01), arm("worse", 0.90, 0.02),
            arm("twin", 0.92, 0.01), arm("free", 0.70, 0.0), arm("unscored", None, 0.0), arm("unpriced", 0.99, None)]
    assert dominance(arms) == {
        "teacher": True,    # mini is as accurate and cheaper
        "mini": False,
        "student": False,   # its twin ties it on both axes: neither dominates the other
        "worse": True,      # the student is more accurate and cheaper
        "twin": False,
        "free": False,      # the cheapest, however inaccurate
        "unscored": None,   # unknown: not placed
        "unpriced": None,
    }


def test_the_front_is_the_undominated_arms_cheapest_first():
    figures = compute_figures(load_run(SUMMARY_PATH))
    table = build_arms(figures)
    assert [(a.name, a.kind, a.key) for a in table.arms] == [
        ("Teacher, list price", "teacher", "teacher"), ("Student: Qwen3-8B LoRA (Tinker)", "student", "student"),
        ("Baseline: TF-IDF + logistic regression", "baseline", "tfidf_logreg")]
    assert [a.name for a in table.pareto] == ["Baseline: TF-IDF + logistic regression", "Student: Qwen3-8B LoRA (Tinker)",
                                              "Teacher, list price"]
    teacher = table.arms[0]
    assert teacher.accuracy == pytest.approx(278 / 300) and teacher.cost_per_request_usd == pytest.approx(0.003305)
    assert teacher.monthly_usd == {v: pytest.approx(cost_model.monthly_cost_usd(0.003305, v, 30))
                                   for v in (1_000, 100_000, 1_000_000)}
    assert all(a.error_cost is None for a in table.arms)  # the fixture's spec prices no wrong answer
