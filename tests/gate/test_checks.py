"""Gate checks: each threshold passes and fails where it should; a baseline of another spec is refused."""

from __future__ import annotations

import pytest

from distilleval.errors import DataError
from distilleval.gate.checks import configured_gates, nothing_judged, run_checks
from distilleval.results.summary_json import Distribution, LatencyFigures
from distilleval.spec.task_spec import GatesSpec, load_spec
from tests.ticket_routing_fixture import FIXTURE_DIR, load_fixture, set_scores

GATES = load_spec(FIXTURE_DIR / "spec.yaml").gates


def _by_name(checks):
    return {c.name: c for c in checks}


def test_fixture_run_passes_every_configured_gate():
    checks = run_checks(load_fixture(), GATES)
    assert [c.name for c in checks] == ["student_min", "teacher_min", "non_inferiority", "max_cost_per_request",
                                        "max_p95_latency", "max_error_rate[teacher]", "max_error_rate[student]",
                                        "max_error_rate[tfidf_logreg]"]
    assert {c.status for c in checks} == {"pass"}
    assert "0.9231 >= floor 0.8800" in _by_name(checks)["student_min"].message


def test_each_threshold_fails_when_breached():
    summary = load_fixture()
    strict = GatesSpec(student_min=0.95, max_cost_per_request_usd=1e-7, max_p95_latency_ms=200, max_error_rate=0.01)
    checks = _by_name(run_checks(summary, strict))
    assert checks["student_min"].status == "fail"
    assert checks["max_cost_per_request"].status == "fail"
    assert "330 ms > 200 ms" in checks["max_p95_latency"].message
    # Above the error-rate limit, every check over the student fails for that reason (the figures
    # over the calls that succeeded are not judged), not only the error-rate check itself.
    checks = _by_name(run_checks(summary, GatesSpec(student_min=0.5, max_p95_latency_ms=2000, max_error_rate=0.001)))
    assert checks["max_error_rate[student]"].status == "fail"  # 1 timeout in 300 = 0.33%
    assert checks["max_error_rate[teacher]"].status == "pass"
    for name in ("student_min", "max_p95_latency"):
        assert checks[name].status == "fail"
        assert "student failed 1 of 300 calls (timeout 1): error rate 0.3% > limit 0.1%" in checks[name].message


def _unmeasured_latency(summary, limit_ms):
    """The latency check by default (fail) and with ``unmeasured_latency: skip``."""
    fail = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=limit_ms)))["max_p95_latency"]
    skip = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=limit_ms, unmeasured_latency="skip")))["max_p95_latency"]
    assert fail.status == "fail" and skip.status == "skip"
    assert "unmeasured_latency: skip" in fail.message and "(gates.unmeasured_latency: skip)" in skip.message
    return fail


def test_latency_gate_fails_or_skips_when_every_call_was_a_cache_hit():
    summary = load_fixture()
    summary.models["student"].latency_ms = None
    summary.models["student"].cache_hits = 300
    check = _unmeasured_latency(summary, 800)
    assert "300 answers came from the cache and 1 call failed (timeout 1) in this run" in check.message


def test_latency_gate_is_not_judged_for_a_student_answered_through_a_batch_api():
    summary = load_fixture()
    summary.models["student"].latency_ms = None
    summary.models["student"].batch_api = "anthropic"
    check = _unmeasured_latency(summary, 800)
    assert "anthropic batch API" in check.message and "--latency-probe" in check.message


def test_non_inferiority_fails_for_a_clearly_worse_student():
    summary = load_fixture()
    set_scores(summary, "teacher", set())
    set_scores(summary, "student", {item.id for item in summary.items[:30]})  # -10 pts
    check = _by_name(run_checks(summary, GatesSpec(non_inferiority_margin=0.03)))["non_inferiority"]
    assert check.status == "fail"
    assert "Tango score test" in check.message  # the same one-sided bound summary.json records


def test_baseline_of_another_spec_is_refused():
    baseline = load_fixture()
    baseline.spec_name = "invoice_extraction"
    with pytest.raises(DataError, match="baseline is a run of spec 'invoice_extraction'"):
        run_checks(load_fixture(), GATES, baseline=baseline)


def _latency(p50, p95, n=100):
    return Distribution(n=n, mean=p50, p50=p50, p95=p95, p99=p95)


def test_latency_gate_does_not_judge_client_bound_figures_and_says_how_to_get_a_judgement():
    summary = load_fixture()
    student = summary.models["student"]
    student.latency_ms = _latency(60, 118)
    # The loop lagged 40 ms at p95 while the student's calls were in flight: 40 > 5 + 10% of 60.
    student.latency = LatencyFigures(concurrency=64, loop_lag_ms=_latency(12, 40), client_bound=True,
                                     client_bound_reason="event-loop lag p95 40.0 ms > 11.0 ms")
    for limit in (100, 200):  # neither a fail (118 > 100) nor a pass (118 <= 200)
        check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=limit)))["max_p95_latency"]
        assert check.status == "skip"
        assert check.message.startswith("not judged: client-bound") and "--latency-probe" in check.message


