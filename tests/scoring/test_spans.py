"""Tests for distilleval.scoring.spans, including presidio PII spans from shared/data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.errors import DataError, SpecError
from distilleval.scoring import build_scorer
from distilleval.scoring.spans import Mention, Span, Spans, locate_mentions, occurrences, spans_match
from distilleval.spec.data import Item, load_items
from distilleval.spec.scorer_config import SpansScorer
from distilleval.spec.task_spec import load_spec
from tests.environment import missing

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


# -- locating predicted spans by their text -------------------------------------------------------
TEXT = "Ana Lee wrote from ana@example.com; cc ana@example.com. Ana Lee"
#       0         1         2         3         4         5         6
#       0123456789012345678901234567890123456789012345678901234567890123
LOCATE_GOLD = {"entities": [
    {"type": "PERSON", "text": "Ana Lee", "start": 0, "end": 7},
    {"type": "EMAIL", "text": "ana@example.com", "start": 19, "end": 34},
    {"type": "EMAIL", "text": "ana@example.com", "start": 39, "end": 54},
    {"type": "PERSON", "text": "Ana Lee", "start": 56, "end": 63},
]}


def locate_run(locate, pred, *, text=TEXT, gold=LOCATE_GOLD, mode="strict"):
    scorer = Spans(SpansScorer(mode=mode, locate=locate))
    return scorer.score_items([json.dumps({"entities": pred})], [Item(id="t", inputs={"text": text}, gold=gold)])[0]


def test_the_locate_gold_offsets_are_right():
    for e in LOCATE_GOLD["entities"]:
        assert TEXT[e["start"]:e["end"]] == e["text"]


def test_text_without_offsets_is_located_at_its_occurrence():
    result = locate_run("text", [{"type": "EMAIL", "text": "ana@example.com"}])
    assert result.counts == (1, 0, 3)
    assert json.loads(result.canonical) == [[19, 34, "EMAIL"]]
    # Today's behaviour is kept under "offsets": no offsets, no span.
    assert locate_run("offsets", [{"type": "EMAIL", "text": "ana@example.com"}]).counts == (0, 1, 4)


def test_wrong_offsets_are_rescued_only_where_the_mode_allows():
    pred = [{"type": "PERSON", "text": "Ana Lee", "start": 1, "end": 8}]  # off by one
    assert locate_run("offsets", pred).counts == (0, 1, 4)
    assert locate_run("text", pred).counts == (1, 0, 3)
    assert locate_run("offsets_then_text", pred).counts == (1, 0, 3)
    # Offsets beyond the input, or missing, fall back to the text as well.
    assert locate_run("offsets_then_text", [{"type": "PERSON", "text": "Ana Lee", "start": 90, "end": 97}]).counts == (1, 0, 3)
    assert locate_run("offsets_then_text", [{"type": "PERSON", "text": "Ana Lee", "start": None}]).counts == (1, 0, 3)


def test_offsets_then_text_keeps_offsets_that_check_out():
    # Right offsets of the second "Ana Lee": "text" ignores them and takes the first occurrence.
    pred = [{"type": "PERSON", "text": "Ana Lee", "start": 56, "end": 63}]
    assert json.loads(locate_run("offsets_then_text", pred).canonical) == [[56, 63, "PERSON"]]
    assert json.loads(locate_run("text", pred).canonical) == [[0, 7, "PERSON"]]
    # A verified prediction holds its occurrence; a text-only one takes the other one.
    pred.append({"type": "PERSON", "text": "Ana Lee"})
    result = locate_run("offsets_then_text", pred)
    assert json.loads(result.canonical) == [[0, 7, "PERSON"], [56, 63, "PERSON"]]
    assert result.counts == (2, 0, 2)
    held_first = [{"type": "PERSON", "text": "Ana Lee"}, {"type": "PERSON", "text": "Ana Lee", "start": 0, "end": 7}]
    assert json.loads(locate_run("offsets_then_text", held_first).canonical) == [[0, 7, "PERSON"], [56, 63, "PERSON"]]
    # Offsets without a text are used as given (they cannot be checked).
    assert locate_run("offsets_then_text", [{"type": "EMAIL", "start": 39, "end": 54}]).counts == (1, 0, 3)
    assert locate_run("text", [{"type": "EMAIL", "start": 39, "end": 54}]).counts == (0, 1, 4)


def test_an_occurrence_inside_a_verified_span_is_not_free():
    text = "Manager: Sofia Lindqvist. Ask Sofia."
    gold = {"entities": [{"type": "PERSON", "start": 9, "end": 24}, {"type": "PERSON", "start": 30, "end": 35}]}
    pred = [{"type": "PERSON", "text": "Sofia Lindqvist", "start": 9, "end": 24},
            {"type": "PERSON", "text": "Sofia", "start": 31, "end": 36}]  # off by one
    assert locate_run("offsets_then_text", pred, text=text, gold=gold).counts == (2, 0, 0)
    # "text" trusts no offsets, so the short name takes its first occurrence, inside the long one.
    assert locate_run("text", pred, text=text, gold=gold).counts == (1, 1, 1)


def test_repeated_strings_take_distinct_occurrences_in_order():
    twice = [{"type": "EMAIL", "text": "ana@example.com"}] * 2
    result = locate_run("text", twice)
    assert json.loads(result.canonical) == [[19, 34, "EMAIL"], [39, 54, "EMAIL"]]
    assert result.counts == (2, 0, 2)
    # Three predictions of a string that occurs twice: the third is a false positive.
    result = locate_run("text", twice + twice[:1])
    assert result.counts == (2, 1, 2)
    assert result.details["unplaced"] == {"extra_occurrence": 1}
    assert result.details["fields"]["EMAIL"] == (2, 1, 0)


def test_two_predictions_of_a_string_that_occurs_once_give_one_tp_and_one_fp():
    text = "Call Raj Murphy today."
    gold = {"entities": [{"type": "PERSON", "text": "Raj Murphy", "start": 5, "end": 15}]}
    pred = [{"type": "PERSON", "text": "Raj Murphy"}, {"type": "PERSON", "text": "Raj Murphy", "start": 0, "end": 3}]
    for locate in ("text", "offsets_then_text"):
        result = locate_run(locate, pred, text=text, gold=gold)
        assert result.counts == (1, 1, 0), locate
        assert result.reason == "wrong_spans"


def test_text_not_in_the_input_is_a_false_positive_with_its_reason():
    pred = [{"type": "PERSON", "text": "Ana Lee"}, {"type": "EMAIL", "text": "ana@exmaple.com", "start": 19, "end": 34}]
    for locate in ("text", "offsets_then_text"):
        result = locate_run(locate, pred)
        assert result.counts == (1, 1, 3), locate
        assert result.reason == "not_in_input"
        assert result.details["unplaced"] == {"not_in_input": 1}
        assert result.details["fields"]["EMAIL"] == (0, 1, 2)
    # Matching is exact: the scorer declares no case normalisation.
    assert locate_run("text", [{"type": "PERSON", "text": "ana lee"}]).reason == "not_in_input"


def test_elements_with_neither_text_nor_offsets_are_unusable():
    result = locate_run("text", [{"type": "PERSON"}, {"text": "Ana Lee"}, "Ana Lee"])
    assert result.counts == (0, 3, 4)
    assert result.details["fields"]["(unusable)"] == (0, 3, 0)


def test_occurrences_do_not_overlap():
    assert occurrences("aaaa", "aa") == [0, 2]
    assert occurrences("abc", "d") == []
    assert occurrences("abc", "") == []


def test_locate_mentions_refuses_offsets_mode():
    with pytest.raises(ValueError):
        locate_mentions([Mention("A", "x", None)], "x", "offsets")


def test_input_field_is_needed_when_an_item_has_several_inputs():
    gold = {"entities": [{"type": "PERSON", "start": 0, "end": 3}]}
    pred = json.dumps({"entities": [{"type": "PERSON", "text": "Ana"}]})
    two = Item(id="t", inputs={"subject": "Hi", "body": "Ana here"}, gold=gold, line=4)
    with pytest.raises(DataError, match="line 4.*input_field"):
        Spans(SpansScorer(locate="text")).score_items([pred], [two])
    result = Spans(SpansScorer(locate="text", input_field="body")).score_items([pred], [two])[0]
    assert result.counts == (1, 0, 0)


def _spec_file(tmp_path, scorer_lines, inputs="{text: text}"):
    (tmp_path / "data.jsonl").write_text(
        json.dumps({"text": "Ana", "subject": "x", "gold": {"entities": []}}) + "\n", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(
        "name: t\ndata:\n  path: data.jsonl\n  input: " + inputs + "\n  gold: gold\n"
        "output:\n  kind: json\nscorer:\n  kind: spans\n" + scorer_lines
        + "teacher:\n  model: openai/gpt-4o-mini\n  prompt: '{text}'\n"
        "student:\n  model: openai/gpt-4o-mini\n  prompt: '{text}'\n",
        encoding="utf-8")
    return load_spec(tmp_path / "spec.yaml")


def test_build_scorer_checks_the_input_field(tmp_path):
    assert build_scorer(_spec_file(tmp_path, "  locate: text\n")).config.locate == "text"
    with pytest.raises(SpecError, match="input_field"):
        build_scorer(_spec_file(tmp_path, "  locate: text\n", inputs="{text: text, subject: subject}"))
    with pytest.raises(SpecError, match="'body' is not a text input field"):
        build_scorer(_spec_file(tmp_path, "  locate: text\n  input_field: body\n"))
    # Offsets need no input at all.
    build_scorer(_spec_file(tmp_path, "", inputs="{text: text, subject: subject}"))


@st.composite
def texts_with_unique_mentions(draw):
    """An input and its gold spans where each gold text occurs exactly at its gold spans.

    Entity strings come from a bracketed alphabet that the filler cannot produce, and no
    entity string is contained in another, so every occurrence is a gold span.
    """
    names = draw(st.lists(st.text("abcxyz", min_size=1, max_size=4), min_size=1, max_size=4, unique=True))
    names = [f"<{name}>" for name in names]
    pieces = draw(st.lists(st.tuples(st.text(" .,-01", max_size=5), st.sampled_from(names),
                                     st.sampled_from(["PERSON", "EMAIL"])), max_size=8))
    text, gold = "", []
    for filler, name, kind in pieces:
        text += filler
        gold.append({"type": kind, "text": name, "start": len(text), "end": len(text) + len(name)})
        text += name
    text += draw(st.text(" .,-01", max_size=5))
    return text, gold


@settings(max_examples=80, deadline=None)
@given(texts_with_unique_mentions(), st.randoms(use_true_random=False), st.sampled_from(["text", "offsets_then_text"]))
def test_gold_texts_without_offsets_score_one(case, rng, locate):
    text, gold = case
    for name in {e["text"] for e in gold}:  # the construction's promise, checked
        assert occurrences(text, name) == sorted(e["start"] for e in gold if e["text"] == name)
    pred = [{"type": e["type"], "text": e["text"]} for e in gold]
    # Only the order among mentions of one string matters: move whole strings' groups around.
    rank = {name: rng.random() for name in sorted({e["text"] for e in gold})}
    pred.sort(key=lambda e: rank[e["text"]])
    result = locate_run(locate, pred, text=text, gold={"entities": gold})
    assert result.score == 1.0
    assert result.counts == (len(gold), 0, 0)


# -- real data: presidio synthetic PII --------------------------------------------------------
def _presidio(shared_data, limit=400):
    path = shared_data / "presidio_synth_pii" / "synth_dataset_v2.json"
    if not path.is_file():
        missing(f"presidio data not found at {path}")
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


def _pii_spec():
    return load_spec(Path(__file__).resolve().parents[2] / "specs" / "pii_detection" / "spec.yaml")


def _each_text_occurs_only_at_its_gold_spans(text, entities):
    return all(occurrences(text, e["text"]) == sorted(g["start"] for g in entities if g["text"] == e["text"])
               for e in entities)


def test_pii_spec_rescues_gold_entities_whose_offsets_are_shifted():
    spec = _pii_spec()
    scorer = build_scorer(spec)
    assert scorer.config.locate == "offsets_then_text"
    items = [i for i in load_items(spec) if i.gold["entities"]]
    shifted = [json.dumps({"entities": [dict(e, start=e["start"] + 1, end=e["end"] + 1) for e in i.gold["entities"]]})
               for i in items]
    scores = scorer.score_items(shifted, items)
    clean = [_each_text_occurs_only_at_its_gold_spans(i.inputs["text"], i.gold["entities"]) for i in items]
    assert sum(clean) >= 0.95 * len(items)
    assert all(score.score == 1.0 for score, ok in zip(scores, clean) if ok)
    # The same outputs under today's offsets-only matching score nothing.
    offsets_only = Spans(SpansScorer(mode="strict", locate="offsets")).score_items(shifted, items)
    assert all(score.counts[0] == 0 for score in offsets_only)


def test_presidio_spans_without_offsets_are_located_by_their_text(shared_data):
    path = shared_data / "presidio_synth_pii" / "synth_dataset_v2.json"
    if not path.is_file():
        missing(f"presidio data not found at {path}")
    records = [r for r in json.loads(path.read_text(encoding="utf-8"))[:400] if r["spans"]]
    items, outputs, clean = [], [], []
    for i, record in enumerate(records):
        spans = sorted(record["spans"], key=lambda e: e["start_position"])
        entities = [{"text": e["entity_value"], "start": e["start_position"]} for e in spans]
        clean.append(_each_text_occurs_only_at_its_gold_spans(record["full_text"], entities))
        items.append(Item(id=str(i), inputs={"full_text": record["full_text"]}, gold=spans))
        outputs.append(json.dumps([{"entity_type": e["entity_type"], "entity_value": e["entity_value"]}
                                   for e in spans]))
    scores = Spans(SpansScorer(locate="text")).score_items(outputs, items)
    assert sum(clean) >= 0.9 * len(items)
    assert all(score.score == 1.0 for score, ok in zip(scores, clean) if ok)


def test_text_located_in_either_unicode_form_and_types_compare_in_nfc():
    composed = "Jos\u00e9 lives in Bogot\u00e1"
    decomposed_name, decomposed_city = "Jose\u0301", "Bogota\u0301"
    mentions = [Mention("PERSON", decomposed_name, None), Mention("CITY", decomposed_city, None)]
    located = locate_mentions(mentions, composed, "text")
    assert located.spans == [Span(0, 4, "PERSON"), Span(14, 20, "CITY")] and located.unplaced == []
    # The other way round: an input written decomposed, offsets in its own characters.
    decomposed = "Jose\u0301 lives in Bogota\u0301"
    located = locate_mentions([Mention("PERSON", "Jos\u00e9", None)], decomposed, "text")
    assert located.spans == [Span(0, 5, "PERSON")]
    # offsets_then_text: offsets whose characters equal the text up to form are trusted.
    trusted = locate_mentions([Mention("CITY", decomposed_city, Span(14, 20, "CITY"))], composed, "offsets_then_text")
    assert trusted.spans == [Span(14, 20, "CITY")]
    gold = {"entities": [{"type": "ST\u00c4DT", "start": 14, "end": 20}]}
    pred = {"entities": [{"type": "sta\u0308dt", "start": 14, "end": 20}]}
    assert run("strict", gold, pred).counts == (1, 0, 0)
