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
    from distilleval.report import data_counts
    from distilleval.report.figures import compute_figures
    from distilleval.report.sources import load_run
    from distilleval.spec import data

    inputs = load_run(run_dir, require_spec=True, require_pricing=True)
    # A summary from before the counts were recorded: the figures read the data and count it.
    inputs.summary = inputs.summary.model_copy(update={"spec_data": None})
    held = data.load_items(inputs.spec)
    loads = _counting(monkeypatch, data, "load_items")
    counts = _counting(monkeypatch, data_counts, "count_data")
    figures = compute_figures(inputs)
    # The one-time cost (every item) and the token estimates (the eval items) share one read and one count.
    assert len(loads) == 1 and len(counts) == 1
    assert [e.label for e in figures.token_estimates] == ["Teacher: openai/teacher-m", "Student: openai/student-m"]
    # Items the caller holds are not read again, and give the same figures.
    again = compute_figures(inputs, items=held)
    assert len(loads) == 1
    assert again.token_estimates == figures.token_estimates and again.one_time == figures.one_time


def test_the_run_records_the_data_counts_and_the_report_uses_them_without_reading_the_data(run_dir, monkeypatch):
    from distilleval.files import file_sha256
    from distilleval.report import data_counts
    from distilleval.report.figures import compute_figures
    from distilleval.report.sources import load_run
    from distilleval.spec import data

    inputs = load_run(run_dir, require_spec=True, require_pricing=True)
    recorded = inputs.summary.spec_data
    assert recorded is not None and recorded.spec_sha256 == inputs.spec.source_sha256
    assert recorded.data_sha256 == file_sha256(inputs.spec.resolve(inputs.spec.data.path))
    counted = compute_figures(_without_counts(inputs))
    loads = _counting(monkeypatch, data, "load_items")
    counts = _counting(monkeypatch, data_counts, "count_data")
    stored = compute_figures(inputs)
    assert loads == [] and counts == [] and stored.data_counted is None
    assert stored.one_time == counted.one_time and stored.token_estimates == counted.token_estimates
    assert len(stored.token_estimates) == 2


def _without_counts(inputs):
    import copy

    bare = copy.copy(inputs)
    bare.summary = inputs.summary.model_copy(update={"spec_data": None})
    return bare


def test_streamed_counts_equal_counting_every_item(run_dir):
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.costs.estimates import count_spec_tokens, spec_training_rows
    from distilleval.report import data_counts
    from distilleval.report.sources import load_run
    from distilleval.spec.data import load_items, split_items

    spec = load_run(run_dir, require_spec=True).spec
    items = load_items(spec)
    whole = count_spec_tokens(spec, items, counters=spec_token_counters(spec))
    n_train, rows = spec_training_rows(spec, whole)
    eval_ids = {id(item) for item in split_items(items, "eval")[:4]}
    default = data_counts.CHUNK
    for chunk in (1, 3, default):  # the answer does not depend on how the items are chunked
        data_counts.CHUNK = chunk
        try:
            streamed = data_counts.count_data(spec, items, {"teacher": 4, "student": 100})
        finally:
            data_counts.CHUNK = default
        assert streamed.train_items == n_train and streamed.items == len(items)
        assert streamed.training_row_tokens == whole.profiles(spec)["student"].training_row_tokens
        if rows is not None and len(rows) == (spec.training.labelled_examples or n_train):
            from distilleval.costs.estimates import kept_training_tokens

            assert streamed.kept_training_tokens == kept_training_tokens(rows)
        teacher = [c for item, c in zip(items, whole.inputs["teacher"]) if id(item) in eval_ids]
        assert streamed.eval_input_tokens["teacher"].total == sum(teacher)
        assert streamed.eval_input_tokens["teacher"].items == 4
        n_eval = len(split_items(items, "eval"))
        assert streamed.eval_input_tokens["student"].items == min(100, n_eval)


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


def test_a_later_run_over_the_same_spec_and_data_reuses_the_recorded_counts(run_dir, tmp_path, monkeypatch):
    import shutil

    from distilleval.pipeline.decision import record_decision
    from distilleval.report import data_counts
    from distilleval.results.summary_json import write_summary

    runs = tmp_path / "runs"
    for name in ("first", "second", "third"):
        shutil.copytree(run_dir, runs / name)
    for name in ("second", "third"):  # runs that have just written their summary: no counts of their own yet
        bare = read_summary(runs / name).model_copy(update={"spec_data": None, "decision": None})
        write_summary(bare, runs / name / "summary.json")
    first = read_summary(runs / "first").spec_data
    assert first is not None and first.counted_with
    counts = _counting(monkeypatch, data_counts, "count_data")
    assert record_decision(runs / "second")
    assert counts == [] and read_summary(runs / "second").spec_data == first
    # Counting code that would count differently: the recorded counts no longer apply.
    monkeypatch.setattr(data_counts, "COUNTING_VERSION", data_counts.COUNTING_VERSION + 1)
    assert record_decision(runs / "third")
    recounted = read_summary(runs / "third").spec_data
    assert len(counts) == 1 and recounted is not None and recounted.counted_with != first.counted_with
    assert recounted.model_copy(update={"counted_with": ""}) == first.model_copy(update={"counted_with": ""})