def test_latency_gate_judges_the_unloaded_probe_when_there_is_one():
    summary = load_fixture()
    student = summary.models["student"]
    student.latency_ms = _latency(60, 118)
    student.latency = LatencyFigures(concurrency=64, client_bound=True, unloaded_ms=_latency(36, 41, n=50),
                                     unloaded_concurrency=1)
    passed = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=50)))["max_p95_latency"]
    assert passed.status == "pass" and "unloaded 41 ms <= 50 ms" in passed.message and "concurrency 1" in passed.message
    failed = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=40)))["max_p95_latency"]
    assert failed.status == "fail"


def test_latency_gate_judges_figures_under_load_that_are_not_client_bound():
    summary = load_fixture()
    student = summary.models["student"]
    student.latency_ms = _latency(60, 118)
    student.latency = LatencyFigures(concurrency=16, loop_lag_ms=_latency(1, 3), client_bound=False)
    check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=100)))["max_p95_latency"]
    assert check.status == "fail" and "under load at concurrency 16" in check.message


def test_latency_gate_shows_but_does_not_judge_the_original_calls_of_a_cached_rerun():
    summary = load_fixture()
    student = summary.models["student"]
    student.latency_ms = None
    student.latency = LatencyFigures(original_ms=_latency(35, 41))
    check = _unmeasured_latency(summary, 30)
    assert "came from the cache" in check.message and "41 ms" in check.message


def test_latency_gate_does_not_judge_a_probe_that_was_client_bound_too():
    summary = load_fixture()
    student = summary.models["student"]
    student.latency = LatencyFigures(concurrency=64, client_bound=True, unloaded_ms=_latency(36, 90, n=50),
                                     unloaded_concurrency=1, unloaded_client_bound=True,
                                     unloaded_client_bound_reason="event-loop lag p95 60.0 ms > 8.6 ms")
    check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=50)))["max_p95_latency"]
    assert check.status == "skip" and "client-bound even in the probe" in check.message


def _fail_calls(summary, model, n, kind="rate_limited"):
    """Make the first ``n`` items of ``model`` failed calls, as build_summary records them."""
    for item in summary.items[:n]:
        item.scores[model] = None
        item.outputs[model] = None
        item.errors[model] = kind
    result = summary.models[model]
    result.errors = {kind: n}
    result.error_rate = n / result.n
    summary.comparisons = []


def test_every_check_over_a_model_above_the_error_rate_limit_fails_with_the_reason():
    summary = load_fixture()
    _fail_calls(summary, "teacher", 9)  # 3% > the default 2%
    gates = GatesSpec(teacher_min=0.5, non_inferiority_margin=0.03, student_min=0.5)
    checks = _by_name(run_checks(summary, gates))
    for name in ("teacher_min", "non_inferiority"):
        assert checks[name].status == "fail", name
        assert "teacher failed 9 of 300 calls (rate_limited 9): error rate 3.0% > limit 2.0%" in checks[name].message
    assert checks["max_error_rate[teacher]"].status == "fail"
    assert checks["student_min"].status == "pass"
    assert checks["max_error_rate[teacher]"].implicit and "default limit" in checks["max_error_rate[teacher]"].message
    # At the limit, the figures over the answered items are judged, and the pairing says what it dropped.
    checks = _by_name(run_checks(summary, GatesSpec(non_inferiority_margin=0.03, max_error_rate=0.03)))
    assert checks["non_inferiority"].status == "pass"
    assert "n=290, 10 items dropped: a call failed" in checks["non_inferiority"].message  # 9 + the student's timeout


def test_paired_drop_fails_when_either_run_failed_too_often_and_pairs_only_answered_items():
    summary, baseline = load_fixture(), load_fixture()
    _fail_calls(baseline, "student", 30)
    checks = _by_name(run_checks(summary, GatesSpec(student_min=0.5), baseline=baseline))
    assert checks["paired_drop[student]"].status == "fail"
    assert "student (baseline run) failed 30 of 300 calls" in checks["paired_drop[student]"].message
    checks = _by_name(run_checks(summary, GatesSpec(student_min=0.5, max_error_rate=0.2), baseline=baseline))
    assert checks["paired_drop[student]"].status == "pass"
    assert "n=269, 31 items dropped: a call failed" in checks["paired_drop[student]"].message


