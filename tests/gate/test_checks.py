"""Gate checks: each threshold passes and fails where it should; a baseline of another spec is refused."""

from __future__ import annotations

import pytest

from distilleval.errors import DataError
from distilleval.gate.checks import run_checks
from distilleval.results.summary_json import Distribution, LatencyFigures
from distilleval.spec.task_spec import GatesSpec, load_spec
from tests.ticket_routing_fixture import FIXTURE_DIR, load_fixture, set_scores

GATES = load_spec(FIXTURE_DIR / "spec.yaml").gates


def _by_name(checks):
    return {c.name: c for c in checks}


def test_fixture_run_passes_every_configured_gate():
    checks = run_checks(load_fixture(), GATES)
    assert [c.name for c in checks] == ["student_min", "teacher_min", "non_inferiority", "max_cost_per_request",
                                        "max_p95_latency", "max_error_rate[teacher]", "max_error_rate[student]"]
    assert {c.status for c in checks} == {"pass"}
    assert "0.9200 >= floor 0.8800" in _by_name(checks)["student_min"].message


def test_each_threshold_fails_when_breached():
    summary = load_fixture()
    strict = GatesSpec(student_min=0.95, max_cost_per_request_usd=1e-7, max_p95_latency_ms=200, max_error_rate=0.001)
    checks = _by_name(run_checks(summary, strict))
    assert checks["student_min"].status == "fail"
    assert checks["max_cost_per_request"].status == "fail"
    assert "330 ms > 200 ms" in checks["max_p95_latency"].message
    assert checks["max_error_rate[student]"].status == "fail"  # 1 timeout in 300 = 0.33%
    assert checks["max_error_rate[teacher]"].status == "pass"


def test_latency_gate_is_skipped_when_every_call_was_a_cache_hit():
    summary = load_fixture()
    summary.models["student"].latency_ms = None
    check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=800)))["max_p95_latency"]
    assert check.status == "skip"


def test_latency_gate_is_not_judged_for_a_student_answered_through_a_batch_api():
    summary = load_fixture()
    summary.models["student"].latency_ms = None
    summary.models["student"].batch_api = "anthropic"
    check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=800)))["max_p95_latency"]
    assert check.status == "skip" and "anthropic batch API" in check.message and "--latency-probe" in check.message


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
    check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=30)))["max_p95_latency"]
    assert check.status == "skip" and "came from the cache" in check.message and "41 ms" in check.message


def test_latency_gate_does_not_judge_a_probe_that_was_client_bound_too():
    summary = load_fixture()
    student = summary.models["student"]
    student.latency = LatencyFigures(concurrency=64, client_bound=True, unloaded_ms=_latency(36, 90, n=50),
                                     unloaded_concurrency=1, unloaded_client_bound=True,
                                     unloaded_client_bound_reason="event-loop lag p95 60.0 ms > 8.6 ms")
    check = _by_name(run_checks(summary, GatesSpec(max_p95_latency_ms=50)))["max_p95_latency"]
    assert check.status == "skip" and "client-bound even in the probe" in check.message
