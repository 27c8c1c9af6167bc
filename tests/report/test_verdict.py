"""The verdict: fine-tune / don't / not enough evidence, and the reason behind each."""

from __future__ import annotations

import pytest

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


def test_an_inconclusive_test_says_how_many_items_would_settle_it(tmp_path):
    from distilleval.results.sample_size import items_for_power

    # 10 teacher-only and 5 student-only right of 299 paired items: −1.7 pts, inside the 3-pt margin.
    def inside_margin(summary):
        ids = [item.id for item in summary.items]
        set_scores(summary, "teacher", set(ids[:20]))
        set_scores(summary, "student", set(ids[5:30]))

    verdict = _verdict(write_variant(tmp_path, inside_margin))
    text = next(r.text for r in verdict.reasons if r.rule == "non-inferiority")
    needed = items_for_power(10 / 299, 5 / 299, margin=0.03, alpha=0.05).items
    assert text.endswith(f"inconclusive — about {needed:,} paired eval items would show non-inferiority with 80% power "
                         "at the observed discordance (now 299)")


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


def _baseline_variant(tmp_path, *, baseline_wrong: int, student_wrong: int | None, second_extra_wrong: int | None = None):
    """tfidf_logreg at 1 - baseline_wrong/300 (the fixture's floor is 88%); the student wrong on
    the first ``student_wrong`` of the same items (None: not scored, as offline); with
    ``second_extra_wrong``, a second baseline wrong on the student's items and that many more at the end."""
    def change(summary):
        if second_extra_wrong is not None:
            summary.models["second"] = summary.models["tfidf_logreg"].model_copy(deep=True)
            summary.models["second"].display_name = "Second baseline"
            for item in summary.items:
                item.scores["second"] = item.scores["tfidf_logreg"]
            wrong = summary.items[:student_wrong] + summary.items[-second_extra_wrong:]
            set_scores(summary, "second", {item.id for item in wrong})
        set_scores(summary, "tfidf_logreg", {item.id for item in summary.items[:baseline_wrong]})
        if student_wrong is None:
            summary.models["student"].metric = None
            for item in summary.items:
                item.scores.pop("student", None)
        else:
            set_scores(summary, "student", {item.id for item in summary.items[:student_wrong]})

    return _verdict(write_variant(tmp_path, change))


def test_a_baseline_that_meets_the_floor_leads_the_verdict(tmp_path):
    from distilleval.costs.cost_model import format_usd

    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=24)  # baseline 90% >= floor 88%
    monthly = format_usd(5.833333333333334e-09 * 1_000_000 * 30)  # the baseline's CPU cost at 1M/day
    assert verdict.lead == (f"A local baseline meets your floor at {monthly}/month at 1,000,000/day: TF-IDF + logistic "
                            "regression accuracy 90.0% ≥ 88.0%; a fine-tuned student must beat it by more than its extra cost.")
    # Student right on 6 items the baseline missed, never the reverse: McNemar p = 0.031, interval above 0.
    reason = next(r for r in verdict.reasons if r.rule == "local baselines")
    assert reason.status == "pass" and "+2.0 pts" in reason.text and "p = 0.0312" in reason.text
    assert "one baseline, so no correction needed" in reason.text and "Holm-adjusted" not in reason.text
    assert "more than TF-IDF + logistic regression at 1,000,000/day" in reason.text


def test_a_student_worse_than_the_baseline_says_dont(tmp_path):
    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=45)  # 15 lost, 0 gained
    assert _status(verdict, "local baselines") == "fail"
    assert "no better than the local baseline" in next(r.text for r in verdict.reasons if r.rule == "local baselines")
    assert verdict.decision == "don't fine-tune"


def test_a_student_identical_to_the_baseline_is_not_shown_worse(tmp_path):
    # No discordant item: no evidence of a difference either way (McNemar p = 1), not a zero-width "proof".
    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=30)
    assert _status(verdict, "local baselines") == "unknown"


def test_a_small_gain_over_the_baseline_is_inconclusive(tmp_path):
    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=27)  # 3 discordant items
    assert _status(verdict, "local baselines") == "unknown"


def test_the_student_is_compared_with_every_baseline_corrected_together(tmp_path):
    # Two baselines meeting the 88% floor: the student gains 6 items on tfidf (p = 0.031) and 12 on
    # the second (p = 0.00049). Holm rejects the second at alpha / 2, then tfidf at alpha / 1: pass.
    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=24, second_extra_wrong=12)
    reason = next(r for r in verdict.reasons if r.rule == "local baselines")
    assert "Holm over 2 baseline comparisons at family-wise alpha 0.05" in reason.text
    assert "Second baseline" in reason.text and "Holm-adjusted" in reason.text
    assert reason.status == "pass"


def test_gains_significant_alone_are_not_enough_once_corrected(tmp_path):
    # The student gains 6 items on each of two baselines (p = 0.031 each): alone each would pass,
    # but Holm's first step needs p <= 0.025, so neither is shown better.
    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=24, second_extra_wrong=6)
    assert _status(verdict, "local baselines") == "unknown"


def test_an_unscored_student_cannot_be_compared_with_the_baseline(tmp_path):
    verdict = _baseline_variant(tmp_path, baseline_wrong=30, student_wrong=None)
    assert verdict.lead is not None
    reason = next(r for r in verdict.reasons if r.rule == "local baselines")
    assert reason.status == "unknown" and "not scored" in reason.text


