"""Reading a summary's per-item results, wherever they are kept.

A version-2 ``summary.json`` points at its rows in SQLite (``results.item_store``); a version-1
file, or a summary built in memory, holds them in ``Summary.items``. Every command reads them
through this module, which serves both: ``iter_items`` streams ``ItemResult`` objects in eval
order (never all at once from SQLite), and the compact accessors the statistics need (one model's
scores, the items whose call failed, latency samples) query only the columns they use and return
plain dicts, sets and lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from distilleval.results.item_store import HAS_CONFIDENCE, HAS_LATENCY, HAS_OUTPUT, HAS_SCORE, TRUNCATED, ItemSet
from distilleval.results.summary_json import ItemResult, Summary


def _stored(summary: Summary) -> ItemSet | None:
    """The summary's item set when its rows are in SQLite (None: they are in ``summary.items``)."""
    path = summary.item_store_path()
    if path is None or summary.item_store is None:
        return None
    return ItemSet(path, summary.item_store.set_id)


def _item(head: tuple[str, str | None, str], models: list[tuple[str, tuple[Any, ...]]]) -> ItemResult:
    item_id, gold, preview = head
    result = ItemResult(id=item_id, gold=gold, input_preview=preview)
    for name, (present, score, output, error, latency, reason, confidence) in models:
        if present & HAS_SCORE:
            result.scores[name] = score
        if present & HAS_OUTPUT:
            result.outputs[name] = output
        if error is not None:
            result.errors[name] = error
        if present & HAS_LATENCY:
            result.latency_ms[name] = latency
        if reason is not None:
            result.reasons[name] = reason
        if present & HAS_CONFIDENCE:
            result.confidence[name] = confidence
        if present & TRUNCATED:
            result.reached_max_tokens.append(name)
    return result


def iter_items(summary: Summary) -> Iterator[ItemResult]:
    """Every item's result in eval order, streamed (constant memory for a stored summary).

    Raises:
        DataError: the summary's item store is missing or unreadable.
    """
    stored = _stored(summary)
    if stored is None:
        yield from summary.items
        return
    for head, models in stored.rows():
        yield _item(head, models)


def item_ids(summary: Summary) -> list[str]:
    """Every item id in eval order."""
    stored = _stored(summary)
    return [item.id for item in summary.items] if stored is None else list(stored.item_ids())


def item_scores(summary: Summary, model: str) -> dict[str, float | None]:
    """Item id -> score of ``model`` (items the model has no score for are absent; a failed call
    is None, also in summaries written before failed calls were excluded)."""
    stored = _stored(summary)
    if stored is None:
        return {item.id: None if model in item.errors else item.scores[model]
                for item in summary.items if model in item.scores}
    return {item_id: None if error is not None else score
            for item_id, score, error in stored.model_rows(model, "m.score, m.error", f"m.present & {HAS_SCORE}")}


def paired_item_scores(a: Summary, a_model: str, b: Summary, b_model: str) -> tuple[np.ndarray, np.ndarray]:
    """Scores of ``a_model`` in ``a`` and ``b_model`` in ``b`` on the items both scored without a failed call,
    paired on the item id, in item id order: ``gate.paired.paired_scores`` of the two ``item_scores``, as
    float arrays. ``a`` and ``b`` may be one summary (two of its models) or two runs.

    Stored summaries are joined in SQLite, never as dicts of every item's id. Two models of one stored
    run scored 0/1 come in eval order instead: every statistic of paired 0/1 scores is a function of
    the counts (both, neither, only a, only b), and sorting a million ids was most of a report's time."""
    stored_a, stored_b = _stored(a), _stored(b)
    if stored_a is None or stored_b is None:
        scores_a, scores_b = item_scores(a, a_model), item_scores(b, b_model)
        common = sorted(k for k in scores_a.keys() & scores_b.keys()
                        if scores_a[k] is not None and scores_b[k] is not None)
        return (np.array([scores_a[k] for k in common], dtype=float),
                np.array([scores_b[k] for k in common], dtype=float))
    pair = np.dtype((float, 2))
    if stored_a.same_set(stored_b):
        pairs = np.fromiter(stored_a.paired_scores(a_model, stored_b, b_model, eval_order=True), dtype=pair)
        if bool(np.all((pairs == 0.0) | (pairs == 1.0))):
            return pairs[:, 0].copy(), pairs[:, 1].copy()
    pairs = np.fromiter(stored_a.paired_scores(a_model, stored_b, b_model), dtype=pair)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def failed_ids(summary: Summary, model: str) -> set[str]:
    """Ids of the items whose call of ``model`` failed."""
    stored = _stored(summary)
    if stored is None:
        return {item.id for item in summary.items if model in item.errors}
    return {row[0] for row in stored.model_rows(model, "m.error", "m.error IS NOT NULL")}


def judge_passes(summary: Summary, model: str) -> dict[str, bool]:
    """Item id -> whether the judge passed ``model``'s answer (items without a verdict are absent)."""
    stored = _stored(summary)
    if stored is None:
        return {item.id: item.reasons.get(model) != "judge_fail" for item in summary.items
                if model not in item.errors and item.scores.get(model) is not None}
    return {item_id: reason != "judge_fail" for item_id, reason in
            stored.model_rows(model, "m.reason", "m.error IS NULL AND m.score IS NOT NULL")}


def latency_samples(summary: Summary, model: str, limit: int | None = None) -> list[float]:
    """``model``'s recorded per-call latencies above zero, in eval order, at most ``limit`` of them."""
    stored = _stored(summary)
    if stored is None:
        samples = [item.latency_ms.get(model) for item in summary.items]
        kept = [v for v in samples if v is not None and v > 0]
        return kept if limit is None else kept[:limit]
    return [row[1] for row in stored.model_rows(model, "m.latency_ms", "m.latency_ms > 0", limit=limit)]


def gold_and_outputs(summary: Summary, model: str) -> tuple[list[str], list[str | None]]:
    """(gold answers, ``model``'s outputs) of the items with a gold answer that ``model`` answered
    (a failed call is missing data: left out), aligned, in eval order."""
    stored = _stored(summary)
    if stored is None:
        answered = [item for item in summary.items
                    if model in item.outputs and model not in item.errors and item.gold is not None]
        return [item.gold for item in answered if item.gold is not None], [item.outputs[model] for item in answered]
    golds: list[str] = []
    outputs: list[str | None] = []
    for _, gold, output in stored.model_rows(model, "i.gold, m.output",
                                             f"m.present & {HAS_OUTPUT} AND m.error IS NULL AND i.gold IS NOT NULL"):
        golds.append(gold)
        outputs.append(output)
    return golds, outputs


def has_outputs(summary: Summary, model: str) -> bool:
    """Whether any item records an output (or a None output) of ``model``."""
    stored = _stored(summary)
    if stored is None:
        return any(model in item.outputs for item in summary.items)
    return next(stored.model_rows(model, "1", f"m.present & {HAS_OUTPUT}", limit=1), None) is not None
