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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distilleval.errors import DataError
from distilleval.scoring.base import ItemScore, Scorer, _check_lengths, f1_from_counts, micro_f1_metric
from distilleval.scoring.config import SpansScorer
from distilleval.scoring.json_fields import extract_json, field_secondary
from distilleval.summary import MetricValue

_TYPE_KEYS = ("type", "entity_type", "label")
_START_KEYS = ("start", "start_position", "begin")
_END_KEYS = ("end", "end_position")


@dataclass(frozen=True)
class Span:
    """A typed character range ``[start, end)``."""

    start: int
    end: int
    type: str


def _first(record: dict, keys: Sequence[str]) -> Any:
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
    return Span(start, end, kind.strip().upper())


def spans_of(value: Any, list_field: str) -> tuple[list[Span], int]:
    """Distinct spans of an output or gold (a list, or an object holding ``list_field``),
    and how many elements were unusable."""
    if isinstance(value, dict):
        value = value.get(list_field, [])
    if not isinstance(value, list):
        return [], 0
    spans: list[Span] = []
    unusable = 0
    for element in value:
        span = parse_span(element)
        if span is None:
            unusable += 1
        elif span not in spans:
            spans.append(span)
    return spans, unusable


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


class Spans(Scorer):
    """Span F1 under the configured mode, overall and per entity type.

    Args:
        config: the spec's ``spans`` scorer section.
    """

    kind = "spans"
    primary_metric = "span_f1"
    micro_averaged = True

    def __init__(self, config: SpansScorer):
        self.config = config
        self.mode = config.mode

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

    def score_spans(self, gold: Sequence[Span], pred: Sequence[Span], *, unusable: int = 0) -> ItemScore:
        """Score parsed spans; ``unusable`` predicted elements count as false positives."""
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
        tp = sum(v[0] for v in by_type.values())
        fp = sum(v[1] for v in by_type.values())
        fn = sum(v[2] for v in by_type.values())
        score = f1_from_counts(tp, fp, fn)[2]
        canonical = json.dumps(sorted((s.start, s.end, s.type) for s in pred))
        return ItemScore(score, reason=None if score == 1.0 else "wrong_spans", canonical=canonical,
                         counts=(tp, fp, fn), details={"fields": {k: tuple(v) for k, v in by_type.items()}})

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
            pred, unusable = spans_of(parsed, self.config.list_field)
            results.append(self.score_spans(gold, pred, unusable=unusable))
        return results

    def metric_rows(self, scores: Sequence[ItemScore]) -> list[tuple[float, float]]:
        """``(2·TP, 2·TP + FP + FN)`` per item: micro span F1 as a ratio of sums."""
        rows = []
        for s in scores:
            tp, fp, fn = s.counts if s.score is not None and s.counts else (0, 0, 0)
            rows.append((2.0 * tp, 2.0 * tp + fp + fn))
        return rows

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """Micro span F1 (bootstrap interval); precision, recall and ``f1/<TYPE>``."""
        return micro_f1_metric(self.primary_metric, scores), field_secondary(scores)
