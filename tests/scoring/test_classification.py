"""Tests for distilleval.scoring.classification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distilleval.errors import DataError
from distilleval.scoring.base import ItemScore
from distilleval.scoring.classification import INVALID, ExactMatch, normalize_text
from distilleval.spec.data import Item
from distilleval.spec.scorer_config import ExactMatchScorer, TextNormalization

LABELS = ["card_lost", "refund", "other"]


def items(golds):
    return [Item(id=str(i), inputs={"text": "x"}, gold=g) for i, g in enumerate(golds)]


def scorer(**config):
    return ExactMatch(ExactMatchScorer(**config), labels=LABELS)


def test_no_implicit_normalisation():
    # A trailing newline is a different string unless the spec declares whitespace rules.
    scores = scorer().score_items(["refund\n", "refund"], items(["refund", "refund"]))
    assert [s.score for s in scores] == [0.0, 1.0]
    assert scores[0].reason == "invalid_label" and scores[0].canonical is None


def test_declared_normalisation_and_aliases():
    s = scorer(normalize={"case": True, "whitespace": True, "punctuation": True},
               aliases={"card_lost": ["lost card", "Card Lost"]})
    outputs = ["  REFUND. ", "lost   card!", "Card-Lost", "lost it"]
    scores = s.score_items(outputs, items(["refund", "card_lost", "card_lost", "card_lost"]))
    # Punctuation rules drop both "_" and "-": "card_lost" and "Card-Lost" both become "cardlost".
    assert [x.score for x in scores] == [1.0, 1.0, 1.0, 0.0]
    assert scores[3].reason == "invalid_label"


def test_normalize_text_only_applies_declared_rules():
    assert normalize_text(" A  b ", TextNormalization(whitespace=True)) == "A b"
    assert normalize_text(" A  b ", TextNormalization(case=True)) == " a  b "


def test_invalid_outputs_are_a_class_of_their_own_not_a_new_label():
    s = scorer()
    outputs = ["refund", "banana", "other", None]
    scores = s.score_items(outputs, items(["refund", "refund", "card_lost", "other"]))
    metric, secondary = s.summarize(scores)
    assert metric.value == 0.25
    assert metric.ci_method == "Clopper-Pearson (exact binomial)"
    # One of the three answered outputs was outside the label set; the failed call is not
    # counted as invalid (the caller counts it as an error).
    assert secondary["invalid_rate"] == pytest.approx(1 / 3)
    assert secondary[f"predicted/{INVALID}"] == 2.0
    # Macro F1 averages over the three spec labels only:
    # refund P=1 R=0.5 F1=2/3; card_lost P=0 R=0 F1=0; other P=0 R=0 F1=0.
    assert secondary["macro_f1"] == pytest.approx((2 / 3) / 3)
    # Micro F1 over labels + INVALID equals accuracy (every INVALID prediction counts).
    assert secondary["micro_f1"] == pytest.approx(0.25)
    assert "f1/banana" not in secondary


def test_an_invalid_output_is_kept_cut_to_200_characters_and_counted_once():
    s = scorer()
    rambling = "I think " + "x" * 300
    scores = s.score_items(["refund", rambling, "other", "refund"], items(["refund", "refund", "other", "card_lost"]))
    invalid = scores[1]
    assert invalid.valid is False and invalid.reason == "invalid_label" and invalid.canonical is None
    assert invalid.details == {"output": rambling[:200]}  # what the failures view shows, bounded
    metric, secondary = s.summarize(scores)
    assert metric.name == "accuracy" and metric.value == 0.5
    # One INVALID prediction among four: the count is of INVALID predictions, not of the others.
    assert secondary[f"predicted/{INVALID}"] == 1.0 and secondary["invalid_rate"] == 0.25


def test_a_run_where_every_call_failed_has_no_invalid_rate():
    s = scorer()
    _, secondary = s.summarize(s.score_items([None, None], items(["refund", "other"])))
    assert secondary["invalid_rate"] is None  # nothing was answered: no rate, not 0 or a crash


def test_free_text_exact_match_has_no_class_metrics():
    s = ExactMatch(ExactMatchScorer())
    metric, secondary = s.summarize(s.score_items(["Paris", "Rome"], items(["Paris", "Paris"])))
    assert metric.value == 0.5 and secondary == {"invalid_rate": 0.0}
    assert s.confusion([]) == {}


def test_the_invalid_class_name_cannot_be_a_label_and_a_missing_gold_is_named():
    with pytest.raises(DataError, match=f"^{INVALID!r} is reserved for outputs outside the label set"):
        ExactMatch(ExactMatchScorer(), labels=["refund", INVALID])
    item = Item(id="t7", inputs={"text": "x"}, gold=None, line=9)
    with pytest.raises(DataError, match=r"^item 't7' \(line 9\) has no gold answer"):
        scorer().score_items(["refund"], [item])


def test_confusion_matrix_covers_full_label_set():
    s = scorer()
    scores = s.score_items(["refund", "banana"], items(["refund", "other"]))
    assert s.confusion(scores) == {"card_lost": {}, "refund": {"refund": 1}, "other": {INVALID: 1}}


def test_gold_outside_label_set_is_a_data_error():
    with pytest.raises(DataError, match="not one of the spec's labels"):
        scorer().score_items(["refund"], items(["unknown"]))


def test_alias_for_unknown_label_is_rejected():
    with pytest.raises(DataError, match="aliases"):
        scorer(aliases={"nope": ["x"]})


def test_free_text_exact_match_without_labels():
    s = ExactMatch(ExactMatchScorer(normalize={"case": True}))
    scores = s.score_items(["Paris", "paris ", None], items(["paris", "paris", "paris"]))
    assert [x.score for x in scores] == [1.0, 0.0, 0.0]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(LABELS), min_size=1, max_size=30))
def test_gold_against_itself_scores_one(golds):
    s = scorer()
    metric, secondary = s.summarize(s.score_items(golds, items(golds)))
    assert metric.value == 1.0
    assert secondary["invalid_rate"] == 0.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS + ["junk", ""])), min_size=1, max_size=30))
def test_metrics_stay_in_unit_interval(pairs):
    s = scorer()
    scores = s.score_items([p for _, p in pairs], items([g for g, _ in pairs]))
    metric, secondary = s.summarize(scores)
    assert 0.0 <= metric.ci_low <= metric.value <= metric.ci_high <= 1.0
    for name in ("macro_f1", "micro_f1", "invalid_rate"):
        assert 0.0 <= secondary[name] <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS + ["junk", ""])), min_size=1, max_size=40))
def test_class_metrics_and_confusion_equal_scikit_learns(pairs):
    # The counts are our own (scoring a cached re-run must not import scikit-learn); scikit-learn
    # is the reference they must reproduce, zero-division cases included.
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    s = scorer()
    scores = s.score_items([p for _, p in pairs], items([g for g, _ in pairs]))
    truth = [x.gold_canonical or INVALID for x in scores]
    predicted = [x.canonical if x.canonical is not None else INVALID for x in scores]
    ours = s.class_metrics(scores)
    for average, labels in (("macro", LABELS), ("micro", LABELS + [INVALID])):
        reference = precision_recall_fscore_support(truth, predicted, labels=labels, average=average, zero_division=0.0)
        for name, value in zip(("precision", "recall", "f1"), reference[:3]):
            assert ours[f"{average}_{name}"] == pytest.approx(float(value), abs=1e-12)
    p, r, f, support = precision_recall_fscore_support(truth, predicted, labels=LABELS, average=None, zero_division=0.0)
    for i, label in enumerate(LABELS):
        assert (ours[f"precision/{label}"], ours[f"recall/{label}"], ours[f"f1/{label}"]) == pytest.approx((p[i], r[i], f[i]))
        assert ours[f"support/{label}"] == support[i]
    matrix = confusion_matrix(truth, predicted, labels=LABELS + [INVALID])
    expected = {g: {c: int(matrix[i, j]) for j, c in enumerate(LABELS + [INVALID]) if matrix[i, j]} for i, g in enumerate(LABELS)}
    assert s.confusion(scores) == expected


def test_each_outcome_has_its_own_reason_and_a_missing_output_does_not_end_scoring():
    # Pinned by mutation testing (docs/mutation.md): "wrong_label" and the items after a missing output.
    scores = scorer().score_items([None, "refund", "other", "bogus"], items(["refund"] * 4))
    assert [(s.score, s.valid, s.reason) for s in scores] == [
        (0.0, False, "no_output"), (1.0, True, None), (0.0, True, "wrong_label"), (0.0, False, "invalid_label")]
    assert [s.canonical for s in scores] == [None, "refund", "other", None]


@pytest.mark.parametrize("config", [{}, {"normalize": TextNormalization(case=True, whitespace=True),
                                         "aliases": {"refund": ["money back"]}}], ids=["plain", "aliases"])
def test_score_rows_are_the_fields_of_score_items(config):
    """The row form (each distinct output/gold pair scored once) gives every field ``score_items`` gives."""
    outputs = ["refund", " Money  Back", None, "what?", "refund", "Other", None, "what?", "card_lost"]
    golds = ["refund", "refund", "other", "card_lost", "other", "other", "refund", "refund", "card_lost"]
    s = scorer(**config)
    expected = s.score_items(outputs, items(golds))
    rows, details, make = s.score_rows(outputs, items(golds))
    assert make is type(expected[0])
    assert rows == [(e.score, e.valid, e.reason, e.canonical, e.gold_canonical, e.counts) for e in expected]
    assert details == {position: e.details for position, e in enumerate(expected) if e.details}
    assert details[3] == details[7] == {"output": "what?"} and rows[2][2] == "no_output"


def test_score_rows_name_an_unusable_gold_as_score_items_does():
    for golds in (["refund", None], ["refund", "nope"]):
        with pytest.raises(DataError) as rows_error:
            scorer().score_rows(["refund", "refund"], items(golds))
        with pytest.raises(DataError) as items_error:
            scorer().score_items(["refund", "refund"], items(golds))
        assert str(rows_error.value) == str(items_error.value)


def test_the_figures_read_from_the_columns_are_the_figures_of_the_records():
    """``summarize_at`` and ``confusion_at`` (codes counted in NumPy) give what ``summarize`` and
    ``confusion`` give over the same scores as records."""
    import numpy as np

    from distilleval.results.columns import ScoreColumns

    s = scorer(normalize=TextNormalization(case=True))
    outputs = ["refund", "REFUND", None, "nope", "other", "card_lost", "nope", "Other", None, "refund"] * 3
    golds = ["refund", "other", "refund", "card_lost", "other", "refund", "other", "card_lost", "other", "refund"] * 3
    records = s.score_items(outputs, items(golds))
    records[5] = ItemScore(None, valid=False, gold_canonical="refund")  # a failed call's exclusion
    columns = ScoreColumns()
    columns.extend(records)
    for positions in (np.arange(len(records)), np.array([0, 3, 4, 6, 7, 11, 29]), np.array([], dtype=np.int64)):
        subset = [records[i] for i in positions]
        assert s.summarize_at(columns, positions) == s.summarize(subset)
        assert s.confusion_at(columns, positions) == s.confusion(subset)
    assert s.summarize(records)[1]["predicted/INVALID"] > 0 and s.confusion(records)["other"]["refund"] > 0
