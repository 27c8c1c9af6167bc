"""`distilleval gate`: exit codes, one line per check, JUnit file, GitHub step summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from distilleval.cli.main import main
from tests.ticket_routing_fixture import SUMMARY_PATH, set_scores, write_variant


def test_passing_run_exits_0_with_one_line_per_check(capsys, tmp_path):
    junit = tmp_path / "out" / "gate.xml"
    assert main(["gate", str(SUMMARY_PATH), "--junit", str(junit)]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = [line for line in lines if line.startswith(("PASS", "FAIL", "SKIP"))]
    assert len(checks) == 8  # 5 gates + the error rate of each of the 3 models the run measured
    assert lines[-1].startswith("gate PASS: ticket_routing run ticket_routing-20260214T101500Z: 8 checks, 0 failed")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "8" and suite.get("failures") == "0"


def test_significant_drop_against_baseline_exits_1(capsys, tmp_path, monkeypatch):
    def drop(summary):
        wrong = {item.id for item in summary.items if item.scores["student"] == 0.0}
        right = [item.id for item in summary.items if item.id not in wrong]
        set_scores(summary, "student", wrong | set(right[100:130]))  # 30 more wrong

    run = write_variant(tmp_path, drop, name="pr")
    step_summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    junit = tmp_path / "gate.xml"
    assert main(["gate", str(run), "--baseline", str(SUMMARY_PATH), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "paired_drop[student]" in l and not l.startswith("::"))
    assert line.startswith("FAIL") and "30 lost / 0 gained" in line and "significant drop" in line
    assert "PASS  paired_drop[teacher]" in out
    assert "::error ::distilleval gate paired_drop[student]:" in out
    assert "### distilleval gate: FAIL" in step_summary.read_text()
    suite = ET.parse(junit).getroot().find("testsuite")
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert suite.get("tests") == "11" and "paired_drop[student]" in failed


@pytest.mark.parametrize("name, content, message", [
    ("missing", None, "summary not found"),
    ("corrupt", '{"spec_name": "ticket_routing", ', "not valid JSON"),
    ("not_a_summary", '{"hello": 1}', "not a distilleval summary.json"),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, name, content, message):
    path = tmp_path / f"{name}.json"
    if content is not None:
        path.write_text(content)
    assert main(["gate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(path) in err


def test_baseline_from_another_spec_exits_2(capsys, tmp_path):
    def other(summary):
        summary.spec_name = "sql_generation"

    baseline = write_variant(tmp_path, other, name="other")
    assert main(["gate", str(SUMMARY_PATH), "--baseline", str(baseline)]) == 2
    assert "baseline is a run of spec 'sql_generation'" in capsys.readouterr().err


def test_spec_that_does_not_match_the_summary_exits_2(capsys, tmp_path):
    def renamed(summary):
        summary.spec_name = "invoice_fields"

    run = write_variant(tmp_path, renamed)
    assert main(["gate", str(run)]) == 2
    assert "summary is from spec 'invoice_fields'" in capsys.readouterr().err


def test_failed_threshold_exits_1_and_junit_is_not_half_written(capsys, tmp_path):
    def slow(summary):
        summary.models["student"].latency_ms.p95 = 1500.0

    run = write_variant(tmp_path, slow)
    junit = tmp_path / "gate.xml"
    assert main(["gate", str(run), "--junit", str(junit)]) == 1
    assert "FAIL  max_p95_latency              student p95 latency 1500 ms > 800 ms" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert ET.parse(junit).getroot().get("failures") == "1"
