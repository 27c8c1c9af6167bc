"""Entity span matching (PII) with character offsets.

A span is ``{type, start, end}`` (``entity_type``/``label``, ``start_position`` and
``end_position`` are accepted spellings; ``end`` is exclusive). Predicted spans are matched
one-to-one to gold spans (Hungarian assignment) under one of four modes, following the
SemEval-2013 task 9 scheme:

- ``strict``: same start, same end, same type.
- ``exact_boundary``: same start and end; the type is ignored.
- ``partial``: the spans overlap by at least one character; the type is ignored.
- ``type``: the spans overlap and have the same type.

Matched pairs are TP, unmatched predictions FP, unmatched gold spans FN; identical predicted
spans count once. Per-type counts credit the gold span's type (TP, FN) and the predicted
span's type (FP).

Where a predicted span sits is declared by ``locate`` (models count characters badly):

- ``offsets``: its ``start``/``end``, as given.
- ``text``: its ``text``, found in the item's input; the offsets are ignored. The k-th
  prediction of a string takes that string's k-th (non-overlapping, left-to-right) occurrence,
  so a string predicted more often than it occurs earns one match per occurrence.
- ``offsets_then_text``: its offsets when ``input[start:end] == text`` (or it has no text),
  else its text, placed among the occurrences that overlap no span whose offsets checked out.

Text is matched exactly (the spans scorer declares no case or whitespace normalisation), up
to Unicode's canonical forms: a predicted text in decomposed form (NFD) is found in an input
written composed (NFC), and the other way round, and types compare in NFC. A
prediction whose text is not in the input is a false positive of its type, reason
``not_in_input``; one beyond the string's last occurrence is a false positive, reason
``extra_occurrence``.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distilleval.errors import DataError
from distilleval.scoring.base import ItemScore, MicroF1Scorer, _check_lengths, f1_from_counts
from distilleval.scoring.json_fields import extract_json
from distilleval.spec.labels import unicode_form
from distilleval.spec.scorer_config import SpansScorer

_TYPE_KEYS = ("type", "entity_type", "label")
_START_KEYS = ("start", "start_position", "begin")
_END_KEYS = ("end", "end_position")
_TEXT_KEYS = ("text", "entity_value")
TEXT_LOCATE_MODES = ("text", "offsets_then_text")


@dataclass(frozen=True)
class Span:
    """A typed character range ``[start, end)``."""

    start: int
    end: int
    type: str


def _first(record: dict[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in record:
            return record[key]
    return None


def parse_span(record: Any) -> Span | None:
    """A ``Span`` from one JSON element, or None when it lacks a usable type or offsets."""
    if not isinstance(record, dict):
        return None
    kind, start, end = _first(record, _TYPE_KEYS), _first(record, _START_KEYS), _first(record, _END_KEYS)
    if not isinstance(kind, str):
        return None
    if isinstance(start, bool) or isinstance(end, bool):
        return None
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError):
        return None
    if start < 0 or end <= start:
        return None
    return Span(start, end, _type_name(kind))


def _type_name(kind: str) -> str:
    """An entity type as compared: stripped, upper-cased, in Unicode NFC."""
    return unicode_form(kind.strip().upper())


def _elements(value: Any, list_field: str) -> list[Any]:
    if isinstance(value, dict):
        value = value.get(list_field, [])
    return value if isinstance(value, list) else []


def spans_of(value: Any, list_field: str) -> tuple[list[Span], int]:
    """Distinct spans of an output or gold (a list, or an object holding ``list_field``),
    and how many elements were unusable."""
    spans: list[Span] = []
    unusable = 0
    for element in _elements(value, list_field):
        span = parse_span(element)
        if span is None:
            unusable += 1
        elif span not in spans:
            spans.append(span)
    return spans, unusable


@dataclass(frozen=True)
class Mention:
    """A predicted entity as the model wrote it.

    Attributes:
        type: the entity type, upper-cased.
        text: the entity's text, or None when absent or empty.
        span: its offsets when they are well formed (``0 <= start < end``), else None.
    """

    type: str
    text: str | None
    span: Span | None


def parse_mention(record: Any) -> Mention | None:
    """A ``Mention`` from one JSON element, or None when it has no type or neither text nor offsets."""
    if not isinstance(record, dict):
        return None
    kind = _first(record, _TYPE_KEYS)
    if not isinstance(kind, str):
        return None
    text = _first(record, _TEXT_KEYS)
    text = text if isinstance(text, str) and text else None
    span = parse_span(record)
    if text is None and span is None:
        return None
    return Mention(_type_name(kind), text, span)


def mentions_of(value: Any, list_field: str) -> tuple[list[Mention], int]:
    """Every mention of an output, in order (repeats kept), and how many elements were unusable."""
    mentions: list[Mention] = []
    unusable = 0
    for element in _elements(value, list_field):
        mention = parse_mention(element)
        if mention is None:
            unusable += 1
        else:
            mentions.append(mention)
    return mentions, unusable


def occurrences(haystack: str, needle: str) -> list[int]:
    """Start offsets of the non-overlapping occurrences of ``needle`` in ``haystack``, left to right."""
    starts: list[int] = []
    at = haystack.find(needle)
    while at >= 0 and needle:
        starts.append(at)
        at = haystack.find(needle, at + len(needle))
    return starts


def as_written_in(haystack: str, needle: str) -> str:
    """``needle`` in the Unicode form ``haystack`` uses: itself, else its composed (NFC) or
    decomposed (NFD) form, whichever occurs; itself when none does. Searching for that form
    keeps offsets in the input's own characters.

    >>> as_written_in("caf\u00e9 au lait", "cafe\u0301") == "caf\u00e9"
    True
    """
    for form in (needle, unicode_form(needle), unicodedata.normalize("NFD", needle)):
        if form in haystack:
            return form
    return needle


@dataclass
class Located:
    """Predicted mentions placed in the input.

    Attributes:
        spans: distinct placed spans, in prediction order.
        unplaced: ``(type, reason)`` of each mention that could not be placed
            (``not_in_input`` or ``extra_occurrence``).
        unusable: mentions that cannot be placed at all in this mode (no text under ``text``).
    """

    spans: list[Span]
    unplaced: list[tuple[str, str]]
    unusable: int = 0


def locate_mentions(mentions: Sequence[Mention], input_text: str, locate: str) -> Located:
    """Place each mention in ``input_text`` by its text (see the module doc).

    ``locate="offsets"`` needs no input and is handled by ``spans_of``.

    Args:
        mentions: predicted mentions, in the order the model listed them.
        input_text: the input the offsets refer to.
        locate: ``"text"`` or ``"offsets_then_text"``.

    Returns:
        The placed spans, the mentions that could not be placed, and the unusable count.

    Raises:
        ValueError: ``locate`` is not one of those two.
    """
    if locate not in TEXT_LOCATE_MODES:
        raise ValueError(f"locate {locate!r} does not place by text; expected {' or '.join(TEXT_LOCATE_MODES)}")
    located = Located([], [])
    by_text: list[tuple[Mention, str]] = []
    for mention in mentions:
        trust_offsets = (
            locate == "offsets_then_text"
            and mention.span is not None
            and (mention.text is None
                 or unicode_form(input_text[mention.span.start:mention.span.end]) == unicode_form(mention.text))
        )
        if trust_offsets and mention.span is not None:
            if mention.span not in located.spans:
                located.spans.append(mention.span)
        elif mention.text is None:
            located.unusable += 1
        else:
            by_text.append((mention, as_written_in(input_text, mention.text)))
    # Offsets that checked out hold their characters: an occurrence touching them is another
    # mention's (a first name inside a verified full name is not a mention of its own).
    held = list(located.spans)
    free: dict[str, list[int]] = {}
    for mention, text in by_text:
        if text not in free:
            free[text] = [
                at for at in occurrences(input_text, text)
                if not any(at < span.end and span.start < at + len(text) for span in held)
            ]
        starts = free[text]
        if starts:
            at = starts.pop(0)
            located.spans.append(Span(at, at + len(text), mention.type))
        else:
            reason = "extra_occurrence" if text in input_text else "not_in_input"
            located.unplaced.append((mention.type, reason))
    return located


def spans_match(gold: Span, pred: Span, mode: str) -> bool:
    """Whether ``pred`` matches ``gold`` under ``mode`` (see the module doc)."""
    overlap = max(gold.start, pred.start) < min(gold.end, pred.end)
    if mode == "strict":
        return (gold.start, gold.end, gold.type) == (pred.start, pred.end, pred.type)
    if mode == "exact_boundary":
        return (gold.start, gold.end) == (pred.start, pred.end)
    if mode == "partial":
        return overlap
    if mode == "type":
        return overlap and gold.type == pred.type
    raise ValueError(f"unknown span mode {mode!r}; expected strict, exact_boundary, partial or type")


def match_spans(gold: Sequence[Span], pred: Sequence[Span], mode: str) -> list[tuple[int, int]]:
    """Optimal one-to-one matching of predicted to gold spans: (gold index, pred index) pairs."""
    if not gold or not pred:
        return []
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    weight = np.zeros((len(gold), len(pred)))
    for i, g in enumerate(gold):
        for j, p in enumerate(pred):
            if spans_match(g, p, mode):
                # Prefer exact and longer-overlap pairings when several are possible.
                overlap = min(g.end, p.end) - max(g.start, p.start)
                union = max(g.end, p.end) - min(g.start, p.start)
                weight[i, j] = 1.0 + 0.5 * overlap / union + (0.25 if g.type == p.type else 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return [(r, c) for r, c in zip(rows, cols) if weight[r, c] > 0]


class Spans(MicroF1Scorer):
    """Span F1 under the configured mode, overall and per entity type.

    Args:
        config: the spec's ``spans`` scorer section.
    """

    kind = "spans"
    primary_metric = "span_f1"

    def __init__(self, config: SpansScorer):
        self.config = config
        self.mode = config.mode

    def _input_text(self, item: Any) -> str:
        """The input the item's spans refer to (``input_field``, else its only input)."""
        field = self.config.input_field
        if field is None:
            if len(item.inputs) != 1:
                raise DataError(
                    f"item {item.id!r} (line {item.line}): locate by text needs scorer.input_field; "
                    f"the item has inputs {', '.join(sorted(item.inputs))}"
                )
            field = next(iter(item.inputs))
        text = item.inputs.get(field)
        if not isinstance(text, str):
            raise DataError(f"item {item.id!r} (line {item.line}): no text input {field!r} to locate spans in")
        return text

    def _gold(self, item: Any) -> list[Span]:
        gold = item.gold
        if isinstance(gold, str):
            try:
                gold = json.loads(gold)
            except json.JSONDecodeError:
                raise DataError(f"item {item.id!r} (line {item.line}): gold is not valid JSON") from None
        spans, unusable = spans_of(gold, self.config.list_field)
        if unusable:
            raise DataError(f"item {item.id!r} (line {item.line}): gold has a span without type/start/end")
        return spans

    def score_spans(
        self,
        gold: Sequence[Span],
        pred: Sequence[Span],
        *,
        unusable: int = 0,
        unplaced: Sequence[tuple[str, str]] = (),
    ) -> ItemScore:
        """Score parsed spans.

        Args:
            gold: the gold spans.
            pred: the placed, distinct predicted spans.
            unusable: predicted elements without a usable type/offsets/text; false positives.
            unplaced: ``(type, reason)`` of predictions that could not be placed in the input;
                false positives of that type.

        Returns:
            The item's score, with ``(tp, fp, fn)`` and per-type counts in ``details["fields"]``.
        """
        pairs = match_spans(gold, pred, self.mode)
        by_type: dict[str, list[int]] = {}
        for r, _ in pairs:
            by_type.setdefault(gold[r].type, [0, 0, 0])[0] += 1
        matched_gold = {r for r, _ in pairs}
        matched_pred = {c for _, c in pairs}
        for c, span in enumerate(pred):
            if c not in matched_pred:
                by_type.setdefault(span.type, [0, 0, 0])[1] += 1
        for r, span in enumerate(gold):
            if r not in matched_gold:
                by_type.setdefault(span.type, [0, 0, 0])[2] += 1
        if unusable:
            by_type.setdefault("(unusable)", [0, 0, 0])[1] += unusable
        unplaced_by_reason: dict[str, int] = {}
        for kind, why in unplaced:
            by_type.setdefault(kind, [0, 0, 0])[1] += 1
            unplaced_by_reason[why] = unplaced_by_reason.get(why, 0) + 1
        tp = sum(v[0] for v in by_type.values())
        fp = sum(v[1] for v in by_type.values())
        fn = sum(v[2] for v in by_type.values())
        score = f1_from_counts(tp, fp, fn)[2]
        canonical = json.dumps(sorted((s.start, s.end, s.type) for s in pred))
        reason = None
        if score < 1.0:
            # A prediction absent from the input (invented or altered text) is the more telling reason.
            reason = "not_in_input" if "not_in_input" in unplaced_by_reason else "wrong_spans"
        details: dict[str, Any] = {"fields": {k: tuple(v) for k, v in by_type.items()}}
        if unplaced_by_reason:
            details["unplaced"] = unplaced_by_reason
        return ItemScore(score, reason=reason, canonical=canonical, counts=(tp, fp, fn), details=details)

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Score each output's spans against the item's gold spans."""
        _check_lengths(outputs, items)
        results = []
        for output, item in zip(outputs, items):
            gold = self._gold(item)
            parsed = extract_json(output) if output is not None else None
            if not isinstance(parsed, (dict, list)):
                # Nothing usable: every gold span is missed, per type.
                result = self.score_spans(gold, [])
                result.valid, result.canonical = False, None
                result.reason = "no_output" if output is None else "parse_error"
                results.append(result)
                continue
            if self.config.locate == "offsets":
                pred, unusable = spans_of(parsed, self.config.list_field)
                results.append(self.score_spans(gold, pred, unusable=unusable))
                continue
            mentions, unusable = mentions_of(parsed, self.config.list_field)
            located = locate_mentions(mentions, self._input_text(item), self.config.locate)
            results.append(self.score_spans(gold, located.spans, unusable=unusable + located.unusable,
                                            unplaced=located.unplaced))
        return results

