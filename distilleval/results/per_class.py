"""Per-class results of a label task: precision, recall and F1 per label, the confusions that
cost most, and the worst classes.

A headline accuracy can hide the one class that decides a task (an out-of-scope class at 42%
recall under an 83% average), so reports show these beside it. Everything is computed from
a confusion matrix (gold label -> predicted label or ``INVALID`` -> count), the shape
``summary.json`` stores; recall carries a Clopper-Pearson (exact) interval because a class's
support is often small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from distilleval.results.intervals import clopper_pearson

Confusion = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class ClassResult:
    """One label's results.

    Attributes:
        label: the class.
        support: eval items whose gold is this class.
        predicted: items the model put in this class.
        correct: items of this class the model got right.
        precision: correct / predicted; None when the model never predicted the class.
        recall: correct / support; None when no item has the class.
        recall_low, recall_high: Clopper-Pearson interval of the recall (None without support).
        f1: harmonic mean of precision and recall, 0 when either is 0 or undefined.
    """

    label: str
    support: int
    predicted: int
    correct: int
    precision: float | None
    recall: float | None
    recall_low: float | None
    recall_high: float | None
    f1: float


@dataclass(frozen=True)
class ConfusionPair:
    """Items of class ``gold`` the model called ``predicted``."""

    gold: str
    predicted: str
    count: int
    share_of_gold: float


def class_results(confusion: Confusion, *, labels: Sequence[str] | None = None,
                  confidence: float = 0.95) -> list[ClassResult]:
    """Precision, recall (with interval) and F1 of every label.

    Args:
        confusion: gold label -> predicted label -> count.
        labels: the label set in order; default: the confusion's gold labels.
        confidence: coverage of the recall interval.

    Returns:
        One ``ClassResult`` per label, in label order.

    >>> [(r.label, r.precision, r.recall, round(r.f1, 3)) for r in class_results({"a": {"a": 3, "b": 1}, "b": {"a": 1}})]
    [('a', 0.75, 0.75, 0.75), ('b', 0.0, 0.0, 0.0)]
    >>> class_results({})
    []
    """
    order = list(labels) if labels is not None else list(confusion)
    predicted_totals: dict[str, int] = {}
    for row in confusion.values():
        for label, count in row.items():
            predicted_totals[label] = predicted_totals.get(label, 0) + count
    results = []
    for label in order:
        row = confusion.get(label, {})
        support, correct, predicted = sum(row.values()), row.get(label, 0), predicted_totals.get(label, 0)
        precision = correct / predicted if predicted else None
        recall = correct / support if support else None
        interval = clopper_pearson(correct, support, confidence=confidence) if support else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
        results.append(ClassResult(label, support, predicted, correct, precision, recall,
                                   interval[0] if interval else None, interval[1] if interval else None, f1))
    return results


def worst_classes(results: Iterable[ClassResult], count: int = 3) -> list[ClassResult]:
    """The ``count`` classes with the lowest F1 among those with support (ties: larger support first).

    >>> [r.label for r in worst_classes(class_results({"a": {"a": 3, "b": 1}, "b": {"a": 1}, "c": {}}), 2)]
    ['b', 'a']
    """
    with_support = [r for r in results if r.support > 0]
    return sorted(with_support, key=lambda r: (r.f1, -r.support, r.label))[:count]


def costliest_confusions(confusion: Confusion, count: int = 10) -> list[ConfusionPair]:
    """The ``count`` most frequent wrong (gold, predicted) pairs, most items first.

    >>> [(p.gold, p.predicted, p.count) for p in costliest_confusions({"a": {"a": 3, "b": 1}, "b": {"a": 2}})]
    [('b', 'a', 2), ('a', 'b', 1)]
    """
    pairs = []
    for gold, row in confusion.items():
        support = sum(row.values())
        for predicted, n in row.items():
            if predicted != gold and n > 0:
                pairs.append(ConfusionPair(gold, predicted, n, n / support))
    return sorted(pairs, key=lambda p: (-p.count, p.gold, p.predicted))[:count]


def confusion_from_pairs(pairs: Iterable[tuple[str | None, str | None]], *, labels: Sequence[str],
                         invalid: str = "INVALID") -> dict[str, dict[str, int]]:
    """A confusion matrix from (gold label, predicted label) pairs; a None prediction counts
    as ``invalid``, a None gold is skipped.

    >>> confusion_from_pairs([("a", "a"), ("a", None), ("b", "a"), (None, "a")], labels=["a", "b"])
    {'a': {'a': 1, 'INVALID': 1}, 'b': {'a': 1}}
    """
    matrix: dict[str, dict[str, int]] = {label: {} for label in labels}
    for gold, predicted in pairs:
        if gold is None or gold not in matrix:
            continue
        key = predicted if predicted is not None else invalid
        matrix[gold][key] = matrix[gold].get(key, 0) + 1
    return matrix


def confusion_from_outputs(golds: Sequence[str | None], outputs: Sequence[str | None],
                           match: Callable[[str], str | None], *, labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """A confusion matrix from raw gold and output texts, read through ``match`` (the spec's
    label matcher), for summaries that recorded no matrix."""
    pairs = [(match(g) if g is not None else None, match(o) if o is not None else None) for g, o in zip(golds, outputs)]
    return confusion_from_pairs(pairs, labels=labels)
