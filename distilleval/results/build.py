"""Build ``summary.json`` from the outputs of one or more models on the same items.

``score``, ``eval`` and ``run`` all call ``build_summary`` so that a summary means the same
thing whichever command wrote it: the same scorer, the same intervals, the same paired
comparisons (teacher vs student, teacher vs each baseline) and the same definitions of
error rate, invalid rate, latency (cache hits excluded) and cost per request.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from distilleval.results.summary_json import (
    Basis,
    Comparison,
    Distribution,
    ItemResult,
    LatencyFigures,
    ModelResult,
    SourceRef,
    Summary,
)

if TYPE_CHECKING:
    from distilleval.costs.pricing import PricingTable
    from distilleval.results.scorer_interface import ItemScorer
    from distilleval.spec.task_spec import TaskSpec

Role = Literal["teacher", "student", "candidate", "baseline", "other"]
PREVIEW_CHARS = 200


@dataclass
class ModelOutput:
    """What one model returned for one item.

    Attributes:
        item_id: the item's id.
        text: the raw output, or None when the call failed.
        error_kind: the failure kind (``timeout``, ``rate_limited``, ``missing``, ...) or None.
        input_tokens: prompt tokens billed (None when unknown).
        output_tokens: completion tokens billed.
        latency_ms: wall time of the call.
        cost_usd: what the call costs at the pricing table (also for cache hits, so cost per
            request reflects the real price; money spent excludes cache hits).
        cache_hit: the output came from the local cache, not a call.
        cached_input_tokens: the part of ``input_tokens`` the provider read from its prompt cache.
        cache_write_tokens: the part of ``input_tokens`` the provider wrote to its prompt cache.
        finish_reason: why generation stopped (``stop``, ``length``, ...; None when unknown);
            ``length`` means the answer was cut at max_tokens.
        error_reason: for a call lost with its whole batch (failed, expired, ended without a
            result), the batch's reason (``token_limit_exceeded: ...``); None otherwise.
        confidence: how sure the model was of this answer, in [0, 1] (None: the route gave none).
        confidence_basis: how ``confidence`` was computed (``token_logprobs:mean``, ``class_probability``).
    """

    item_id: str
    text: str | None
    error_kind: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    cost_usd: float = 0.0
    cache_hit: bool = False
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None
    error_reason: str | None = None
    confidence: float | None = None
    confidence_basis: str | None = None

    @property
    def truncated(self) -> bool:
        """The answer was cut at max_tokens."""
        return self.finish_reason == "length" and self.error_kind is None


@dataclass
class ModelRun:
    """One model's outputs plus what the summary needs to know about the model.

    Attributes:
        name: the key in ``summary.models`` (``teacher``, ``student``, a baseline name, ...).
        role: teacher, student, baseline or other.
        model: the model id (LiteLLM id, tinker:// path, baseline kind).
        outputs: one ``ModelOutput`` per item (items without one count as ``missing``).
        display_name: for reports; default ``model``.
        basis: ``measured`` when called in this run, ``reference`` for gold stand-ins.
        cost_per_request_usd: overrides the mean of ``cost_usd`` (e.g. CPU-time pricing).
        cost_basis: how the cost was obtained; default measured when tokens were counted.
        notes: free-text notes shown in reports.
        batch: the calls were priced at the provider's batch tier.
        batch_api: the provider whose batch API answered the calls (None: called one by one).
        latency: how the calls were made (concurrency, loop lag, probe); the summary adds the
            cached calls' original figures and the client-bound flag.
    """

    name: str
    role: Role
    model: str
    outputs: Sequence[ModelOutput]
    display_name: str | None = None
    basis: Basis = "measured"
    cost_per_request_usd: float | None = None
    cost_basis: Basis | None = None
    notes: list[str] = field(default_factory=list)
    batch: bool = False
    priced_as: str | None = None
    batch_api: str | None = None
    latency: LatencyFigures | None = None


def distribution(values: Sequence[float]) -> Distribution | None:
    """Mean and p50/p95/p99 of ``values`` (None when empty)."""
    import numpy as np

    if not values:
        return None
    array = np.asarray(values, dtype=float)
    p50, p95, p99 = np.percentile(array, [50, 95, 99])
    return Distribution(n=len(array), mean=float(array.mean()), p50=float(p50), p95=float(p95), p99=float(p99))


def _aligned(run: ModelRun, items: Sequence[Any]) -> list[ModelOutput]:
    by_id = {output.item_id: output for output in run.outputs}
    return [by_id.get(item.id) or ModelOutput(item_id=item.id, text=None, error_kind="missing") for item in items]


def _text(output: ModelOutput) -> str | None:
    return None if output.error_kind is not None else output.text


def _excluding_failed_calls(outputs: list[ModelOutput], scores: list[Any]) -> list[Any]:
    """The scores with every failed call's turned into an exclusion (score None): a failed call
    is missing data, never a wrong answer, so no metric or paired comparison counts it."""
    import dataclasses

    return [
        dataclasses.replace(s, score=None, valid=False, reason=None, canonical=None, counts=None)
        if o.error_kind is not None else s
        for o, s in zip(outputs, scores)
    ]


def _latency_figures(run: ModelRun, outputs: list[ModelOutput], under_load: Distribution | None) -> LatencyFigures | None:
    """The run's latency context plus the cached calls' original figures and the client-bound rule."""
    from distilleval.results.latency import client_bound_reason

    original = distribution([o.latency_ms for o in outputs if o.latency_ms is not None and o.cache_hit])
    if run.latency is None and original is None:
        return None
    figures = (run.latency or LatencyFigures()).model_copy(update={"original_ms": original})
    reason = client_bound_reason(figures.loop_lag_ms, under_load)
    unloaded_reason = client_bound_reason(figures.unloaded_loop_lag_ms, figures.unloaded_ms)
    return figures.model_copy(update={
        "client_bound": reason is not None, "client_bound_reason": reason,
        "unloaded_client_bound": unloaded_reason is not None, "unloaded_client_bound_reason": unloaded_reason,
    })


def _model_result(run: ModelRun, outputs: list[ModelOutput], scores: list[Any], scorer: ItemScorer, mode: str) -> ModelResult:
    n = len(outputs)
    errors = Counter(o.error_kind for o in outputs if o.error_kind is not None)
    answered = [(o, s) for o, s in zip(outputs, scores) if _text(o) is not None]
    # The metric, its interval and the confusion are over the answered items only.
    metric, secondary = scorer.summarize([s for _, s in answered])
    # One definition of invalid wherever it is printed (table, summary.json, metrics, confusion):
    # an answer that is not a valid output of the spec's kind, over the answered items, whether
    # or not it was cut at max_tokens.
    invalid = sum(1 for _, s in answered if not s.valid)
    # Token figures are of answered calls; a failed call the provider billed counts only in spent_usd.
    answered_calls = [o for o in outputs if o.error_kind is None]
    confident = [o for o in answered_calls if o.confidence is not None]
    priced = [o for o in answered_calls if o.input_tokens is not None]
    cost = run.cost_per_request_usd
    if cost is None and priced:
        cost = sum(o.cost_usd for o in priced) / len(priced)
    cost_basis = run.cost_basis or ("measured" if priced and mode == "online" else "projected")
    # Latency is of answers: a failed call (a fast 429, a timeout) says nothing about how fast the model answers.
    under_load = distribution([o.latency_ms for o in outputs
                               if o.latency_ms is not None and not o.cache_hit and o.error_kind is None])
    result = ModelResult(
        role=run.role,
        model=run.model,
        display_name=run.display_name or run.model,
        basis=run.basis,
        metric=metric,
        metrics=secondary,
        n=n,
        n_scored=sum(1 for s in scores if s.score is not None),
        errors=dict(errors),
        error_rate=sum(errors.values()) / n if n else 0.0,
        invalid_rate=invalid / len(answered) if answered else None,
        input_tokens=distribution([o.input_tokens for o in answered_calls if o.input_tokens is not None]),
        cached_input_tokens_total=float(sum(o.cached_input_tokens for o in answered_calls if o.input_tokens is not None)),
        cache_write_tokens_total=float(sum(o.cache_write_tokens for o in answered_calls if o.input_tokens is not None)),
        batch=run.batch,
        priced_as=run.priced_as,
        batch_api=run.batch_api,
        output_tokens=distribution([o.output_tokens for o in answered_calls if o.output_tokens is not None]),
        latency_ms=under_load,
        latency=_latency_figures(run, outputs, under_load),
        # An answer cut at max_tokens is judged on its content like any other: a valid label or
        # valid JSON scores as such; only the ones that are not a valid output need more room.
        truncated=sum(1 for o in outputs if o.truncated),
        truncated_invalid=sum(1 for o, s in answered if o.truncated and not s.valid),
        cache_hits=sum(1 for o in outputs if o.cache_hit),
        confidence_basis=confident[0].confidence_basis if confident else None,
        n_confident=len(confident),
        cost_per_request_usd=cost,
        cost_basis=cost_basis,
        # A failed call costs what the provider billed for it (an answer lost to thinking), usually nothing.
        spent_usd=sum(o.cost_usd for o in outputs if not o.cache_hit)
        + (run.latency.probe_spent_usd if run.latency is not None else 0.0),
        notes=list(run.notes),
        reasons=dict(Counter(s.reason for s in scores if s.reason is not None)),
        error_reasons=dict(Counter(f"{o.error_kind}: {o.error_reason}" for o in outputs
                                   if o.error_kind is not None and o.error_reason)),
    )
    if hasattr(scorer, "confusion") and getattr(scorer, "labels", None):
        result.confusion = scorer.confusion([s for _, s in answered])
    return result


def comparison_pairs(runs: Sequence[ModelRun]) -> list[tuple[str, str]]:
    """Which models are compared: (teacher, student), (teacher, each candidate) and (teacher, each
    baseline); with no teacher, the first model against each other one."""
    by_role: dict[str, list[str]] = {}
    for run in runs:
        by_role.setdefault(run.role, []).append(run.name)
    if "teacher" in by_role:
        reference = by_role["teacher"][0]
        others = (by_role.get("student", []) + by_role.get("candidate", []) + by_role.get("baseline", [])
                  + by_role.get("other", []))
        return [(reference, name) for name in others]
    return [(runs[0].name, run.name) for run in runs[1:]]


def _gold_text(gold: Any) -> str | None:
    if gold is None:
        return None
    return gold if isinstance(gold, str) else json.dumps(gold, ensure_ascii=False)


def build_summary(
    spec: TaskSpec,
    items: Sequence[Any],
    runs: Sequence[ModelRun],
    *,
    pricing: PricingTable,
    run_id: str,
    scorer: ItemScorer,
    mode: Literal["online", "offline"] = "online",
    label_source: Literal["teacher", "reference"] = "teacher",
    created_at: str | None = None,
    notes: Sequence[str] = (),
    n_resamples: int = 2000,
    seed: int = 0,
    projected: Mapping[str, ModelResult] | None = None,
    student_training: str | None = None,
) -> Summary:
    """Score every model's outputs and assemble the ``Summary``.

    Args:
        spec: the loaded ``TaskSpec`` (scorer, gates, traffic, source file).
        items: the items the models answered, in a fixed order (usually the eval split).
        runs: one ``ModelRun`` per model; names must be unique.
        pricing: the ``PricingTable`` the costs came from (recorded with its hash).
        run_id: identifier of this run.
        mode: ``online`` (models were called) or ``offline`` (outputs read from files).
        label_source: ``reference`` when gold labels stood in for the teacher's labels.
        scorer: the spec's scorer (``distilleval.scoring.build_scorer(spec)``); the caller
            owns it and closes it.
        created_at: ISO timestamp; default now (UTC).
        notes: free-text notes for the summary.
        n_resamples: bootstrap replicates of the paired intervals.
        seed: bootstrap seed.
        projected: results of models not called in this run (basis ``projected``, no
            metric), listed first; they take part in no paired comparison.
        student_training: how this run made the student (None when it did not train it).

    Returns:
        The summary, ready for ``write_summary``.

    Raises:
        ValueError: two runs share a name, or there are no runs.
        DistillevalError: an item's gold is unusable.
    """
    from distilleval.results import statistics

    names = [run.name for run in runs]
    if not runs and not projected:
        raise ValueError("build_summary needs at least one model's outputs")
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}")
    outputs = {run.name: _aligned(run, items) for run in runs}
    scores = {
        run.name: _excluding_failed_calls(outputs[run.name], scorer.score_items([_text(o) for o in outputs[run.name]], items))
        for run in runs
    }
    models = dict(projected or {})
    models.update({run.name: _model_result(run, outputs[run.name], scores[run.name], scorer, mode) for run in runs})

    comparisons: list[Comparison] = []
    for a, b in comparison_pairs(runs):
        micro = scorer.micro_averaged
        # Failed calls score None, so compare_paired pairs only the items both models answered;
        # agreement is over those items too.
        both_answered = [
            i for i, (x, y) in enumerate(zip(outputs[a], outputs[b])) if x.error_kind is None and y.error_kind is None
        ]
        comparison = statistics.compare_paired(
            a, b,
            [s.score for s in scores[a]], [s.score for s in scores[b]],
            metric_rows_a=scorer.metric_rows(scores[a]) if micro else None,
            metric_rows_b=scorer.metric_rows(scores[b]) if micro else None,
            statistic=statistics.ratio_statistic if micro else statistics.mean_statistic,
            canonical_a=[scores[a][i].canonical for i in both_answered],
            canonical_b=[scores[b][i].canonical for i in both_answered],
            margin=spec.gates.non_inferiority_margin,
            alpha=spec.gates.alpha,
            n_resamples=n_resamples,
            seed=seed,
            metric=scorer.primary_metric,
        )
        comparison.dropped_failed = len(items) - len(both_answered)
        comparisons.append(comparison)

    item_results = []
    for position, item in enumerate(items):
        preview = " | ".join(str(v) for v in item.inputs.values())[:PREVIEW_CHARS]
        result = ItemResult(id=item.id, gold=_gold_text(item.gold), input_preview=preview)
        for name in names:
            output, score = outputs[name][position], scores[name][position]
            result.scores[name] = score.score
            result.outputs[name] = output.text
            if output.latency_ms is not None and not output.cache_hit:
                result.latency_ms[name] = output.latency_ms
            if output.error_kind is not None:
                result.errors[name] = output.error_kind
            if score.reason is not None:
                result.reasons[name] = score.reason
            if output.truncated:
                result.reached_max_tokens.append(name)
            if output.confidence is not None and output.error_kind is None:
                result.confidence[name] = output.confidence
        item_results.append(result)

    from distilleval.results.cascade_summary import cascade_result

    item_ids = [item.id for item in items]
    bases = {name: model.confidence_basis for name, model in models.items()}
    cascades = [cascade_result(spec, cascade, outputs, scores, item_ids, bases)
                for cascade in getattr(spec, "cascades", None) or []]

    known = {item.id for item in items}
    extra_notes = list(notes)
    for run in runs:
        unused = sum(1 for o in run.outputs if o.item_id not in known)
        if unused:
            extra_notes.append(f"{run.name}: {unused} output(s) for items outside the scored set were ignored")

    return Summary(
        spec_name=spec.name,
        spec=SourceRef(path=str(spec.source), sha256=spec.source_sha256),
        pricing=SourceRef(path=str(pricing.path), sha256=pricing.sha256, as_of=pricing.as_of.isoformat()),
        run_id=run_id,
        created_at=created_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        mode=mode,
        label_source=label_source,
        student_training=student_training,
        primary_metric=scorer.primary_metric,
        n_items=len(items),
        models=models,
        comparisons=comparisons,
        items=item_results,
        volumes_per_day=list(spec.traffic.volumes_per_day),
        days_per_month=spec.traffic.days_per_month,
        notes=extra_notes,
        cascades=cascades,
    )
