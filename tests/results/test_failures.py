"""Which items count as failures: against gold where there is one, else against the teacher."""

from __future__ import annotations

import pytest

from distilleval.errors import DataError
from distilleval.results.failures import checked_per_class, class_lines, default_model, find_failures
from tests.ticket_routing_fixture import load_fixture


@pytest.fixture
def summary():
    return load_fixture()


def test_against_gold_a_failure_is_a_score_below_one_or_no_answer(summary):
    failures = find_failures(summary, "student")
    expected = [item.id for item in summary.items if item.scores.get("student") != 1.0 or "student" in item.errors]
    assert [f.item.id for f in failures] == expected and len(expected) == 24
    assert all(f.expected_from == "gold" and f.expected == f.item.gold for f in failures)
    timed_out = next(f for f in failures if f.error is not None)
    assert timed_out.answer is None


def test_without_gold_the_teacher_is_the_reference(summary):
    for item in summary.items:
        item.gold = None
    label_of = {"billing": "billing", "Billing": "billing", "abuse": "abuse", "account": "account", "other": "other",
                "shipping": "shipping", "technical": "technical"}.get
    failures = find_failures(summary, "student", label_of=label_of)
    teacher_labels = {item.id: label_of(item.outputs.get("teacher") or "") for item in summary.items}
    for failure in failures:
        assert failure.expected_from == "teacher" and failure.expected == failure.item.outputs["teacher"]
        assert failure.answer is None or label_of(failure.answer) != teacher_labels[failure.item.id]
    # Items whose teacher answer names no label are skipped, not counted as the student's failures.
    checked = checked_per_class(summary, "student", label_of=label_of)
    assert sum(checked.values()) == sum(1 for label in teacher_labels.values() if label is not None)
    assert len(failures) < sum(checked.values())


def test_against_teacher_ignores_gold_and_refuses_the_teacher_itself(summary):
    plain = find_failures(summary, "student", against="teacher")
    assert plain and all(f.expected_from == "teacher" for f in plain)
    with pytest.raises(DataError, match="cannot compare the teacher with itself"):
        find_failures(summary, "teacher", against="teacher")
    with pytest.raises(DataError, match="model 'bert' is not in this run"):
        find_failures(summary, "bert")


def test_default_model_is_the_student_else_the_best_baseline(summary):
    assert default_model(summary) == ("student", None)
    for item in summary.items:
        item.outputs.pop("student", None)
        item.errors.pop("student", None)
    model, why = default_model(summary)
    assert model == "tfidf_logreg" and "best baseline" in why


def test_one_line_per_class_most_failures_first(summary):
    failures = find_failures(summary, "student")
    lines = class_lines(failures, checked_per_class(summary, "student"))
    assert lines[0] == "account: 6 failures of 54 (11%); most often answered other (2)"
    assert sum(int(line.split(": ")[1].split(" ")[0]) for line in lines) == len(failures)
