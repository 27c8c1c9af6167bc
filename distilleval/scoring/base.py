"""What every scorer returns and the small base class they share.

A scorer turns raw model outputs into one ``ItemScore`` per item, then summarises a model's
item scores into its primary metric (with a confidence interval) and secondary metrics. The
primary metric of every built-in scorer is a ratio of per-item sums (accuracy: score / 1;
micro-F1: 2·TP / (2·TP + FP + FN)), which ``metric_rows`` exposes so the paired bootstrap can
recompute the whole metric on each resample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from distilleval.results.summary_json import MetricValue


@dataclass
class ItemScore:
    """The score of one output on one item.

    Attributes:
        score: in [0, 1]; None means excluded from the denominator (e.g. the gold query
            failed, or a custom scorer raised), never a silent 0.
        valid: the output parsed / was inside the label set / was safe, runnable SQL.
        reason: why it is not a plain right answer (``invalid_label``, ``parse_error``,
            ``unsafe``, ``timeout``, ``error``, ``wrong_result``, ``no_output``, ...).
        canonical: the normalised prediction, compared across models for agreement.
        gold_canonical: the normalised gold (labels), for per-class metrics.
        counts: ``(tp, fp, fn)`` for F1-type scorers, summed for micro averages.
        details: scorer-specific extras (per-field counts, error text).
    """

    score: float | None
    valid: bool = True
    reason: str | None = None
    canonical: str | None = None
    gold_canonical: str | None = None
    counts: tuple[int, int, int] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def no_output_score() -> ItemScore:
    """The score of a failed call (no text): 0, and the caller counts the error."""
    return ItemScore(score=0.0, valid=False, reason="no_output")


class Scorer:
    """Base class of the built-in scorers.

    Subclasses set ``kind`` and ``primary_metric`` and implement ``score_items`` and
    ``summarize``. ``metric_rows`` defaults to per-item scores (mean-type metrics).
    """

    kind: str = ""
    primary_metric: str = "score"
    micro_averaged: bool = False
    """True when the primary metric is a ratio of summed counts (micro-F1), not a mean of
    per-item scores; paired comparisons then use ``metric_rows`` (bootstrap-t with items
    resampled whole, or a count-based bound) instead of the 0/1 score test."""

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Score ``outputs[i]`` against ``items[i]``; None outputs score 0 (``no_output``)."""
        raise NotImplementedError

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """The primary metric with its interval, and secondary metrics by name."""
        raise NotImplementedError

    def metric_rows(self, scores: Sequence[ItemScore]) -> list[tuple[float, float]]:
        """Per-item ``(numerator, denominator)`` of the primary metric (see module doc)."""
        return [(0.0, 0.0) if s.score is None else (float(s.score), 1.0) for s in scores]

    def close(self) -> None:
        """Release resources (worker processes); a no-op for most scorers."""

    def __enter__(self) -> "Scorer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_lengths(outputs: Sequence[object], items: Sequence[object]) -> None:
    if len(outputs) != len(items):
        raise ValueError(f"one output per item is needed: {len(outputs)} outputs for {len(items)} items")


def rate_metric(name: str, scores: Sequence[ItemScore], *, confidence: float = 0.95) -> MetricValue:
    """Mean of the non-excluded scores with its interval: Clopper–Pearson for 0/1 scores, else
    ``distilleval.results.intervals.mean_interval`` (bootstrap-t, or count-based when few items
    carry information); never zero width."""
    return rate_metric_of(name, [s.score for s in scores if s.score is not None], confidence=confidence)


def rate_metric_of(name: str, values: list[float], *, confidence: float = 0.95) -> MetricValue:
    """``rate_metric`` of the non-excluded scores ``values`` themselves."""
    from distilleval.results import intervals

    if not values:
        return MetricValue(name=name, value=None, confidence=confidence)
    interval = intervals.mean_interval(values, confidence=confidence)
    return MetricValue(name=name, value=sum(values) / len(values), ci_low=interval.low, ci_high=interval.high,
                       ci_method=interval.method, confidence=confidence)


