"""Gate checks: thresholds, the paired baseline test (noise vs a real drop), JUnit output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from distilleval.errors import DataError
from distilleval.gate import (
    compare_paired, github_annotation, is_significant_drop, junit_xml, run_checks, step_summary_markdown, Check,
)
from distilleval.spec import GatesSpec, load_spec
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


def _noisy_pair(rng, n: int, drop: float = 0.0):
    # Item difficulty varies; each run draws each item's correctness independently (sampling noise).
    difficulty = rng.beta(0.85 * 2, 0.15 * 2, n)
    baseline = (rng.random(n) < difficulty).astype(float)
    run = (rng.random(n) < difficulty * (1 - drop / 0.85)).astype(float)
    return list(baseline), list(run)


def test_noise_alone_rarely_fails_the_paired_gate():
    # Same true accuracy (85%) in both runs: at least 95% of 200 simulated pairs must pass.
    rng = np.random.default_rng(20260201)
    failures = 0
    for _ in range(200):
        baseline, run = _noisy_pair(rng, 1_000)
        failures += is_significant_drop(compare_paired(baseline, run, alpha=0.05), alpha=0.05)
    assert failures <= 10, f"{failures}/200 noise-only pairs failed the gate"


def test_a_real_five_point_drop_fails_the_paired_gate():
    # A temperature-0 baseline at 85% on 1,000 items; the new run keeps its answers except for
    # noise (3% of items re-drawn at the same accuracy) and a real drop: 50 right answers turn
    # wrong (-5 pts). Every one of 50 such runs must fail.
    rng = np.random.default_rng(11)
    for _ in range(50):
        baseline = (rng.random(1_000) < 0.85).astype(float)
        run = baseline.copy()
        noisy = rng.choice(1_000, size=30, replace=False)
        run[noisy] = (rng.random(30) < 0.85).astype(float)
        right = np.flatnonzero(run == 1.0)
        run[rng.choice(right, size=50, replace=False)] = 0.0
        result = compare_paired(list(baseline), list(run), alpha=0.05)
        assert is_significant_drop(result, alpha=0.05), (result.losses, result.gains, result.p_value)


def test_paired_gate_power_under_full_resampling_noise():
    # Harsher: every item re-drawn in both runs (sampling noise everywhere), true 85% -> 80%.
    # McNemar's power is then about 90%; require at least 80% of 50 simulated pairs caught.
    rng = np.random.default_rng(7)
    caught = 0
    for _ in range(50):
        baseline, run = _noisy_pair(rng, 1_000, drop=0.05)
        caught += is_significant_drop(compare_paired(baseline, run, alpha=0.05), alpha=0.05)
    assert caught >= 40, f"only {caught}/50 real drops were caught"


def test_unpaired_looking_drop_that_is_paired_noise_passes():
    # 2 items lost, 0 gained: a visible 0.2-pt drop, but p = 0.5 -> not significant.
    baseline = [1.0] * 1000
    run = [0.0, 0.0] + [1.0] * 998
    result = compare_paired(baseline, run, alpha=0.05)
    assert (result.losses, result.gains) == (2, 0)
    assert result.p_value == pytest.approx(0.5)
    assert not is_significant_drop(result, alpha=0.05)


def test_non_binary_scores_use_the_paired_bootstrap():
    rng = np.random.default_rng(3)
    baseline = list(rng.uniform(0.5, 1.0, 400))
    worse = [max(0.0, v - 0.1) for v in baseline]
    result = compare_paired(baseline, worse, alpha=0.05)
    assert result.p_value is None and "bootstrap" in result.method
    assert is_significant_drop(result, alpha=0.05)
    assert not is_significant_drop(compare_paired(baseline, baseline, alpha=0.05), alpha=0.05)


def test_junit_xml_parses_with_the_right_counts():
    checks = [Check("a", "pass", "ok"), Check("b", "fail", "x < y & <z>"), Check("c", "skip", "no data")]
    root = ET.fromstring(junit_xml(checks, suite_name="ticket_routing"))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("3", "1", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["a", "b", "c"]
    assert cases[1].find("failure").get("message") == "x < y & <z>"
    assert cases[2].find("skipped") is not None and cases[0].find("failure") is None


def test_github_outputs_escape_and_tabulate():
    check = Check("max_p95_latency", "fail", "p95 900 ms > 800 ms | 100%\nsecond line")
    assert github_annotation(check) == "::error ::distilleval gate max_p95_latency: p95 900 ms > 800 ms | 100%25%0Asecond line"
    text = step_summary_markdown([check], title="ticket_routing run r1")
    assert "### distilleval gate: FAIL" in text and "\\|" in text and "\nsecond" not in text
