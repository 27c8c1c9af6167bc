"""The judge scorer: verdict parsing, blind call keys, and a failed judge call as missing data."""

from __future__ import annotations

import pytest

from distilleval.errors import ScoringError
from distilleval.scoring.judge import JudgeScore, Verdict, answer_key, judge_messages, parse_preference, parse_verdict
from distilleval.spec.data import Item
from distilleval.spec.scorer_config import JudgeScorer


def test_the_last_verdict_line_counts():
    # A judge that quotes the format before deciding: "VERDICT: PASS or FAIL" must not be read as PASS.
    assert parse_verdict("Reply with VERDICT: PASS or VERDICT: FAIL.\nIt misses the order.\nVERDICT: FAIL") == \
        Verdict(passed=False, score=0.0)
    assert parse_verdict("verdict = **pass**") == Verdict(passed=True, score=1.0)


def test_a_graded_verdict_passes_at_the_spec_threshold():
    assert parse_verdict("SCORE: 4", scale="graded", pass_score=4) == Verdict(passed=True, score=0.75)
    assert parse_verdict("SCORE: 4", scale="graded", pass_score=5) == Verdict(passed=False, score=0.75)
    assert parse_verdict("SCORE: 9", scale="graded") is None  # outside 1-5: no verdict


def test_a_preference_is_one_two_or_tie():
    assert [parse_preference(t) for t in ("WINNER: 2", "winner: tie", "both fine")] == ["2", "tie", None]


def test_the_call_key_depends_on_the_answer_not_on_who_wrote_it():
    assert answer_key("i1", "same text") == answer_key("i1", "same text")
    assert answer_key("i1", "same text") != answer_key("i2", "same text")
    messages = judge_messages("Be right.", {"text": "q"}, "an answer", reference="ref", scale="pass_fail")
    text = " ".join(m["content"] for m in messages)
    assert "an answer" in text and "ref" in text and "teacher" not in text and "student" not in text


def test_a_missing_verdict_is_excluded_never_a_fail():
    config = JudgeScorer(model="openai/j", criteria="c.md")
    items = [Item(id="a", inputs={"text": "x"}), Item(id="b", inputs={"text": "y"}), Item(id="c", inputs={"text": "z"})]
    verdicts = {answer_key("a", "ok"): "VERDICT: PASS", answer_key("b", "meh"): None}
    scorer = JudgeScore(config, verdicts)
    scores = scorer.score_items(["ok", "meh", None], items)
    assert [s.score for s in scores] == [1.0, None, 0.0]
    assert [s.reason for s in scores] == [None, "judge_failed", "no_output"]
    metric, secondary = scorer.summarize(scores)
    assert metric.value == 0.5 and secondary["judge_unscored_rate"] == 0.5


def test_scoring_without_judge_calls_is_refused():
    with pytest.raises(ScoringError, match="judge calls"):
        JudgeScore(JudgeScorer(model="openai/j", criteria="c.md")).score_items(["x"], [Item(id="a", inputs={})])
