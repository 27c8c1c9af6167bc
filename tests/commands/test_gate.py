"""`distilleval gate`: exit codes, one line per check, JUnit file, GitHub step summary; and, through eval,
gate and report against the local server, issue 19's failed calls and gating without a student."""

from __future__ import annotations

import hashlib
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from distilleval.cli.main import main
from distilleval.results.summary_json import read_summary
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import _label_of, write_spec
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
    line = next(text for text in out.splitlines() if "paired_drop[student]" in text and not text.startswith("::"))
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


# --- Issue 19: a failed call is missing data; the gate refuses to judge what was not measured. ---
# These go through the CLI (eval, gate, report) against the local OpenAI-compatible server.

REPO_ROOT = Path(__file__).resolve().parents[2]


def _number(prompt):
    return int(prompt.split("#")[1].split()[0])


def _wrong_on_every_tenth(prompt):
    """Right on 90% of tickets: wrong on ticket numbers ending in 9."""
    label = _label_of(prompt)
    return ("billing" if label != "billing" else "technical") if _number(prompt) % 10 == 9 else label


def _with_gates(spec, gates):
    """A copy of ``spec`` (same name, data and models) with other gates, for ``gate --spec``."""
    copy = spec.parent / f"spec_{hashlib.sha256(gates.encode()).hexdigest()[:12]}.yaml"
    copy.write_text(spec.read_text() + f"gates: {gates}\n")
    return copy


def _eval_run(spec, tmp_path, *extra):
    out = tmp_path / "runs" / "run"
    code = main(["eval", str(spec), "--out", str(out), "--cache", str(tmp_path / "cache.sqlite"), "--no-cache",
                 "--concurrency", "8", *extra])
    return code, out


def _check_lines(out):
    return {line.split()[1]: line for line in out.splitlines() if line.startswith(("PASS", "FAIL", "SKIP"))}


