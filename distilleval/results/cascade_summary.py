"""The spec's cascades as ``summary.json`` rows: each one's curve over a fixed threshold grid, and
the operating threshold chosen on a calibration part of the eval items and reported on the rest.

The math is ``results.cascades``'s; this module only lines a run's per-item figures up for it
(items both models answered, the first model's confidence, each call's cost and latency) and
writes the result in the summary's shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distilleval.results.summary_json import CascadeChoice, CascadePointResult, CascadeResult


def thresholds() -> tuple[float, ...]:
    """The curve's fixed grid (``cascades.fixed_threshold_grid``): the same rows for every run, so
    curves compare and stream, and the thresholds the guarantee's choice is made among."""
    from distilleval.results.cascades import fixed_threshold_grid

    return fixed_threshold_grid()


def guarantee_text(delta: float, margin: float, fallback: str) -> str:
    """The guarantee a chosen threshold carries, in words."""
    return (f"with probability at least {1 - delta:.0%}, the cascade's error rate is at most {fallback}'s "
            f"plus {margin:.1%} (threshold chosen on the calibration items)")


def cascade_items(first: Sequence[Any], fallback: Sequence[Any], first_scores: Sequence[Any],
                  fallback_scores: Sequence[Any], item_ids: Sequence[str]) -> Any:
    """``CascadeItems`` over the items both models answered and scored.

    Args:
        first, fallback: ``build.ModelOutput`` per item, aligned with ``item_ids``.
        first_scores, fallback_scores: ``scoring.ItemScore`` per item, aligned likewise.
    """
    import numpy as np

    from distilleval.results.cascades import CascadeItems

    # One pass in item order (the outputs and scores may be columns that build each record as it is read).
    kept: list[list[Any]] = [[] for _ in range(8)]
    for item_id, a, b, a_score, b_score in zip(item_ids, first, fallback, first_scores, fallback_scores):
        if a.error_kind is None and b.error_kind is None and a_score.score is not None and b_score.score is not None:
            for values, value in zip(kept, (item_id, a_score.score, a.confidence, b_score.score, a.cost_usd,
                                            b.cost_usd, a.latency_ms, b.latency_ms)):
                values.append(value)
    ids, first_correct, first_confidence, fallback_correct, first_cost, fallback_cost, first_latency, fallback_latency = kept

    def column(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

    return CascadeItems(
        item_ids=np.array(ids, dtype=object),
        first_correct=column(first_correct),
        first_confidence=column(first_confidence),
        fallback_correct=column(fallback_correct),
        first_cost_usd=column(first_cost),
        fallback_cost_usd=column(fallback_cost),
        first_latency_ms=column(first_latency),
        fallback_latency_ms=column(fallback_latency),
    )


def cascade_result(spec: Any, cascade: Any, outputs: Mapping[str, Sequence[Any]], scores: Mapping[str, Sequence[Any]],
                   item_ids: Sequence[str], bases: Mapping[str, str | None]) -> CascadeResult:
    """One ``CascadeResult`` for the spec's ``cascade`` from a run's aligned outputs and scores.

    A cascade over a model this run did not call, or whose first model gave no confidence,
    gets ``unavailable`` with the reason and no curve.
    """
    from distilleval.results.cascades import cascade_curve, choose_and_evaluate

    result = CascadeResult(name=cascade.name, first=cascade.first, fallback=cascade.fallback,
                           confidence_basis=bases.get(cascade.first))
    missing = [name for name in (cascade.first, cascade.fallback) if name not in outputs]
    if missing:
        result.unavailable = f"{' and '.join(missing)} not called in this run"
        return result
    if result.confidence_basis is None:
        result.unavailable = f"{cascade.first} gave no confidence with its answers (its route returns none)"
        return result
    items = cascade_items(outputs[cascade.first], outputs[cascade.fallback], scores[cascade.first],
                          scores[cascade.fallback], item_ids)
    result.n_items = len(items.item_ids)
    if not result.n_items:
        result.unavailable = "no eval item was answered by both models"
        return result
    grid = thresholds()
    result.curve = [CascadePointResult(**vars(point)) for point in cascade_curve(items, grid)]
    margin = spec.cascade_margin(cascade)
    choice, evaluation = choose_and_evaluate(items, margin=margin, delta=cascade.delta,
                                             calibration_fraction=cascade.calibration_fraction, thresholds=grid)
    chosen = CascadeChoice(
        threshold=choice.threshold, method=choice.method, delta=choice.delta, margin=choice.margin,
        calibration_items=choice.n_calibration, test_items=evaluation.n_test if evaluation else 0,
        upper_bound_excess_error=choice.upper_bound_excess_error, guarantee_met=choice.threshold is not None,
        guarantee=guarantee_text(cascade.delta, margin, cascade.fallback),
    )
    if evaluation is not None:
        # With no threshold certified every item goes to the fallback: these are its figures then.
        accuracy = evaluation.accuracy
        chosen.test_accuracy = accuracy.estimate
        if accuracy.low is not None and accuracy.high is not None:
            chosen.test_accuracy_interval = [accuracy.low, accuracy.high]
        chosen.deferral_rate, chosen.cost_per_request_usd = evaluation.deferral_rate, evaluation.cost_per_request_usd
    result.chosen = chosen
    return result


def routing_policy(spec: Any, cascade: CascadeResult, models: Mapping[str, Any]) -> dict[str, Any]:
    """The policy a service loads for one cascade: which model answers first, which takes the
    rest, the confidence rule and the threshold, and the guarantee it was chosen under."""
    def model_of(name: str) -> dict[str, Any]:
        found = models.get(name)
        return {"name": name, "model": getattr(found, "model", None)}

    chosen = cascade.chosen
    return {
        "cascade": cascade.name,
        "first": model_of(cascade.first),
        "fallback": model_of(cascade.fallback),
        "confidence": {
            "basis": cascade.confidence_basis,
            "rule": "answer with first when its confidence >= threshold; otherwise (or with no confidence) ask "
                    "fallback; threshold null: ask fallback for every request (no threshold met the guarantee)",
        },
        "threshold": chosen.threshold if chosen else None,
        "guarantee_met": bool(chosen and chosen.guarantee_met),
        "guarantee": chosen.guarantee if chosen else None,
        "delta": chosen.delta if chosen else None,
        "margin": chosen.margin if chosen else None,
        "method": chosen.method if chosen else None,
        "spec": spec.name,
    }
