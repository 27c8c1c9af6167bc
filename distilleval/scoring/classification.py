"""Exact match and classification metrics.

Normalisation is what the spec declares (case, whitespace, punctuation, aliases) and nothing
else. For label tasks every output is mapped onto the spec's label set; anything outside it
becomes the explicit ``INVALID`` class, which is wrong and reported as a rate. Per-class
metrics are counted over the full label set plus ``INVALID``, given explicitly, so an
unexpected output never silently becomes a new class (the same figures as scikit-learn's,
without its import: scoring a cached re-run stays fast).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from distilleval.errors import DataError
from distilleval.results.summary_json import MetricValue
from distilleval.scoring.base import ItemScore, Scorer, _check_lengths, no_output_score, rate_metric, rate_metric_of
from distilleval.spec.labels import LabelMatcher, normalize_text
from distilleval.spec.scorer_config import ExactMatchScorer

if TYPE_CHECKING:
    import numpy as np

    from distilleval.results.columns import ScoreColumns

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
        # Each distinct text (output or gold) is normalised once: a label task has few of them.
        canonicals: dict[str, str | None] = {}
        golds: dict[str, str] = {}
        return [self._score(output, self._gold_of(item, golds), canonicals) for output, item in zip(outputs, items)]

    def _gold_of(self, item: Any, known: dict[str, str]) -> str:
        """``_gold``, remembered in ``known`` by the gold's text."""
        if item.gold is None:
            return self._gold(item)
        found = known.get(str(item.gold))
        if found is None:
            found = known[str(item.gold)] = self._gold(item)
        return found

    def _score(self, output: str | None, gold: str, canonicals: dict[str, str | None]) -> ItemScore:
        """The score of ``output`` against the canonical ``gold``; ``canonicals`` remembers each text's."""
        if output is None:
            result = no_output_score()
            result.gold_canonical = gold
            return result
        if output in canonicals:
            predicted = canonicals[output]
        else:
            predicted = canonicals[output] = self._canonical(output)
        if predicted is None:
            # canonical None: two invalid outputs do not "agree" with each other.
            return ItemScore(0.0, valid=False, reason="invalid_label", canonical=None, gold_canonical=gold,
                             details={"output": output[:200]})
        right = predicted == gold
        return ItemScore(1.0 if right else 0.0, reason=None if right else "wrong_label", canonical=predicted,
                         gold_canonical=gold)

    def score_rows(self, outputs: Sequence[str | None],
                   items: Sequence[Any]) -> tuple[list[tuple[Any, ...]], dict[int, dict[str, Any]], type[ItemScore]]:
        """``score_items`` as plain rows, without an ``ItemScore`` per item: (score, valid, reason,
        canonical, gold_canonical, counts) per item, the non-empty details by position, and the class
        the rows read back as. ``results.build.SummaryBuilder`` scores a large run through this."""
        _check_lengths(outputs, items)
        golds: dict[str, str] = {}
        # A label task has few distinct (output, gold) pairs: each is scored once.
        scored: dict[tuple[str | None, str], tuple[Any, ...]] = {}
        rows = []
        details: dict[int, dict[str, Any]] = {}
        canonicals: dict[str, str | None] = {}
        for position, (output, item) in enumerate(zip(outputs, items)):
            gold = self._gold_of(item, golds)
            row = scored.get((output, gold))
            if row is None:
                score = self._score(output, gold, canonicals)
                row = scored[output, gold] = (score.score, score.valid, score.reason, score.canonical,
                                              score.gold_canonical, score.counts)
            if output is not None and row[3] is None:
                details[position] = {"output": output[:200]}
            rows.append(row)
        return rows, details, ItemScore

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

    def summarize_at(self, columns: ScoreColumns,
                     positions: np.ndarray) -> tuple[MetricValue, dict[str, float | None]]:
        """``summarize`` of the scores at ``positions`` of ``columns``, read as whole columns: the same
        figures without a record per item."""
        import numpy as np

        score = columns.column("score")[positions]
        metric = rate_metric_of("accuracy", score[~np.isnan(score)].tolist())
        answered = columns.column("reason")[positions] != columns.reasons.known_code("no_output")
        n_answered = int(np.count_nonzero(answered))
        invalid = int(np.count_nonzero(answered & ~columns.column("valid")[positions]))
        secondary: dict[str, float | None] = {"invalid_rate": invalid / n_answered if n_answered else None}
        if self.labels and len(positions):
            secondary.update(self._class_metrics(self.pair_counts_at(columns, positions)))
        return metric, secondary

    def class_metrics(self, scores: Sequence[ItemScore]) -> dict[str, float]:
        """Per-class and averaged metrics over the label set plus INVALID (explicit labels)."""
        return self._class_metrics(self._pair_counts(scores))

    def _class_metrics(self, pairs: Counter[tuple[str, str]]) -> dict[str, float]:
        labels = self.labels or []
        classes = labels + [INVALID]
        # Macro averages run over the spec's labels only: INVALID is never a gold class, so
        # averaging it in would add a class no model can get right. Micro averages include
        # it, so every INVALID prediction counts against precision (micro-F1 = accuracy).
        per_class = _class_counts_of(pairs, classes)
        averaged: dict[str, float] = {}
        macro = [precision_recall_f1(*per_class[label]) for label in labels]
        for i, name in enumerate(("precision", "recall", "f1")):
            averaged[f"macro_{name}"] = sum(row[i] for row in macro) / len(macro)
        totals = [sum(per_class[label][i] for label in classes) for i in range(3)]
        for name, value in zip(("precision", "recall", "f1"), precision_recall_f1(*totals)):
            averaged[f"micro_{name}"] = value
        for label, (p, r, f) in zip(labels, macro):
            averaged[f"precision/{label}"] = p
            averaged[f"recall/{label}"] = r
            averaged[f"f1/{label}"] = f
            averaged[f"support/{label}"] = float(per_class[label][2])
        averaged[f"predicted/{INVALID}"] = float(sum(n for (_, p), n in pairs.items() if p == INVALID))
        return averaged

    def _pair_counts(self, scores: Iterable[ItemScore]) -> Counter[tuple[str, str]]:
        """(gold, prediction) -> count, INVALID standing in for an invalid prediction or no gold."""
        return Counter((s.gold_canonical or INVALID, s.canonical if s.canonical is not None else INVALID)
                       for s in scores)

    def pair_counts_at(self, columns: ScoreColumns, positions: np.ndarray) -> Counter[tuple[str, str]]:
        """``_pair_counts`` of the scores at ``positions`` of ``columns``, counted over their codes."""
        import numpy as np

        # Each (gold, canonical) pair of codes as one number (codes start at -1), counted at once.
        width = len(columns.canonicals.values) + 1
        keys = (columns.column("gold")[positions].astype(np.int64) + 1) * width + columns.column("canonical")[positions] + 1
        found, counts = np.unique(keys, return_counts=True)
        pairs: Counter[tuple[str, str]] = Counter()
        for key, n in zip(found.tolist(), counts.tolist()):
            gold, canonical = key // width - 1, key % width - 1
            predicted = columns.canonicals.value(canonical)
            pairs[columns.golds.value(gold) or INVALID, predicted if predicted is not None else INVALID] += n
        return pairs

    def confusion(self, scores: Sequence[ItemScore]) -> dict[str, dict[str, int]]:
        """Gold label -> predicted label (or INVALID) -> count, over the full label set."""
        return self._confusion(self._pair_counts(scores))

    def confusion_at(self, columns: ScoreColumns, positions: np.ndarray) -> dict[str, dict[str, int]]:
        """``confusion`` of the scores at ``positions`` of ``columns``, read as whole columns."""
        return self._confusion(self.pair_counts_at(columns, positions))

    def _confusion(self, pairs: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
        if not self.labels:
            return {}
        return {
            gold: {pred: pairs[gold, pred] for pred in self.labels + [INVALID] if pairs[gold, pred]}
            for gold in self.labels
        }


def _class_counts_of(pairs: Counter[tuple[str, str]], labels: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """``class_counts`` from (truth, prediction) -> count."""
    wanted = set(labels)
    hits: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for (t, p), n in pairs.items():
        if t == p and t in wanted:
            hits[t] += n
        if p in wanted:
            predicted[p] += n
        if t in wanted:
            gold[t] += n
    return {label: (hits[label], predicted[label], gold[label]) for label in labels}


def class_counts(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """Label -> (true positives, predicted count, gold count) over paired truth and predictions.

    Counted here rather than with scikit-learn so that scoring a run (every cached re-run in CI)
    never imports scikit-learn and scipy.
    """
    wanted = set(labels)
    hits = Counter(t for t, p in zip(truth, predicted) if t == p and t in wanted)
    predicted_counts = Counter(p for p in predicted if p in wanted)
    gold_counts = Counter(t for t in truth if t in wanted)
    return {label: (hits[label], predicted_counts[label], gold_counts[label]) for label in labels}


def precision_recall_f1(true_positives: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision tp/predicted, recall tp/gold and their harmonic mean; 0.0 where a denominator is 0.

    >>> precision_recall_f1(3, 4, 6)
    (0.75, 0.5, 0.6)
    >>> precision_recall_f1(0, 0, 2)
    (0.0, 0.0, 0.0)
    """
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
