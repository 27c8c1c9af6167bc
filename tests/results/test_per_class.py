"""Per-class results from a confusion matrix, checked against scikit-learn on the same labels."""

from __future__ import annotations

import random

import pytest

from distilleval.results.per_class import (
    class_results,
    confusion_from_outputs,
    confusion_from_pairs,
    costliest_confusions,
    worst_classes,
)


def test_matches_sklearn_per_class_metrics_on_random_predictions():
    from sklearn.metrics import precision_recall_fscore_support

    rng = random.Random(7)
    labels = ["a", "b", "c", "d"]
    gold = [rng.choice(labels) for _ in range(400)]
    # Mostly right, sometimes another label, sometimes outside the label set (INVALID).
    predicted = [g if rng.random() < 0.7 else rng.choice(labels + [None]) for g in gold]
    results = class_results(confusion_from_pairs(zip(gold, predicted), labels=labels), labels=labels)
    p, r, f, support = precision_recall_fscore_support(
        gold, [x if x is not None else "INVALID" for x in predicted], labels=labels, average=None, zero_division=0.0
    )
    for i, result in enumerate(results):
        assert result.label == labels[i] and result.support == support[i]
        assert result.precision == pytest.approx(p[i]) and result.recall == pytest.approx(r[i])
        assert result.f1 == pytest.approx(f[i])
        assert result.recall_low <= result.recall <= result.recall_high


def test_undefined_precision_and_recall_are_none_not_zero():
    # 'c' is never predicted (precision undefined) and 'd' has no items (recall undefined).
    (a, c, d) = class_results({"a": {"a": 2}, "c": {"a": 1}, "d": {}}, labels=["a", "c", "d"])
    assert c.precision is None and c.recall == 0.0 and c.f1 == 0.0
    assert d.recall is None and d.recall_low is None and d.support == 0
    assert a.precision == pytest.approx(2 / 3) and a.recall == 1.0


def test_the_class_a_headline_hides_is_the_worst():
    # 90% accuracy overall, but the rare out-of-scope class is found 2 times in 10.
    confusion = {"oos": {"oos": 2, "balance": 8}, "balance": {"balance": 45}, "card": {"card": 43, "oos": 2}}
    worst = worst_classes(class_results(confusion), 1)[0]
    assert worst.label == "oos" and worst.recall == pytest.approx(0.2)
    assert worst_classes(class_results({}), 3) == []


def test_costliest_confusions_rank_by_items_and_skip_the_diagonal():
    pairs = costliest_confusions({"a": {"a": 9, "b": 1, "INVALID": 3}, "b": {"a": 2, "b": 5}}, count=2)
    assert [(p.gold, p.predicted, p.count) for p in pairs] == [("a", "INVALID", 3), ("b", "a", 2)]
    assert pairs[0].share_of_gold == pytest.approx(3 / 13)


def test_confusion_from_outputs_reads_texts_through_the_matcher():
    match = {"A": "a", "a": "a", "b": "b"}.get
    matrix = confusion_from_outputs(["a", "b", "b", None], ["A", "zzz", None, "a"], match, labels=["a", "b"])
    assert matrix == {"a": {"a": 1}, "b": {"INVALID": 2}}
