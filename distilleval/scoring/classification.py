"""Exact match and classification metrics.

Normalisation is what the spec declares (case, whitespace, punctuation, aliases) and nothing
else. For label tasks every output is mapped onto the spec's label set; anything outside it
becomes the explicit ``INVALID`` class, which is wrong and reported as a rate. Per-class
metrics are computed with scikit-learn over the full label set plus ``INVALID``, given
explicitly as ``labels=``, so an unexpected output never silently becomes a new class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distilleval.errors import DataError
from distilleval.results.summary_json import MetricValue
from distilleval.scoring.base import ItemScore, Scorer, _check_lengths, no_output_score, rate_metric
from distilleval.spec.labels import LabelMatcher, normalize_text
from distilleval.spec.scorer_config import ExactMatchScorer

INVALID = "INVALID"
"""The class of outputs outside the label set (never a label a spec may declare)."""


class ExactMatch(Scorer):
    """Exact match; with a label set, also per-class precision / recall / F1.

    Args:
        config: the spec's ``exact_match`` scorer section.
        labels: the spec's label set (``output.labels``), or None for free-text exact match.
    """

    kind = "exact_match"
    primary_metric = "accuracy"

    def __init__(self, config: ExactMatchScorer, labels: Sequence[str] | None = None):
        unknown = sorted(set(config.aliases) - set(labels or config.aliases))
        if unknown:
            raise DataError(f"scorer.aliases names {unknown[0]!r}, which is not one of the spec's labels")
        if labels and INVALID in labels:
            raise DataError(f"{INVALID!r} is reserved for outputs outside the label set; rename that label")
        self.config = config
        self.labels = list(labels) if labels else None
        self.matcher = LabelMatcher(labels, config.normalize, config.aliases) if labels else None

    def _canonical(self, text: str) -> str | None:
        if self.matcher is not None:
            return self.matcher.match(text)
        return normalize_text(text, self.config.normalize)

    def _gold(self, item: Any) -> str:
        gold = item.gold
        if gold is None:
            raise DataError(f"item {item.id!r} (line {item.line}) has no gold answer to score against")
        canonical = self._canonical(str(gold))
        if canonical is None:
            raise DataError(
                f"item {item.id!r} (line {item.line}): gold {gold!r} is not one of the spec's labels"
            )
        return canonical

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Score each output: 1.0 when its canonical form equals the gold's, else 0.0."""
        _check_lengths(outputs, items)
        scores = []
        for output, item in zip(outputs, items):
            gold = self._gold(item)
            if output is None:
                result = no_output_score()
                result.gold_canonical = gold
                scores.append(result)
                continue
            predicted = self._canonical(output)
            if predicted is None:
                # canonical None: two invalid outputs do not "agree" with each other.
                scores.append(ItemScore(0.0, valid=False, reason="invalid_label", canonical=None,
                                        gold_canonical=gold, details={"output": output[:200]}))
                continue
            right = predicted == gold
            scores.append(ItemScore(1.0 if right else 0.0, reason=None if right else "wrong_label",
                                    canonical=predicted, gold_canonical=gold))
        return scores

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """Accuracy (Wilson interval), invalid rate, and for label tasks macro/micro F1 and
        per-class ``precision/<label>``, ``recall/<label>``, ``f1/<label>``."""
        metric = rate_metric("accuracy", scores)
        answered = [s for s in scores if s.reason != "no_output"]
        invalid = sum(1 for s in answered if not s.valid)
        secondary: dict[str, float | None] = {
            "invalid_rate": invalid / len(answered) if answered else None,
        }
        if self.labels and scores:
            secondary.update(self.class_metrics(scores))
        return metric, secondary

    def class_metrics(self, scores: Sequence[ItemScore]) -> dict[str, float]:
        """Per-class and averaged metrics over the label set plus INVALID (sklearn, explicit labels)."""
        from sklearn.metrics import precision_recall_fscore_support

        truth, predicted = self._pairs(scores)
        classes = self.labels + [INVALID]
        # Macro averages run over the spec's labels only: INVALID is never a gold class, so
        # averaging it in would add a class no model can get right. Micro averages include
        # it, so every INVALID prediction counts against precision (micro-F1 = accuracy).
        averaged: dict[str, float] = {}
        for average, labels in (("macro", self.labels), ("micro", classes)):
            p, r, f, _ = precision_recall_fscore_support(
                truth, predicted, labels=labels, average=average, zero_division=0.0
            )
            averaged.update({f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)})
        p, r, f, support = precision_recall_fscore_support(
            truth, predicted, labels=self.labels, average=None, zero_division=0.0
        )
        for i, label in enumerate(self.labels):
            averaged[f"precision/{label}"] = float(p[i])
            averaged[f"recall/{label}"] = float(r[i])
            averaged[f"f1/{label}"] = float(f[i])
            averaged[f"support/{label}"] = float(support[i])
        averaged[f"predicted/{INVALID}"] = float(sum(1 for x in predicted if x == INVALID))
        return averaged

    def _pairs(self, scores: Sequence[ItemScore]) -> tuple[list[str], list[str]]:
        truth = [s.gold_canonical or INVALID for s in scores]
        predicted = [s.canonical if s.canonical is not None else INVALID for s in scores]
        return truth, predicted

    def confusion(self, scores: Sequence[ItemScore]) -> dict[str, dict[str, int]]:
        """Gold label -> predicted label (or INVALID) -> count, over the full label set."""
        from sklearn.metrics import confusion_matrix

        if not self.labels:
            return {}
        classes = self.labels + [INVALID]
        truth, predicted = self._pairs(scores)
        matrix = confusion_matrix(truth, predicted, labels=classes)
        return {
            gold: {pred: int(matrix[i, j]) for j, pred in enumerate(classes) if matrix[i, j]}
            for i, gold in enumerate(self.labels)
        }