def f1_from_counts(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts; with nothing to find and nothing predicted all
    three are 1.0 (empty agrees with empty), never a division by zero.

    >>> f1_from_counts(0, 0, 0)
    (1.0, 1.0, 1.0)
    >>> f1_from_counts(1, 1, 0)
    (0.5, 1.0, 0.6666666666666666)
    """
    if tp + fp + fn == 0:
        return 1.0, 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn)
    return precision, recall, f1


def micro_f1_metric(name: str, scores: Sequence[ItemScore], *, confidence: float = 0.95) -> MetricValue:
    """Micro-F1 over all items' counts with ``distilleval.results.intervals.ratio_interval``
    (bootstrap-t with items resampled whole, or count-based over the effective number of items)."""
    from distilleval.results import intervals

    rows = counts_rows(scores)
    if not rows:
        return MetricValue(name=name, value=None, confidence=confidence)
    interval = intervals.ratio_interval(rows, confidence=confidence)
    if interval.estimate is None:  # no counts at all: every gold and prediction empty
        items = len(rows)
        low, high = intervals.clopper_pearson(items, items, confidence=confidence)
        return MetricValue(name=name, value=1.0, ci_low=low, ci_high=high,
                           ci_method=intervals.COUNT_BASED.format(items=items), confidence=confidence)
    return MetricValue(name=name, value=interval.estimate, ci_low=interval.low, ci_high=interval.high,
                       ci_method=interval.method, confidence=confidence)


def counts_rows(scores: Sequence[ItemScore]) -> list[tuple[float, float]]:
    """``(2·TP, 2·TP + FP + FN)`` per scored item, the rows of micro-F1."""
    rows = []
    for s in scores:
        if s.score is None:
            continue
        tp, fp, fn = s.counts or (0, 0, 0)
        rows.append((2.0 * tp, 2.0 * tp + fp + fn))
    return rows


def sum_counts(scores: Sequence[ItemScore]) -> tuple[int, int, int]:
    """Total ``(TP, FP, FN)`` over scored items."""
    tp = fp = fn = 0
    for s in scores:
        if s.score is not None and s.counts:
            tp, fp, fn = tp + s.counts[0], fp + s.counts[1], fn + s.counts[2]
    return tp, fp, fn


def field_secondary(scores: Sequence[ItemScore]) -> dict[str, float | None]:
    """Secondary metrics shared by the F1-type scorers (JSON fields and spans)."""
    scored = [s for s in scores if s.score is not None]
    answered = [s for s in scores if s.reason != "no_output"]
    tp, fp, fn = sum_counts(scores)
    precision, recall, _ = f1_from_counts(tp, fp, fn)
    secondary: dict[str, float | None] = {
        "precision": precision if scored else None,
        "recall": recall if scored else None,
        "item_macro_f1": sum(s.score or 0.0 for s in scored) / len(scored) if scored else None,
        "exact_items": sum(1 for s in scored if s.score == 1.0) / len(scored) if scored else None,
        "parse_failure_rate": (
            sum(1 for s in answered if s.reason == "parse_error") / len(answered) if answered else None
        ),
    }
    per_field: dict[str, list[int]] = {}
    for s in scored:
        for name, (ftp, ffp, ffn) in s.details.get("fields", {}).items():
            total = per_field.setdefault(name, [0, 0, 0])
            total[0] += ftp
            total[1] += ffp
            total[2] += ffn
    for name in sorted(per_field):
        secondary[f"f1/{name}"] = f1_from_counts(*per_field[name])[2]
    return secondary


class MicroF1Scorer(Scorer):
    """Base of the F1-type scorers (JSON fields, spans): micro-F1 over summed TP / FP / FN.

    Subclasses set ``kind`` and ``primary_metric``, implement ``score_items`` with
    ``ItemScore.counts`` and per-field counts in ``details["fields"]``.
    """

    micro_averaged = True

    def metric_rows(self, scores: Sequence[ItemScore]) -> list[tuple[float, float]]:
        """``(2·TP, 2·TP + FP + FN)`` per item, ``(0, 0)`` for unscored ones: micro-F1 as a ratio of sums."""
        rows = []
        for s in scores:
            tp, fp, fn = s.counts if s.score is not None and s.counts else (0, 0, 0)
            rows.append((2.0 * tp, 2.0 * tp + fp + fn))
        return rows

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """Micro F1 (``micro_f1_metric``'s interval) and ``field_secondary``: precision, recall, per-item
        macro F1, exact items, parse-failure rate and ``f1/<field>`` per field or type."""
        return micro_f1_metric(self.primary_metric, scores), field_secondary(scores)
