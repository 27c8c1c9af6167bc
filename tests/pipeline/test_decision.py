"""`eval` records the whole decision in summary.json, and `report` and `cost RUN` show the same recommendation.

Real HTTP to the scripted local server: the teacher is right on all 15 tickets, the student wrong on
tickets 0 and 10, and each wrong answer costs $1 (the spec's decision block).
"""

from __future__ import annotations

import json

import pytest

from distilleval.cli.main import main
from distilleval.costs import cost_model
from distilleval.results.summary_json import read_summary
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import _student, _teacher, write_spec

DECISION = """gates:
  non_inferiority_margin: 0.05
decision:
  cost_per_error_usd: 1.0
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decision")
    with OpenAIServer({"teacher-m": ModelScript(answer=_teacher), "student-m": ModelScript(answer=_student)}) as server:
        spec = write_spec(folder / "task", server.base_url, 15, fast_path=True)
        # Both models on the fast path: no LiteLLM import, so the test spends its time on the decision.
        text = spec.read_text().replace("  price_as: anthropic/claude-opus-4-6\n", "  price_as: anthropic/claude-opus-4-6\n  fast_path: true\n")
        spec.write_text(text + DECISION)
        assert main(["eval", str(spec), "--runs-dir", str(folder / "runs"), "--cache", str(folder / "cache.sqlite")]) == 0
    [run] = list((folder / "runs").iterdir())
    return run


def test_summary_records_every_arm_and_the_lowest_total(run_dir):
    summary = read_summary(run_dir)
    decision = summary.decision
    teacher, student = summary.models["teacher"], summary.models["student"]
    arms = {a["name"]: a for a in decision["arms"]}
    assert list(arms) == ["Teacher, list price", "Student: openai/student-m"]
    month = 1_000_000 * 30
    # By hand: inference + wrong answers × $1; the teacher makes none, the student 2 of 15.
    assert arms["Teacher, list price"]["total_monthly_usd"]["1000000"][0] == pytest.approx(
        cost_model.monthly_cost_usd(teacher.cost_per_request_usd, 1_000_000, 30), rel=1e-9)
    assert arms["Student: openai/student-m"]["total_monthly_usd"]["1000000"][0] == pytest.approx(
        (student.cost_per_request_usd + 2 / 15) * month, rel=1e-9)
    assert decision["recommendation"]["arm"] == "Teacher, list price"
    assert decision["recommendation"]["basis"] == "total cost"
    assert decision["pareto"] == ["Student: openai/student-m", "Teacher, list price"]
    # The student's non-inferiority test is recorded even when errors are priced: 2 teacher-only, 0 student-only.
    assert arms["Student: openai/student-m"]["non_inferiority"]["decision"] == "inconclusive"
    [needed] = decision["evidence_needed"]
    assert needed["arm"] == "Student: openai/student-m" and needed["paired_items"] == 15


def test_report_and_cost_show_the_same_recommendation(run_dir, capsys):
    text = read_summary(run_dir).decision["recommendation"]["text"]
    assert text.startswith("Recommended: Teacher, list price — the lowest monthly total at 1,000,000/day")
    assert main(["report", str(run_dir), "--format", "md"]) == 0
    markdown = capsys.readouterr().out
    assert f"**{text}**" in markdown and markdown.index(text) < markdown.index("teacher validity")
    assert main(["report", str(run_dir), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"]["recommendation"]["text"] == text
    assert main(["cost", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert text in out and "Monthly total with wrong answers priced" in out


def _counting(monkeypatch, module, name):
    """Wrap ``module.name`` so each call is counted; returns the list of calls."""
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_decision_reads_the_data_once_and_counts_its_tokens_once(run_dir, monkeypatch):
    from distilleval.costs import estimates
    from distilleval.report.figures import compute_figures
    from distilleval.report.sources import load_run
    from distilleval.spec import data

    inputs = load_run(run_dir, require_spec=True, require_pricing=True)
    held = data.load_items(inputs.spec)
    loads = _counting(monkeypatch, data, "load_items")
    counts = _counting(monkeypatch, estimates, "count_spec_tokens")
    figures = compute_figures(inputs)
    # The one-time cost (every item) and the token estimates (the eval items) share one read and one count.
    assert len(loads) == 1 and len(counts) == 1
    assert [e.label for e in figures.token_estimates] == ["Teacher: openai/teacher-m", "Student: openai/student-m"]
    # Items the caller holds are not read again, and give the same figures.
    again = compute_figures(inputs, items=held)
    assert len(loads) == 1
    assert again.token_estimates == figures.token_estimates and again.one_time == figures.one_time


def test_token_estimates_from_the_whole_count_equal_counting_the_eval_items_alone(run_dir):
    from distilleval.report.figures import _eval_counts, _SpecData
    from distilleval.report.sources import load_run

    spec = load_run(run_dir, require_spec=True).spec
    alone = _eval_counts(_SpecData(spec), 10)
    primed = _SpecData(spec)
    primed.counts()
    from_whole = _eval_counts(primed, 10)
    assert from_whole == alone and len(alone.inputs["teacher"]) == 10


def test_a_decision_from_the_summary_and_items_in_hand_equals_one_read_from_disk(run_dir, tmp_path, monkeypatch):
    import shutil

    from distilleval.pipeline.decision import record_decision
    from distilleval.report import sources
    from distilleval.spec import data
    from distilleval.spec.resolved import RESOLVED_SPEC_FILE, load_resolved_spec

    from_disk, in_hand = tmp_path / "disk", tmp_path / "hand"
    shutil.copytree(run_dir, from_disk)
    shutil.copytree(run_dir, in_hand)
    assert record_decision(from_disk)
    summary = read_summary(in_hand).model_copy(update={"decision": None})
    items = data.load_items(load_resolved_spec(in_hand / RESOLVED_SPEC_FILE))

    def no_read(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(sources, "read_summary", no_read)
    monkeypatch.setattr(data, "load_items", no_read)
    assert record_decision(in_hand, summary=summary, items=items)
    monkeypatch.undo()
    assert read_summary(in_hand).decision == read_summary(from_disk).decision == read_summary(run_dir).decision
