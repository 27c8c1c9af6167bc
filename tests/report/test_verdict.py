"""The verdict: fine-tune / don't / not enough evidence, and the reason behind each."""

from __future__ import annotations

from distilleval.report import compute_figures, load_run
from distilleval.report.verdict import decide
from tests.ticket_routing_fixture import SUMMARY_PATH, set_scores, write_variant


def _verdict(run):
    return decide(compute_figures(load_run(run)))


def _status(verdict, rule: str) -> str:
    return next(r.status for r in verdict.reasons if r.rule == rule)


def test_fixture_run_says_fine_tune_with_every_reason_passing():
    verdict = _verdict(SUMMARY_PATH)
    assert verdict.decision == "fine-tune"
    assert [r.rule for r in verdict.reasons] == ["teacher validity", "non-inferiority", "student floor", "cost", "break-even"]
    assert all(r.status == "pass" for r in verdict.reasons)


def test_clearly_worse_student_says_dont(tmp_path):
    # Teacher right on all 300 items, student wrong on 60 (-20 pts): even the upper bound is below -3 pts.
    def worse(summary):
        set_scores(summary, "teacher", set())
        set_scores(summary, "student", {item.id for item in summary.items[:60]})

    verdict = _verdict(write_variant(tmp_path, worse))
    assert verdict.decision == "don't fine-tune"
    assert _status(verdict, "non-inferiority") == "fail"


def test_small_inconclusive_gap_says_not_enough_evidence(tmp_path):
    # -3 pts on 300 items: the interval straddles the margin, so more items are needed.
    def slightly_worse(summary):
        set_scores(summary, "teacher", {item.id for item in summary.items[:15]})
        set_scores(summary, "student", {item.id for item in summary.items[:24]})

    verdict = _verdict(write_variant(tmp_path, slightly_worse))
    assert _status(verdict, "non-inferiority") == "unknown"
    assert verdict.decision == "not enough evidence"


def test_teacher_below_its_floor_is_not_a_valid_reference(tmp_path):
    def weak_teacher(summary):
        wrong = {item.id for item in summary.items[:60]}  # teacher 80% < floor 90%
        set_scores(summary, "teacher", wrong)
        set_scores(summary, "student", wrong)

    verdict = _verdict(write_variant(tmp_path, weak_teacher))
    assert _status(verdict, "teacher validity") == "unknown"
    assert "below the floor" in verdict.reasons[0].text
    assert verdict.decision in ("not enough evidence", "don't fine-tune")


def test_student_that_costs_more_says_dont(tmp_path):
    def expensive(summary):
        summary.models["student"].cost_per_request_usd = 0.01

    verdict = _verdict(write_variant(tmp_path, expensive))
    assert verdict.decision == "don't fine-tune"
    assert _status(verdict, "cost") == "fail"
