"""Tests for distilleval.scoring.spans, including presidio PII spans from shared/data."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.data import Item
from distilleval.scoring.config import SpansScorer
from distilleval.scoring.spans import Span, Spans, spans_match

GOLD = {"entities": [{"type": "PERSON", "start": 0, "end": 8}, {"type": "CITY", "start": 20, "end": 26}]}


def item(gold, i=0):
    return Item(id=str(i), inputs={"text": "x"}, gold=gold)


def run(mode, gold, pred):
    return Spans(SpansScorer(mode=mode)).score_items([json.dumps(pred)], [item(gold)])[0]


def test_modes_on_a_shifted_and_a_retyped_span():
    pred = {"entities": [{"type": "PERSON", "start": 0, "end": 7},   # boundary off by one
                         {"type": "COUNTRY", "start": 20, "end": 26}]}  # wrong type
    assert run("strict", GOLD, pred).counts == (0, 2, 2)
    assert run("exact_boundary", GOLD, pred).counts == (1, 1, 1)
    assert run("partial", GOLD, pred).counts == (2, 0, 0)
    assert run("type", GOLD, pred).counts == (1, 1, 1)


def test_non_overlapping_span_never_matches():
    assert not spans_match(Span(0, 5, "A"), Span(5, 9, "A"), "partial")  # end is exclusive
    assert spans_match(Span(0, 5, "A"), Span(4, 9, "B"), "partial")


def test_presidio_spelling_of_keys_is_accepted_and_a_bare_list_works():
    gold = [{"entity_type": "PERSON", "start_position": 0, "end_position": 8}]
    assert run("strict", gold, [{"type": "person", "start": 0, "end": 8}]).score == 1.0


def test_empty_gold_and_empty_prediction_is_perfect_and_unusable_elements_are_false_positives():
    assert run("strict", {"entities": []}, {"entities": []}).score == 1.0
    result = run("strict", {"entities": []}, {"entities": [{"type": "X"}]})
    assert result.counts == (0, 1, 0)


def test_parse_failure_and_per_type_metrics():
    s = Spans(SpansScorer())
    scores = s.score_items(["no json", json.dumps(GOLD)], [item(GOLD), item(GOLD, 1)])
    assert scores[0].reason == "parse_error" and scores[0].counts == (0, 0, 2)
    metric, secondary = s.summarize(scores)
    assert metric.value == pytest.approx(4 / (4 + 2))
    assert secondary["f1/PERSON"] == pytest.approx(2 / 3)
    assert secondary["parse_failure_rate"] == 0.5


span_lists = st.lists(
    st.builds(lambda s, length, t: {"type": t, "start": s, "end": s + length},
              st.integers(0, 50), st.integers(1, 10), st.sampled_from(["A", "B"])),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(span_lists, span_lists, st.sampled_from(["strict", "exact_boundary", "partial", "type"]))
def test_properties_in_every_mode(gold, pred, mode):
    result = run(mode, gold, pred)
    assert 0.0 <= result.score <= 1.0
    assert run(mode, gold, gold).score == 1.0
    if pred:
        tp, _, fn = result.counts
        again = run(mode, gold, pred + [pred[0]])
        assert again.counts == result.counts  # a duplicate changes nothing
        assert again.counts[0] / max(1, again.counts[0] + again.counts[2]) <= tp / max(1, tp + fn) + 1e-12


# -- real data: presidio synthetic PII --------------------------------------------------------
def _presidio(shared_data, limit=400):
    path = shared_data / "presidio_synth_pii" / "synth_dataset_v2.json"
    if not path.is_file():
        pytest.skip(f"presidio data not found at {path}")
    records = json.loads(path.read_text(encoding="utf-8"))[:limit]
    return [r for r in records if r["spans"]]


def test_presidio_gold_against_itself_scores_one_in_every_mode(shared_data):
    records = _presidio(shared_data)
    items = [item(r["spans"], i) for i, r in enumerate(records)]
    outputs = [json.dumps({"entities": r["spans"]}) for r in records]
    for mode in ("strict", "exact_boundary", "partial", "type"):
        metric, _ = Spans(SpansScorer(mode=mode)).summarize(Spans(SpansScorer(mode=mode)).score_items(outputs, items))
        assert metric.value == 1.0, mode


def test_presidio_shifted_and_retyped_copies(shared_data):
    records = _presidio(shared_data)
    rng = random.Random(11)
    items, outputs = [], []
    shifted = retyped = total = 0
    for i, record in enumerate(records):
        copy = []
        for span in record["spans"]:
            total += 1
            span = dict(span)
            change = rng.random()
            length = span["end_position"] - span["start_position"]
            if change < 0.25 and length > 2:
                span["start_position"] += 1  # still overlaps, boundary wrong
                shifted += 1
            elif change < 0.5:
                span["entity_type"] = "RETYPED"
                retyped += 1
            copy.append(span)
        items.append(item(record["spans"], i))
        outputs.append(json.dumps(copy))

    def tp(mode):
        s = Spans(SpansScorer(mode=mode))
        return sum(x.counts[0] for x in s.score_items(outputs, items))

    assert tp("strict") == total - shifted - retyped
    assert tp("exact_boundary") == total - shifted
    assert tp("type") == total - retyped
    assert tp("partial") == total
