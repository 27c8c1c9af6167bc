"""Gate checks: each threshold passes and fails where it should; a baseline of another spec is refused."""

from __future__ import annotations

import pytest

from distilleval.errors import DataError
from distilleval.gate.checks import run_checks
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


def test_non_inferiority_fails_for_a_clearly_worse_student():
    summary = load_fixture()
    set_scores(summary, "teacher", set())
    set_scores(summary, "student", {item.id for item in summary.items[:30]})  # -10 pts
    check = _by_name(run_checks(summary, GatesSpec(non_inferiority_margin=0.03)))["non_inferiority"]
    assert check.status == "fail"
    assert "paired Wald" in check.message  # the same one-sided bound summary.json records


def test_baseline_of_another_spec_is_refused():
    baseline = load_fixture()
    baseline.spec_name = "invoice_extraction"
    with pytest.raises(DataError, match="baseline is a run of spec 'invoice_extraction'"):
        run_checks(load_fixture(), GATES, baseline=baseline)
