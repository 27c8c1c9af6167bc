"""The items a model gets wrong, as records to relabel, and a one-line summary per class.

A failure is an item where the model's answer disagrees with the reference: the gold answer
when the item has one (the task's own score below 1, or no answer at all), else the teacher's
answer (compared as labels under the spec's normalisation for label tasks, as stripped text
otherwise). ``distilleval failures`` writes them as JSONL, so the loop "find the failure cases,
add better data, retrain" is two commands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from distilleval.errors import DataError
from distilleval.results.item_results import has_outputs, iter_items
from distilleval.results.summary_json import ItemResult, Summary

Against = Literal["auto", "gold", "teacher"]
TEACHER = "teacher"


@dataclass(frozen=True)
class Failure:
    """One item the model got wrong.

    Attributes:
        item: the item's stored result (id, gold, outputs, scores).
        model: the model whose answer is wrong.
        expected: the reference answer (gold, or the teacher's answer).
        expected_from: ``gold`` or ``teacher``.
        answer: the model's answer (None when it gave none).
        error: the model's error kind when it gave no answer.
    """

    item: ItemResult
    model: str
    expected: str
    expected_from: Literal["gold", "teacher"]
    answer: str | None
    error: str | None


def default_model(summary: Summary) -> tuple[str, str | None]:
    """The model whose failures to list: the student when it answered in this run, else the
    best-scoring baseline (offline runs); returns (model key, why it was chosen or None)."""
    student = next((key for key, result in summary.models.items() if result.role == "student"), None)
    if student is not None and has_outputs(summary, student):
        return student, None
    baselines = [(result.metric.value, key) for key, result in summary.models.items()
                 if result.role == "baseline" and result.metric is not None and result.metric.value is not None]
    if not baselines:
        raise DataError("the run has no model answers to check: the student was not called and no baseline was scored")
    best = max(baselines, key=lambda pair: pair[0])[1]
    return best, f"the student was not called in this run; listing the failures of {best}, the best baseline"


def _teacher_key(summary: Summary) -> str | None:
    return next((key for key, result in summary.models.items() if result.role == TEACHER), None)


LabelOf = Callable[[str], "str | None"]


def _reference(item: ItemResult, model: str, against: Against, teacher: str | None,
               label_of: LabelOf | None) -> tuple[str, Literal["gold", "teacher"]] | None:
    """(expected answer, ``gold``/``teacher``) for an item the model was asked; None when there
    is nothing to compare with (no gold and no teacher answer, or a teacher answer that names
    no label)."""
    if model not in item.outputs and model not in item.errors:
        return None  # not asked in this run
    if item.gold is not None and against != "teacher":
        return item.gold, "gold"
    if against == "gold" or teacher is None or model == teacher:
        return None
    expected = item.outputs.get(teacher)
    if expected is None or item.errors.get(teacher):
        return None
    if label_of is not None and label_of(expected) is None:
        return None
    return expected, "teacher"


def _check_model(summary: Summary, model: str, against: Against) -> str | None:
    if model not in summary.models:
        raise DataError(f"model {model!r} is not in this run; it has {', '.join(summary.models)}")
    teacher = _teacher_key(summary)
    if against == "teacher" and model == teacher:
        raise DataError("cannot compare the teacher with itself; use --against gold")
    return teacher


def find_failures(summary: Summary, model: str, *, against: Against = "auto",
                  label_of: LabelOf | None = None) -> list[Failure]:
    """The items where ``model`` disagrees with the reference, in the summary's item order.

    Args:
        summary: the run.
        model: a key of ``summary.models``.
        against: ``gold``, ``teacher``, or ``auto`` (gold when the item has one, else teacher).
        label_of: the label an answer names (the spec's label matcher) for label tasks: answers
            agree with the teacher's when they name the same label, and teacher answers that
            name none are skipped. Without it, answers agree when equal after stripping.

    Raises:
        DataError: ``model`` is not in the run, or is the teacher compared with itself.
    """
    teacher = _check_model(summary, model, against)
    found = []
    for item in iter_items(summary):
        reference = _reference(item, model, against, teacher, label_of)
        if reference is None:
            continue
        expected, source = reference
        answer, error = item.outputs.get(model), item.errors.get(model)
        if answer is not None and error is None:
            score = item.scores.get(model)
            right = score is not None and score >= 1.0 if source == "gold" else _agree(answer, expected, label_of)
            if right:
                continue
        found.append(Failure(item, model, expected, source, answer, error))
    return found


def _agree(answer: str, expected: str, label_of: LabelOf | None) -> bool:
    if label_of is None:
        return answer.strip() == expected.strip()
    label = label_of(answer)
    return label is not None and label == label_of(expected)


def _class(text: str, label_of: LabelOf | None) -> str:
    return (label_of(text) if label_of is not None else None) or text.strip()


def checked_per_class(summary: Summary, model: str, *, against: Against = "auto",
                      label_of: LabelOf | None = None) -> Counter[str]:
    """Expected class -> items of that class that ``find_failures`` checked (same arguments)."""
    teacher = _check_model(summary, model, against)
    counts: Counter[str] = Counter()
    for item in iter_items(summary):
        reference = _reference(item, model, against, teacher, label_of)
        if reference is not None:
            counts[_class(reference[0], label_of)] += 1
    return counts


def class_lines(failures: list[Failure], totals: Mapping[str, int], label_of: LabelOf | None = None) -> list[str]:
    """One line per expected class, most failures first: how many of its items fail and what
    the model most often said instead.

    Args:
        failures: from ``find_failures``.
        totals: expected class -> items of that class checked.
        label_of: the label an answer names (the spec's label matcher); answers naming none
            show as INVALID. Without it, classes are the stripped answers.
    """
    by_class: dict[str, list[Failure]] = {}
    for failure in failures:
        by_class.setdefault(_class(failure.expected, label_of), []).append(failure)
    lines = []
    for label, group in sorted(by_class.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        said = Counter(_said(f, label_of) for f in group)
        top, top_count = said.most_common(1)[0]
        total = totals.get(label, 0)
        share = f" of {total:,} ({len(group) / total:.0%})" if total else ""
        lines.append(f"{label}: {len(group):,} failure{'s' if len(group) != 1 else ''}{share}; "
                     f"most often answered {top} ({top_count:,})")
    return lines


def _said(failure: Failure, label_of: LabelOf | None) -> str:
    if failure.answer is None or failure.error is not None:
        return f"no answer ({failure.error or 'missing'})"
    if label_of is None:
        return failure.answer.strip()
    return label_of(failure.answer) or "INVALID"