def test_baseline_floors_one_for_all_or_one_per_name():
    summary = load_fixture()
    checks = _by_name(run_checks(summary, GatesSpec(baseline_min=0.8)))
    assert checks["baseline_min[tfidf_logreg]"].status == "pass" and "0.8500 >= floor 0.8000" in checks["baseline_min[tfidf_logreg]"].message
    checks = _by_name(run_checks(summary, GatesSpec(baseline_min={"tfidf_logreg": 0.9, "wordllama_logreg": 0.5})))
    assert checks["baseline_min[tfidf_logreg]"].status == "fail"
    assert checks["baseline_min[wordllama_logreg]"].status == "skip"  # not in this run
    summary.models = {k: v for k, v in summary.models.items() if v.role != "baseline"}
    assert _by_name(run_checks(summary, GatesSpec(baseline_min=0.8)))["baseline_min"].status == "skip"


def test_models_the_run_did_not_measure_are_skipped_and_nothing_judged_is_detected():
    summary = load_fixture()
    summary.models["student"].basis = "projected"
    del summary.models["teacher"]
    gates = GatesSpec(student_min=0.5, teacher_min=0.5, non_inferiority_margin=0.03, max_cost_per_request_usd=1.0,
                      max_p95_latency_ms=1000)
    checks = run_checks(summary, gates)
    assert {c.name: c.status for c in checks if not c.implicit} == {
        "student_min": "skip", "teacher_min": "skip", "non_inferiority": "skip", "max_cost_per_request": "skip",
        "max_p95_latency": "skip"}
    assert "the run did not call the student (projected figures only" in _by_name(checks)["student_min"].message
    assert "the run has no teacher" in _by_name(checks)["teacher_min"].message
    assert nothing_judged(checks)  # the baseline's implicit error-rate check does not count
    assert not nothing_judged(run_checks(summary, GatesSpec(baseline_min=0.5)))
    assert configured_gates(GatesSpec()) == [] and configured_gates(GatesSpec(max_error_rate=0.02)) == ["max_error_rate"]


# -- cascades: checked like a model; one whose guarantee was not met never passes --------------------


def _with_cascade(summary, *, threshold, test_accuracy, unavailable=None, first="student"):
    from distilleval.results.summary_json import CascadeChoice, CascadeResult

    chosen = None if unavailable else CascadeChoice(
        threshold=threshold, method="m", delta=0.1, margin=0.03, calibration_items=150, test_items=150,
        test_accuracy=test_accuracy if threshold is not None else None, deferral_rate=0.25 if threshold is not None else None,
        guarantee_met=threshold is not None, guarantee="g")
    summary.cascades = [CascadeResult(name=f"{first}→teacher", first=first, fallback="teacher", unavailable=unavailable,
                                      chosen=chosen, confidence_basis="token_logprobs:mean")]
    return summary


def test_a_cascade_passes_its_floor_only_with_its_guarantee_met():
    gates = GatesSpec(cascade_min=0.9)
    passed = _by_name(run_checks(_with_cascade(load_fixture(), threshold=0.6, test_accuracy=0.93), gates))
    assert passed["cascade_min[student→teacher]"].status == "pass"
    assert "accuracy 0.9300 >= floor 0.9000 on 150 test items" in passed["cascade_min[student→teacher]"].message
    low = _by_name(run_checks(_with_cascade(load_fixture(), threshold=0.6, test_accuracy=0.85), gates))
    assert low["cascade_min[student→teacher]"].status == "fail"
    # No threshold met the guarantee: never a pass, however accurate the fallback alone would be.
    unmet = _by_name(run_checks(_with_cascade(load_fixture(), threshold=None, test_accuracy=0.99), gates))
    assert unmet["cascade_min[student→teacher]"].status == "fail"
    assert "no threshold met the guarantee" in unmet["cascade_min[student→teacher]"].message
    no_confidence = _with_cascade(load_fixture(), threshold=None, test_accuracy=None, unavailable="student gave no confidence")
    assert _by_name(run_checks(no_confidence, gates))["cascade_min[student→teacher]"].status == "fail"


def test_a_cascade_over_a_model_that_failed_too_often_fails_and_a_run_without_cascades_judges_nothing():
    summary = load_fixture()
    _fail_calls(summary, "student", 30)
    summary = _with_cascade(summary, threshold=0.6, test_accuracy=0.95)
    check = _by_name(run_checks(summary, GatesSpec(cascade_min=0.9)))["cascade_min[student→teacher]"]
    assert check.status == "fail" and "student failed 30 of 300 calls" in check.message
    checks = run_checks(load_fixture(), GatesSpec(cascade_min=0.9))
    assert _by_name(checks)["cascade_min"].status == "skip" and nothing_judged(checks)
