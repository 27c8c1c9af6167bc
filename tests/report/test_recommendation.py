"""One recommendation across every arm, why each cheaper arm was rejected, and the evidence still needed.

Every case is the ticket-routing fixture (300 items; teacher 278 right, student 276 of 299, TF-IDF
baseline 255) changed by hand so the right answer is known.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from distilleval.costs import cost_model
from distilleval.report import compute_figures, load_run
from distilleval.report.recommendation import decision_block, recommend, rejection_lines
from distilleval.results.sample_size import items_for_power
from distilleval.results.summary_json import Summary
from tests.ticket_routing_fixture import FIXTURE_DIR, set_scores, write_variant

MONTH = 1_000_000 * 30  # requests a month at the fixture's largest volume


def _spec_with(tmp_path, decision: dict | None = None, gates: dict | None = None):
    folder = tmp_path / "spec"
    shutil.copytree(FIXTURE_DIR, folder, ignore=shutil.ignore_patterns("summary.json", "report.md"))
    data = yaml.safe_load((folder / "spec.yaml").read_text())
    if decision is not None:
        data["decision"] = decision
    data["gates"].update(gates or {})
    (folder / "spec.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "spec.yaml"


def _recommend(run, spec=None):
    figures = compute_figures(load_run(run, spec_path=spec))
    return recommend(figures), figures


def add_candidate(summary: Summary, key: str, wrong_ids: set[str], cost_per_request_usd: float) -> None:
    """A prompted candidate (role 'other' here; 'candidate' once the candidates helper lands) answering every item."""
    teacher = summary.models["teacher"]
    right = len(summary.items) - len(wrong_ids)
    metric = teacher.metric.model_copy(update={"value": right / len(summary.items), "ci_low": None, "ci_high": None})
    summary.models[key] = teacher.model_copy(update={
        "role": "other", "model": f"openai/{key}", "display_name": key, "metric": metric,
        "cost_per_request_usd": cost_per_request_usd, "priced_as": None, "confusion": None})
    for item in summary.items:
        item.scores[key] = 0.0 if item.id in wrong_ids else 1.0
        item.outputs[key] = item.gold if item.id not in wrong_ids else "other"


def _judgement(rec, name):
    return next(j for j in rec.judgements if j.arm.name == name)


def test_the_fixture_recommends_the_student_and_says_why_the_cheaper_baseline_was_rejected():
    rec, _ = _recommend(FIXTURE_DIR / "summary.json")
    assert [a.name for a in rec.table.arms] == ["Teacher, list price", "Student: Qwen3-8B LoRA (Tinker)",
                                                "Baseline: TF-IDF + logistic regression"]
    assert rec.arm.name == "Student: Qwen3-8B LoRA (Tinker)" and rec.basis == "non-inferiority" and rec.settled
    assert rec.text.startswith("Recommended: Student: Qwen3-8B LoRA (Tinker) — the cheapest arm shown good enough")
    assert rejection_lines(rec) == ["Baseline: TF-IDF + logistic regression ($0.0000000058/request): below the floor: "
                                    "accuracy 85.0% < 88.0% (gates.student_min)"]
    assert _judgement(rec, "Teacher, list price").status == "costlier"
    # Two arms against the teacher, decided together (Holm): the student's adjusted p is at most twice its own.
    test = _judgement(rec, "Student: Qwen3-8B LoRA (Tinker)").test
    assert (test.decision, test.a_only, test.b_only, test.n_paired) == ("non-inferior", 2, 1, 299)
    assert "Holm-corrected over 2 arms" in test.method


def test_a_cheaper_candidate_wins_when_the_student_is_inconclusive(tmp_path):
    ids = []

    def change(summary):
        ids.extend(item.id for item in summary.items)
        set_scores(summary, "teacher", set(ids[:20]))
        set_scores(summary, "student", set(ids[10:39]))          # 29 wrong: −3.0 pts, inconclusive
        add_candidate(summary, "gpt-mini", set(ids[:20]), 0.0004)  # the teacher's own mistakes, 8× cheaper

    rec, _ = _recommend(write_variant(tmp_path, change))
    assert rec.arm.name == "gpt-mini"
    student = _judgement(rec, "Student: Qwen3-8B LoRA (Tinker)")
    assert student.status == "rejected" and student.reason.startswith("non-inferiority not shown (difference -3.0 pts")
    # The evidence needed: the same search at the observed discordance (19 teacher-only, 10 student-only right,
    # over the 299 items both answered: the student's timed-out item is missing data) and the Holm level.
    assert (student.test.a_only, student.test.b_only, student.test.n_paired) == (19, 10, 299)
    expected = items_for_power(19 / 299, 10 / 299, margin=0.03, alpha=student.test.level)
    assert student.evidence == expected
    # -3.0 pts is exactly at -margin: no number of items will show it.
    assert not expected.reachable and "no number of items will show non-inferiority" in student.reason
    lines = rejection_lines(rec)
    assert len(lines) == 2 and lines[0].startswith("Student: Qwen3-8B LoRA (Tinker) ($0.0000025/request): non-inferiority not shown")


def test_an_inconclusive_arm_inside_the_margin_gets_the_items_that_would_settle_it(tmp_path):
    def change(summary):
        ids = [item.id for item in summary.items]
        set_scores(summary, "teacher", set(ids[:20]))
        set_scores(summary, "student", set(ids[5:30]))  # 25 wrong, 10 teacher-only, 5 student-only: −1.7 pts

    rec, figures = _recommend(write_variant(tmp_path, change))
    student = _judgement(rec, "Student: Qwen3-8B LoRA (Tinker)")
    assert student.test.decision == "inconclusive"
    assert student.evidence.reachable and student.evidence.items > 300
    assert f"about {student.evidence.items:,} paired eval items would show non-inferiority with 80% power" in student.reason
    block = decision_block(rec, figures)
    student_entry, baseline_entry = block["evidence_needed"]
    assert student_entry == {
        "arm": "Student: Qwen3-8B LoRA (Tinker)", "decision": "inconclusive", "paired_items": 299,
        "items_needed": student.evidence.items, "reachable": True, "power": 0.8, "method": student.evidence.method,
        "text": f"about {student.evidence.items:,} paired eval items would show non-inferiority with 80% power at the "
                "observed discordance (now 299)"}
    # The baseline is shown inferior (−7.7 pts): no number of items will show it non-inferior.
    assert (baseline_entry["decision"], baseline_entry["items_needed"], baseline_entry["reachable"]) == ("inferior", None, False)
    assert rec.arm.name == "Teacher, list price"


def test_too_many_failed_calls_rejects_an_arm_before_any_test(tmp_path):
    def change(summary):
        student = summary.models["student"]
        student.errors, student.error_rate = {"timeout": 9}, 9 / 300

    rec, _ = _recommend(write_variant(tmp_path, change))
    assert _judgement(rec, "Student: Qwen3-8B LoRA (Tinker)").reason == \
        "too many failed calls: 9 of 300 (3.0%, limit 2.0%)"
    assert rec.arm.name == "Teacher, list price"


def test_with_errors_priced_the_lowest_total_wins_and_an_overlap_is_not_settled(tmp_path):
    rec, figures = _recommend(FIXTURE_DIR / "summary.json", _spec_with(tmp_path, {"cost_per_error_usd": 1.0}))
    assert rec.basis == "total cost"
    teacher, student = _judgement(rec, "Teacher, list price").arm, _judgement(rec, "Student: Qwen3-8B LoRA (Tinker)").arm
    # By hand: inference + (1 − accuracy) × $1 per request, 30 M requests a month.
    assert teacher.total_monthly_usd(1_000_000, 30)[0] == pytest.approx((0.003305 + 22 / 300) * MONTH)
    assert student.total_monthly_usd(1_000_000, 30)[0] == pytest.approx((2.5e-6 + 23 / 299) * MONTH)
    # The teacher's errors are fewer by enough to pay its price, but the intervals overlap.
    assert rec.arm is teacher and not rec.settled
    assert "Not settled: its interval overlaps Student: Qwen3-8B LoRA (Tinker)" in rec.text
    assert _judgement(rec, "Student: Qwen3-8B LoRA (Tinker)").reason.startswith("its wrong answers cost more: total")
    # The interval is the accuracy's (Clopper-Pearson) carried through.
    metric = figures.teacher.result.metric
    low, high = teacher.total_monthly_usd(1_000_000, 30)[1:]
    assert (low, high) == (pytest.approx((0.003305 + 1 - metric.ci_high) * MONTH), pytest.approx((0.003305 + 1 - metric.ci_low) * MONTH))


def test_cheap_errors_make_the_student_the_settled_choice(tmp_path):
    rec, _ = _recommend(FIXTURE_DIR / "summary.json", _spec_with(tmp_path, {"cost_per_error_usd": 0.0001}))
    assert rec.arm.name == "Student: Qwen3-8B LoRA (Tinker)" and rec.settled
    assert "Not settled" not in rec.text


def test_a_matrix_prices_the_confusions_by_hand(tmp_path):
    matrix = {"matrix": {"abuse": {"billing": 40.0, "other": 40.0}, "billing": {"abuse": 3.0}}, "default": 0.5}
    rec, figures = _recommend(FIXTURE_DIR / "summary.json", _spec_with(tmp_path, {"cost_per_error_usd": matrix}))
    from distilleval.report.figures import _confusion

    for row in (figures.teacher, figures.student, figures.best_baseline):
        confusion = _confusion(row, figures.inputs)
        total = sum(sum(r.values()) for r in confusion.values())
        by_hand = sum(count * (0 if gold == predicted else matrix["matrix"].get(gold, {}).get(predicted, 0.5))
                      for gold, r in confusion.items() for predicted, count in r.items()) / total
        arm = next(a for a in rec.table.arms if a.key == row.key)
        assert arm.error_cost.per_request_usd == pytest.approx(by_hand)
        assert arm.error_cost.low_usd <= by_hand <= arm.error_cost.high_usd


class _WithCascades(Summary):
    cascades: list[dict] = []


def _cascade(first="student", fallback="teacher", *, threshold=0.7, guarantee_met=True, accuracy=0.925, cost=0.0012):
    return {"name": f"{first}→{fallback}", "first": first, "fallback": fallback, "confidence_basis": "token_logprobs:mean",
            "curve": [], "chosen": {"threshold": threshold, "method": "Learn-then-Test", "delta": 0.1, "margin": 0.03,
                                    "calibration_items": 150, "test_items": 150, "test_accuracy": accuracy,
                                    "test_accuracy_interval": None if accuracy is None else [accuracy - 0.04, accuracy + 0.03],
                                    "deferral_rate": 0.35,
                                    "cost_per_request_usd": cost, "guarantee_met": guarantee_met}}


def _with_cascades(tmp_path, cascades, change=None):
    inputs = load_run(write_variant(tmp_path, change))
    inputs.summary = _WithCascades.model_validate({**inputs.summary.model_dump(), "cascades": cascades})
    figures = compute_figures(inputs)
    return recommend(figures), figures


def test_cascades_are_arms_judged_by_their_guarantee(tmp_path):
    def student_unsure(summary):  # the student inconclusive, so only the cascade can undercut the teacher
        ids = [item.id for item in summary.items]
        set_scores(summary, "teacher", set(ids[:20]))
        set_scores(summary, "student", set(ids[5:30]))

    cascades = [_cascade(), _cascade("tfidf_logreg", threshold=None, accuracy=None, cost=None),
                _cascade("tfidf_logreg", "gpt-mini", cost=0.0001), _cascade(guarantee_met=False, cost=0.0009)]
    cascades[3]["name"] = "student→teacher (strict)"
    rec, figures = _with_cascades(tmp_path, cascades, student_unsure)
    names = [a.name for a in rec.table.arms if a.kind == "cascade"]
    assert names == ["student→teacher", "tfidf_logreg→teacher", "tfidf_logreg→gpt-mini", "student→teacher (strict)"]
    assert rec.arm.name == "student→teacher" and "its guarantee holds against the teacher" in rec.text
    assert _judgement(rec, "tfidf_logreg→teacher").reason.startswith("guarantee not met: no threshold")
    assert _judgement(rec, "tfidf_logreg→gpt-mini").reason == "its guarantee is against gpt-mini, not the teacher"
    assert _judgement(rec, "student→teacher (strict)").reason == "guarantee not met on the test items"
    arm = _judgement(rec, "student→teacher").arm
    assert arm.monthly_usd[1_000_000] == pytest.approx(cost_model.monthly_cost_usd(0.0012, 1_000_000, 30))
    assert (arm.accuracy, arm.ci_low, arm.ci_high) == (0.925, pytest.approx(0.885), pytest.approx(0.955))


def test_a_cascade_whose_models_were_not_called_is_not_computed_not_failed(tmp_path):
    uncalled = {"name": "student→teacher", "first": "student", "fallback": "teacher", "curve": [], "chosen": None,
                "unavailable": "student and teacher not called in this run"}
    rec, _ = _with_cascades(tmp_path, [uncalled])
    assert _judgement(rec, "student→teacher").reason == "not computed: student and teacher not called in this run"


def test_a_run_without_cascades_has_no_cascade_arm(tmp_path):
    rec, _ = _with_cascades(tmp_path, [])
    assert all(a.kind != "cascade" for a in rec.table.arms)


def test_an_unscored_teacher_leaves_no_recommendation(tmp_path):
    def unscored(summary):
        summary.models["teacher"].metric = None

    rec, _ = _recommend(write_variant(tmp_path, unscored))
    assert rec.arm is None and rec.text == ("No recommendation: the teacher was not scored against gold in this run, so "
                                            "no arm can be shown non-inferior to it.")