def test_a_baseline_below_the_floor_adds_no_lead_and_no_rule():
    verdict = _verdict(SUMMARY_PATH)  # tfidf_logreg 85% < floor 88%
    assert verdict.lead is None and "local baselines" not in [r.rule for r in verdict.reasons]


def test_break_even_says_when_it_ignores_engineering_time():
    import dataclasses

    figures = compute_figures(load_run(SUMMARY_PATH))
    assert "ignores engineering time" in _reason_text(decide(figures), "break-even")
    figures.one_time = dataclasses.replace(figures.one_time, engineering_usd=5_000.0, total_usd=figures.one_time.total_usd + 5_000)
    assert "ignores engineering time" not in _reason_text(decide(figures), "break-even")


def _reason_text(verdict, rule: str) -> str:
    return next(r.text for r in verdict.reasons if r.rule == rule)
def test_cost_reason_is_against_the_cheapest_teacher_configuration(tmp_path):
    # The teacher's provider served 90% of its input from the prompt cache: Opus then costs
    # (641 x 0.1 x $5 + 641 x 0.9 x $0.5 + 4 x $25) / 1M = $0.000709 a request, not $0.003305.
    # A student at $0.001 is cheaper than list price but dearer than the cached teacher.
    def cached_teacher(summary):
        teacher = summary.models["teacher"]
        teacher.cached_input_tokens_total = 0.9 * teacher.input_tokens.mean * teacher.input_tokens.n
        summary.models["student"].cost_per_request_usd = 0.001

    figures = compute_figures(load_run(write_variant(tmp_path, cached_teacher)))
    assert figures.cheapest_teacher.key == "prompt_cache"
    assert figures.cheapest_teacher.cost_per_request_usd == pytest.approx((641 * 0.1 * 5 + 641 * 0.9 * 0.5 + 4 * 25) / 1e6)
    verdict = decide(figures)
    cost = next(r for r in verdict.reasons if r.rule == "cost")
    assert cost.status == "fail" and "cheapest teacher configuration, prompt caching (90% of input cached" in cost.text
    assert verdict.decision == "don't fine-tune"


def test_break_even_is_against_the_cheapest_configuration(tmp_path):
    def cached_teacher(summary):
        teacher = summary.models["teacher"]
        teacher.cached_input_tokens_total = 0.9 * teacher.input_tokens.mean * teacher.input_tokens.n

    plain, cached = (compute_figures(load_run(write_variant(tmp_path, change, name=name)))
                     for name, change in (("plain", None), ("cached", cached_teacher)))
    text = {name: next(r.text for r in decide(f).reasons if r.rule == "break-even") for name, f in (("plain", plain), ("cached", cached))}
    volume = 1000
    slower = cached.option_break_even_days(cached.cheapest_teacher, volume)
    assert slower > plain.option_break_even_days(plain.cheapest_teacher, volume)
    assert text["plain"] != text["cached"]


def _failed_calls(summary, model, n, kind="rate_limited"):
    """Make the first ``n`` items of ``model`` failed calls, as build_summary records them."""
    for item in summary.items[:n]:
        item.scores[model], item.outputs[model], item.errors[model] = None, None, kind
    summary.models[model].errors = {kind: n}
    summary.models[model].error_rate = n / summary.models[model].n
    summary.comparisons = []


def test_a_student_that_failed_too_often_is_not_judged_and_the_run_is_not_trusted(tmp_path):
    # The student answered nothing right on the items it did answer: judged from failures this
    # would read "don't fine-tune ... inferior".
    def broken(summary):
        set_scores(summary, "student", {item.id for item in summary.items})
        _failed_calls(summary, "student", 290)

    verdict = _verdict(write_variant(tmp_path, broken))
    assert verdict.decision == "not enough evidence"
    assert verdict.lead.startswith("This run cannot be trusted: the student failed 290 of 300 calls (rate_limited 290), "
                                   "error rate 96.7% above the limit 2.0% (gates.max_error_rate)")
    for rule in ("non-inferiority", "student floor"):
        reason = next(r for r in verdict.reasons if r.rule == rule)
        assert reason.status == "unknown" and reason.text.startswith("not judged: the student failed 290 of 300")
    assert _status(verdict, "cost") == "unknown" and _status(verdict, "break-even") == "unknown"


def test_a_teacher_that_failed_too_often_is_no_valid_reference(tmp_path):
    verdict = _verdict(write_variant(tmp_path, lambda s: _failed_calls(s, "teacher", 9)))  # 3% > the spec's 2%
    assert verdict.decision == "not enough evidence" and verdict.lead.startswith("This run cannot be trusted: the teacher")
    assert _status(verdict, "teacher validity") == "unknown" and _status(verdict, "non-inferiority") == "unknown"


def test_a_student_that_was_not_called_gets_projected_costs_never_a_pass(tmp_path):
    def offline(summary):
        summary.models["student"].basis = "projected"
        summary.models["student"].metric = None

    verdict = _verdict(write_variant(tmp_path, offline))
    assert verdict.lead.startswith("Measured: a local baseline already reaches accuracy 85.0%")
    assert _status(verdict, "cost") == "projected" and _status(verdict, "break-even") == "projected"
    assert all(r.text.startswith("projected: ") for r in verdict.reasons if r.status == "projected")
    assert verdict.decision == "not enough evidence"