def test_case_1_teacher_rate_limited_on_40_percent_is_missing_data_and_the_gate_fails(tmp_path, capsys):
    # The teacher is rate limited on tickets 0, 1, 5, 6, ... (40% of 200), with no retries; the
    # student is right on 90%. Scored as wrong answers, the teacher would be at 60% and the
    # student "non-inferior, +30 points".
    teacher = ModelScript(answer=lambda p: _label_of(p),
                          faults=lambda prompt, attempt: "rate_limit" if _number(prompt) % 5 in (0, 1) else None)
    with OpenAIServer({"teacher-m": teacher, "student-m": ModelScript(answer=_wrong_on_every_tenth)}) as server:
        spec = _with_gates(write_spec(tmp_path / "task", server.base_url, 200),
                           "{student_min: 0.8, non_inferiority_margin: 0.03}")
        code, run = _eval_run(spec, tmp_path, "--max-retries", "0")
    out = capsys.readouterr().out
    assert code == 1  # the teacher's error rate is above the default 2%; the run is still written
    assert "teacher: 80 of 200 calls failed (rate_limited 80), error rate 40.0% > limit 2.0%" in out
    summary = read_summary(run)
    teacher_result = summary.models["teacher"]
    assert teacher_result.metric.value == 1.0 and teacher_result.n_scored == 120  # over answered items only
    assert teacher_result.errors == {"rate_limited": 80} and teacher_result.error_rate == 0.4
    (vs_student,) = [c for c in summary.comparisons if c.b == "student"]
    # The student's 20 wrong tickets (numbers ending in 9) are all among the 120 both answered:
    # on those the student is 16.7 points worse, not 30 points better.
    assert (vs_student.n_paired, vs_student.dropped_failed) == (120, 80)
    assert vs_student.difference == pytest.approx(-20 / 120)

    assert main(["gate", str(run), "--spec", str(spec)]) == 1
    checks = _check_lines(capsys.readouterr().out)
    assert checks["non_inferiority"].startswith("FAIL") and "teacher failed 80 of 200 calls (rate_limited 80)" in checks["non_inferiority"]
    assert checks["max_error_rate[teacher]"].startswith("FAIL")
    assert checks["student_min"].startswith("PASS") and "0.9000 >= floor 0.8000 (over 200 answered items)" in checks["student_min"]

    assert main(["report", str(run), "--format", "md", "--out", str(tmp_path / "report.md")]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "This run cannot be trusted: the teacher failed 80 of 200 calls (rate_limited 80)" in report
    assert ": non-inferior" not in report.split("## ")[1]  # the verdict section judges nothing from failures
    assert "80 (40.0%: rate_limited 80)" in report
    assert "on the 120 items both answered; 80 dropped because a call failed" in report


def test_case_2_every_student_call_failing_is_never_a_pass(tmp_path, capsys):
    always = ModelScript(answer=lambda p: _label_of(p), faults=lambda prompt, attempt: "rate_limit")
    with OpenAIServer({"teacher-m": ModelScript(answer=lambda p: _label_of(p)), "student-m": always}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 40)
        code, run = _eval_run(spec, tmp_path, "--max-retries", "0")
    out = capsys.readouterr().out
    assert code == 1 and "student: 40 of 40 calls failed (rate_limited 40), error rate 100.0% > limit 2.0%" in out
    assert (run / "summary.json").is_file() and read_summary(run).models["student"].metric.value is None

    # No gate at all: a usage error, never "0 checks, PASS".
    assert main(["gate", str(run), "--spec", str(_with_gates(spec, "{}"))]) == 2
    assert "nothing to check" in capsys.readouterr().err
    # Only a latency gate: fails with the reason, not "skipped".
    assert main(["gate", str(run), "--spec", str(_with_gates(spec, "{max_p95_latency_ms: 1000}"))]) == 1
    checks = _check_lines(capsys.readouterr().out)
    assert checks["max_p95_latency"].startswith("FAIL") and "student failed 40 of 40 calls (rate_limited 40)" in checks["max_p95_latency"]
    # Only a teacher floor: the teacher passes, but the student's error rate fails the gate.
    assert main(["gate", str(run), "--spec", str(_with_gates(spec, "{teacher_min: 0.5}"))]) == 1
    checks = _check_lines(capsys.readouterr().out)
    assert checks["teacher_min"].startswith("PASS") and checks["max_error_rate[student]"].startswith("FAIL")

    assert main(["report", str(run), "--format", "md", "--out", str(tmp_path / "report.md")]) == 0
    verdict = (tmp_path / "report.md").read_text().split("## ")[1]
    assert verdict.startswith("Verdict: Not enough evidence")
    assert "Don't fine-tune" not in verdict and "inferior" not in verdict.replace("**non-inferiority**", "")
    assert "the student failed 40 of 40 calls (rate_limited 40)" in verdict


def _ticket_routing_copy(tmp_path, gates):
    """specs/ticket_routing with other gates, in tmp_path (the pricing table beside it, as in the repo)."""
    shutil.copytree(REPO_ROOT / "specs" / "ticket_routing", tmp_path / "specs" / "ticket_routing",
                    ignore=shutil.ignore_patterns("*.sqlite", "runs"))
    shutil.copytree(REPO_ROOT / "pricing", tmp_path / "pricing")
    spec = tmp_path / "specs" / "ticket_routing" / "spec.yaml"
    text = spec.read_text()
    start = text.index("gates:\n")
    end = text.index("training:\n")
    spec.write_text(text[:start] + f"gates: {gates}\n" + text[end:])
    return spec


def test_case_11_a_new_task_is_gated_offline_on_its_baselines(tmp_path, capsys, monkeypatch):
    for key in ("OPENAI_API_KEY", "TINKER_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    spec = _ticket_routing_copy(tmp_path, "{student_min: 0.85, baseline_min: {tfidf_logreg: 0.5, wordllama_logreg: 0.65}}")
    baselines = ["--models", "tfidf_logreg,wordllama_logreg"]
    runs = tmp_path / "runs"
    assert main(["eval", str(spec), *baselines, "--out", str(runs / "first"), "--cache", str(tmp_path / "c.sqlite")]) == 0
    assert main(["eval", str(spec), *baselines, "--out", str(runs / "second"), "--cache", str(tmp_path / "c.sqlite")]) == 0
    capsys.readouterr()
    assert main(["gate", str(runs / "second"), "--baseline", str(runs / "first")]) == 0
    checks = _check_lines(capsys.readouterr().out)
    assert checks["student_min"].startswith("SKIP") and "the run has no student" in checks["student_min"]
    assert checks["baseline_min[tfidf_logreg]"].startswith("PASS")
    assert checks["baseline_min[wordllama_logreg]"].startswith("PASS")
    assert checks["paired_drop[tfidf_logreg]"].startswith("PASS") and checks["paired_drop[wordllama_logreg]"].startswith("PASS")
    # A floor above what the baseline measures fails: the gate judges, it does not rubber-stamp.
    strict = _ticket_routing_copy(tmp_path / "strict", "{baseline_min: 0.99}")
    assert main(["gate", str(runs / "second"), "--spec", str(strict)]) == 1
    checks = _check_lines(capsys.readouterr().out)
    assert checks["baseline_min[tfidf_logreg]"].startswith("FAIL") and "< floor 0.9900" in checks["baseline_min[tfidf_logreg]"]
    # With only the student's gates, nothing the run measured is judged: a usage error, not a PASS.
    student_only = _ticket_routing_copy(tmp_path / "student_only", "{student_min: 0.85, non_inferiority_margin: 0.03}")
    capsys.readouterr()
    assert main(["gate", str(runs / "second"), "--spec", str(student_only)]) == 2
    assert "nothing judged" in capsys.readouterr().err


def test_case_11_offline_run_verdict_leads_with_the_measured_baseline_and_projects_the_rest(tmp_path, capsys):
    spec = _ticket_routing_copy(tmp_path, "{student_min: 0.85, baseline_min: 0.5}")
    assert main(["run", str(spec), "--offline", "--runs-dir", str(tmp_path / "runs")]) == 0
    [run] = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    capsys.readouterr()
    assert main(["gate", str(run)]) == 0
    checks = _check_lines(capsys.readouterr().out)
    assert checks["baseline_min[wordllama_logreg]"].startswith("PASS") and checks["student_min"].startswith("SKIP")
    verdict = (run / "report.md").read_text().split("## ")[1]
    lead = verdict.splitlines()[2]
    assert lead.startswith("**Measured: a local baseline already reaches accuracy") and "wordllama_logreg" in lead
    cost_lines = [line for line in verdict.splitlines() if "**cost**" in line or "**break-even**" in line]
    assert len(cost_lines) == 2 and all("✅" not in line and "projected" in line for line in cost_lines)
    html = (run / "report.html").read_text()
    assert '<span class="projected">≈</span> <b>cost</b>' in html and '<span class="pass">' not in html
