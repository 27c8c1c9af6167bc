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
from typing import TYPE_CHECKING, Any, Literal, overload

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
    import numpy as np

    from distilleval.costs.pricing import PricingTable
    from distilleval.results.columns import Codes, OutputColumns, ScoreColumns
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


class OutputChunk(Sequence[ModelOutput]):
    """One chunk's outputs of one model as columns (each of ``ModelOutput``'s fields over the chunk's
    items), read as ``ModelOutput`` records (built on access) or as the columns themselves: what
    ``SummaryBuilder.add`` scores and keeps without an object per output.

    Args:
        columns: ``FIELDS`` -> that field of every output, aligned with the chunk's items.
    """

    FIELDS = ("item_id", "text", "error_kind", "input_tokens", "output_tokens", "latency_ms", "cost_usd",
              "cache_hit", "cached_input_tokens", "cache_write_tokens", "finish_reason", "error_reason",
              "confidence", "confidence_basis")

    def __init__(self, columns: Mapping[str, Sequence[Any]]):
        self._columns = dict(columns)

    @classmethod
    def of(cls, outputs: Sequence[ModelOutput]) -> OutputChunk:
        """The chunk of ``outputs`` (``ModelOutput`` records, or a chunk already)."""
        if isinstance(outputs, OutputChunk):
            return outputs
        return cls({name: [getattr(o, name) for o in outputs] for name in cls.FIELDS})

    @classmethod
    def of_records(cls, records: Sequence[tuple[Any, ...]]) -> OutputChunk:
        """The chunk of ``records``: tuples in ``FIELDS`` order."""
        transposed = list(zip(*records)) or [() for _ in cls.FIELDS]
        return cls(dict(zip(cls.FIELDS, transposed)))

    @staticmethod
    def missing(item_id: str) -> tuple[Any, ...]:
        """The record of an item without an output (``aligned_outputs``'s ``missing`` error)."""
        return (item_id, None, "missing", None, None, None, 0.0, False, 0, 0, None, None, None, None)

    def columns(self) -> dict[str, Sequence[Any]]:
        """Field name -> the field of every output, in item order."""
        return self._columns

    def __len__(self) -> int:
        return len(self._columns["item_id"])

    @overload
    def __getitem__(self, index: int) -> ModelOutput: ...

    @overload
    def __getitem__(self, index: slice) -> list[ModelOutput]: ...

    def __getitem__(self, index: int | slice) -> ModelOutput | list[ModelOutput]:
        if isinstance(index, slice):
            return [self._record(position) for position in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} outputs")
        return self._record(position)

    def _record(self, position: int) -> ModelOutput:
        return ModelOutput(*(self._columns[name][position] for name in self.FIELDS))


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
    return aligned_outputs(by_id, items)


def aligned_outputs(by_id: Mapping[str, ModelOutput], items: Sequence[Any]) -> list[ModelOutput]:
    """One output per item, in item order, from ``by_id`` (item id -> output); an item without
    one gets a ``missing`` error."""
    return [by_id.get(item.id) or ModelOutput(item_id=item.id, text=None, error_kind="missing") for item in items]


def score_rows(scorer: ItemScorer, outputs: Sequence[str | None],
               items: Sequence[Any]) -> tuple[list[tuple[Any, ...]], dict[int, dict[str, Any]], Any]:
    """The scores of ``outputs`` as plain rows: (score, valid, reason, canonical, gold_canonical, counts)
    per item, the non-empty details by position, and the class the rows read back as (None: no rows).
    A scorer with ``score_rows`` (exact match) gives them without an ``ItemScore`` per item; any
    other's ``score_items`` records are read into them."""
    # Looked up on the class: a wrapper that hands on every attribute (a test's failing scorer) still
    # has its own score_items called.
    fast = getattr(type(scorer), "score_rows", None)
    if fast is not None:
        return fast(scorer, outputs, items)  # type: ignore[no-any-return]
    scores = scorer.score_items(outputs, items)
    details = {position: s.details for position, s in enumerate(scores) if s.details}
    rows = [(s.score, s.valid, s.reason, s.canonical, s.gold_canonical, s.counts) for s in scores]
    return rows, details, type(scores[0]) if scores else None


def _excluding_failed_calls(error_kinds: Sequence[str | None], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The score rows (``score_rows``) with every failed call's (an error kind) turned into an exclusion
    (score None): a failed call is missing data, never a wrong answer, so no metric or paired comparison
    counts it. The gold and the details stay."""
    return [(None, False, None, None, row[4], None) if kind is not None else row for kind, row in zip(error_kinds, rows)]


def _latency_figures(run: ModelRun, cached_latencies: list[float], under_load: Distribution | None) -> LatencyFigures | None:
    """The run's latency context plus the cached calls' original figures and the client-bound rule."""
    from distilleval.results.latency import client_bound_reason

    original = distribution(cached_latencies)
    if run.latency is None and original is None:
        return None
    figures = (run.latency or LatencyFigures()).model_copy(update={"original_ms": original})
    reason = client_bound_reason(figures.loop_lag_ms, under_load)
    unloaded_reason = client_bound_reason(figures.unloaded_loop_lag_ms, figures.unloaded_ms)
    return figures.model_copy(update={
        "client_bound": reason is not None, "client_bound_reason": reason,
        "unloaded_client_bound": unloaded_reason is not None, "unloaded_client_bound_reason": unloaded_reason,
    })


def _counted(codes: np.ndarray, table: Codes) -> dict[str, int]:
    """How often each coded value occurs (None left out), in order of first occurrence (as ``Counter``)."""
    import numpy as np

    present = codes[codes >= 0]
    if not len(present):
        return {}
    values, first, counts = np.unique(present, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return {str(table.value(int(values[i]))): int(counts[i]) for i in order}


def _model_result(run: ModelRun, outputs: OutputColumns, scores: ScoreColumns, scorer: ItemScorer,
                  mode: str) -> ModelResult:
    import numpy as np

    n = len(outputs)
    kinds = outputs.column("error_kind")
    called = kinds < 0  # the call answered (no error kind)
    answered = called & outputs.column("has_text")
    answered_at = np.flatnonzero(answered)
    # The metric, its interval and the confusion are over the answered items only.
    # A scorer that reads the columns themselves (exact match) is spared a record per answered item.
    summarize_at, confusion_at = (getattr(type(scorer), name, None) for name in ("summarize_at", "confusion_at"))
    if summarize_at is not None:
        metric, secondary = summarize_at(scorer, scores, answered_at)
    else:
        metric, secondary = scorer.summarize(scores.subset(answered_at))
    valid = scores.column("valid") if n else np.zeros(0, dtype=bool)
    # One definition of invalid wherever it is printed (table, summary.json, metrics, confusion):
    # an answer that is not a valid output of the spec's kind, over the answered items, whether
    # or not it was cut at max_tokens.
    invalid = int(np.count_nonzero(answered & ~valid))
    # Token figures are of answered calls; a failed call the provider billed counts only in spent_usd.
    confident = np.flatnonzero(called & ~np.isnan(outputs.column("confidence")))
    input_tokens, output_tokens = outputs.column("input_tokens"), outputs.column("output_tokens")
    priced = called & (input_tokens >= 0)
    cost_usd, cache_hit = outputs.column("cost_usd"), outputs.column("cache_hit")
    latency = outputs.column("latency_ms")
    cost = run.cost_per_request_usd
    n_priced = int(np.count_nonzero(priced))
    if cost is None and n_priced:
        cost = sum(cost_usd[priced].tolist()) / n_priced
    cost_basis = run.cost_basis or ("measured" if n_priced and mode == "online" else "projected")
    # Latency is of answers: a failed call (a fast 429, a timeout) says nothing about how fast the model answers.
    timed = ~np.isnan(latency)
    under_load = distribution(latency[timed & ~cache_hit & called].tolist())
    truncated = called & (outputs.column("finish_reason") == outputs.code_of("finish_reason", "length"))
    errors = _counted(kinds, outputs.codes["error_kind"])
    basis_codes = outputs.column("confidence_basis")
    result = ModelResult(
        role=run.role,
        model=run.model,
        display_name=run.display_name or run.model,
        basis=run.basis,
        metric=metric,
        metrics=secondary,
        n=n,
        n_scored=int(np.count_nonzero(~np.isnan(scores.column("score")))) if n else 0,
        errors=errors,
        error_rate=sum(errors.values()) / n if n else 0.0,
        invalid_rate=invalid / len(answered_at) if len(answered_at) else None,
        input_tokens=distribution(input_tokens[priced].tolist()),
        cached_input_tokens_total=float(int(outputs.column("cached_input_tokens")[priced].sum())),
        cache_write_tokens_total=float(int(outputs.column("cache_write_tokens")[priced].sum())),
        batch=run.batch,
        priced_as=run.priced_as,
        batch_api=run.batch_api,
        output_tokens=distribution(output_tokens[called & (output_tokens >= 0)].tolist()),
        latency_ms=under_load,
        latency=_latency_figures(run, latency[timed & cache_hit].tolist(), under_load),
        # An answer cut at max_tokens is judged on its content like any other: a valid label or
        # valid JSON scores as such; only the ones that are not a valid output need more room.
        truncated=int(np.count_nonzero(truncated)),
        truncated_invalid=int(np.count_nonzero(truncated & answered & ~valid)),
        cache_hits=int(np.count_nonzero(cache_hit)),
        confidence_basis=outputs.codes["confidence_basis"].value(int(basis_codes[confident[0]])) if len(confident) else None,
        n_confident=len(confident),
        cost_per_request_usd=cost,
        cost_basis=cost_basis,
        # A failed call costs what the provider billed for it (an answer lost to thinking), usually nothing.
        spent_usd=sum(cost_usd[~cache_hit].tolist())
        + (run.latency.probe_spent_usd if run.latency is not None else 0.0),
        notes=list(run.notes),
        reasons=_counted(scores.column("reason"), scores.reasons) if n else {},
        error_reasons=dict(Counter(f"{outputs.codes['error_kind'].value(int(kinds[i]))}: {reason}"
                                   for i, reason in sorted(outputs.error_reasons.items()) if kinds[i] >= 0 and reason)),
    )
    if hasattr(scorer, "confusion") and getattr(scorer, "labels", None):
        result.confusion = (confusion_at(scorer, scores, answered_at) if confusion_at is not None
                            else scorer.confusion(scores.subset(answered_at)))
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
    if not runs and not projected:
        raise ValueError("build_summary needs at least one model's outputs")
    builder = SummaryBuilder(runs, scorer, expected_items=len(items))
    aligned = {run.name: _aligned(run, items) for run in runs}
    item_results: list[ItemResult] = []
    for start in range(0, len(items), SCORE_CHUNK):
        chunk = items[start:start + SCORE_CHUNK]
        rows = builder.add(chunk, {name: outputs[start:start + SCORE_CHUNK] for name, outputs in aligned.items()})
        item_results += [row.item_result() for row in rows]
    del aligned
    known = {item.id for item in items}
    extra_notes = list(notes)
    for run in runs:
        unused = sum(1 for o in run.outputs if o.item_id not in known)
        if unused:
            extra_notes.append(f"{run.name}: {unused} output(s) for items outside the scored set were ignored")
    summary = builder.summary(
        spec, pricing=pricing, run_id=run_id, mode=mode, label_source=label_source, created_at=created_at,
        notes=extra_notes, n_resamples=n_resamples, seed=seed, projected=projected, student_training=student_training,
    )
    summary.items = item_results
    return summary


SCORE_CHUNK = 10_000
"""Items scored at a time: a chunk's texts and per-item rows are all that is held at once."""


class SummaryBuilder:
    """Scores a run's items chunk by chunk and assembles the ``Summary`` from what it kept.

    ``add`` scores one chunk of items (each model's outputs aligned with them) and returns the
    chunk's ``ItemResult`` rows for the caller to store; only the compact columns
    (``results.columns``) of every output and score stay. ``summary`` then computes every
    figure from them. ``build_summary`` is this over items held in memory; ``eval`` feeds it
    a chunk at a time from the run store, so both give the same figures.

    Args:
        runs: one ``ModelRun`` per model (their ``outputs`` are not read here); names must be unique.
        scorer: the spec's scorer; the caller owns it and closes it.
        expected_items: how many items will be added (their columns are reserved at that size).

    Raises:
        ValueError: two runs share a name.
    """

    def __init__(self, runs: Sequence[ModelRun], scorer: ItemScorer, *, expected_items: int = 0):
        from distilleval.results.columns import OutputColumns, ScoreColumns, Strings

        self.names = [run.name for run in runs]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"model names must be unique, got {self.names}")
        self.runs, self.scorer = list(runs), scorer
        self.item_ids = Strings()  # compact: no Python string per item is held for the run's life
        self.outputs = {name: OutputColumns(ModelOutput, self.item_ids, expected=expected_items) for name in self.names}
        self.scores = {name: ScoreColumns(expected=expected_items) for name in self.names}

    def add(self, items: Sequence[Any], outputs: Mapping[str, Sequence[ModelOutput]]) -> ItemRows:
        """Score one chunk: ``items`` in eval order, and each model's ``outputs`` aligned with them
        (``aligned_outputs``, or an ``OutputChunk``). Returns the chunk's per-item rows.

        Raises:
            DistillevalError: an item's gold is unusable.
        """
        chunks = {name: OutputChunk.of(outputs[name]) for name in self.names}
        scores = {}
        for name in self.names:
            columns = chunks[name].columns()
            kinds = columns["error_kind"]
            texts = [None if kind is not None else text for text, kind in zip(columns["text"], kinds)]
            rows, details, make = score_rows(self.scorer, texts, items)
            scores[name] = _excluding_failed_calls(kinds, rows)
            self.scores[name].extend_rows(scores[name], details, make=make)
        self.item_ids.extend(item.id for item in items)
        for name in self.names:
            self.outputs[name].extend_columns(chunks[name].columns())
        return ItemRows(items, self.names, chunks, scores)

    def summary(
        self,
        spec: TaskSpec,
        *,
        pricing: PricingTable,
        run_id: str,
        mode: Literal["online", "offline"] = "online",
        label_source: Literal["teacher", "reference"] = "teacher",
        created_at: str | None = None,
        notes: Sequence[str] = (),
        n_resamples: int = 2000,
        seed: int = 0,
        projected: Mapping[str, ModelResult] | None = None,
        student_training: str | None = None,
    ) -> Summary:
        """The ``Summary`` of every chunk added (no per-item rows: the caller stored them);
        arguments as ``build_summary``'s."""
        import numpy as np

        from distilleval.results import statistics
        from distilleval.results.cascade_summary import cascade_result

        scorer, outputs, scores = self.scorer, self.outputs, self.scores
        n_items = len(self.item_ids)
        models = dict(projected or {})
        models.update({run.name: _model_result(run, outputs[run.name], scores[run.name], scorer, mode)
                       for run in self.runs})
        comparisons: list[Comparison] = []
        for a, b in comparison_pairs(self.runs):
            micro = scorer.micro_averaged
            # Failed calls score None, so compare_paired pairs only the items both models answered;
            # agreement is over those items too.
            both_answered = np.flatnonzero((outputs[a].column("error_kind") < 0) & (outputs[b].column("error_kind") < 0))
            comparison = statistics.compare_paired(
                a, b,
                scores[a].scores(), scores[b].scores(),
                metric_rows_a=scorer.metric_rows(scores[a]) if micro else None,
                metric_rows_b=scorer.metric_rows(scores[b]) if micro else None,
                statistic=statistics.ratio_statistic if micro else statistics.mean_statistic,
                canonical_a=scores[a].canonical_at(both_answered),
                canonical_b=scores[b].canonical_at(both_answered),
                margin=spec.gates.non_inferiority_margin,
                alpha=spec.gates.alpha,
                n_resamples=n_resamples,
                seed=seed,
                metric=scorer.primary_metric,
            )
            comparison.dropped_failed = n_items - len(both_answered)
            comparisons.append(comparison)

        bases = {name: model.confidence_basis for name, model in models.items()}
        cascades = [cascade_result(spec, cascade, outputs, scores, self.item_ids, bases)
                    for cascade in getattr(spec, "cascades", None) or []]
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
            n_items=n_items,
            models=models,
            comparisons=comparisons,
            volumes_per_day=list(spec.traffic.volumes_per_day),
            days_per_month=spec.traffic.days_per_month,
            notes=list(notes),
            cascades=cascades,
        )


@dataclass(slots=True)
class ItemRow:
    """One item's row as ``SummaryBuilder.add`` returns it: ``summary_json.ItemResult``'s fields in a plain
    record (an ``ItemResult`` is validated as it is made, a cost paid per item that the item store,
    which takes these as they are, need not pay)."""

    id: str
    gold: str | None
    input_preview: str
    scores: dict[str, float | None] = field(default_factory=dict)
    outputs: dict[str, str | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float | None] = field(default_factory=dict)
    reached_max_tokens: list[str] = field(default_factory=list)

    def item_result(self) -> ItemResult:
        """The row as the summary's ``ItemResult``."""
        return ItemResult(id=self.id, gold=self.gold, input_preview=self.input_preview, scores=self.scores,
                          outputs=self.outputs, errors=self.errors, latency_ms=self.latency_ms, reasons=self.reasons,
                          confidence=self.confidence, reached_max_tokens=self.reached_max_tokens)


class ItemRows(Sequence[ItemRow]):
    """One chunk's per-item rows, kept as columns: read as ``ItemRow`` records (built on access) or,
    for the item store, as one ``item_store.RowBlock`` of plain tuples (``block``).

    Args:
        items: the chunk's items, in eval order.
        names: the models, in the order their rows are written.
        outputs: each model's outputs, aligned with ``items``.
        scores: each model's score rows (``score_rows``), aligned with ``items``.
    """

    def __init__(self, items: Sequence[Any], names: Sequence[str], outputs: Mapping[str, OutputChunk],
                 scores: Mapping[str, Sequence[Any]]):
        self.names = list(names)
        # (position in the chunk, id, gold, input preview): the item store's item rows as they are.
        self.heads = [(position, item.id, _gold_text(item.gold), _preview(item)) for position, item in enumerate(items)]
        # Per model: (present, score, output, error, latency, reason, confidence), one list each.
        self.fields = [_model_fields(outputs[name], scores[name]) for name in self.names]

    def __len__(self) -> int:
        return len(self.heads)

    @overload
    def __getitem__(self, index: int) -> ItemRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[ItemRow]: ...

    def __getitem__(self, index: int | slice) -> ItemRow | list[ItemRow]:
        if isinstance(index, slice):
            return [self._row(position) for position in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return self._row(position)

    def _row(self, position: int) -> ItemRow:
        from distilleval.results.item_store import HAS_CONFIDENCE, HAS_LATENCY, TRUNCATED

        _, item_id, gold, preview = self.heads[position]
        row = ItemRow(id=item_id, gold=gold, input_preview=preview)
        for name, (present, score, output, error, latency, reason, confidence) in zip(self.names, self.fields):
            row.scores[name] = score[position]
            row.outputs[name] = output[position]
            if present[position] & HAS_LATENCY:
                row.latency_ms[name] = latency[position]
            if error[position] is not None:
                row.errors[name] = error[position]
            if reason[position] is not None:
                row.reasons[name] = reason[position]
            if present[position] & TRUNCATED:
                row.reached_max_tokens.append(name)
            if present[position] & HAS_CONFIDENCE:
                row.confidence[name] = confidence[position]
        return row

    def block(self) -> Any:
        """The rows as the item store writes them (``item_store.RowBlock``), positions from 0."""
        from itertools import count, repeat

        from distilleval.results.item_store import RowBlock

        model_rows: list[tuple[Any, ...]] = []
        for model, fields in enumerate(self.fields):
            model_rows += zip(repeat(model), count(), *fields)
        return RowBlock(self.names, self.heads, model_rows)


def _preview(item: Any) -> str:
    return " | ".join(map(str, item.inputs.values()))[:PREVIEW_CHARS]


def _model_fields(outputs: OutputChunk, scores: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    """One model's item store fields over a chunk, one list each: (present flags, score, output, error,
    latency, reason, confidence), each None where the row has no such field."""
    from distilleval.results.item_store import HAS_CONFIDENCE, HAS_LATENCY, HAS_OUTPUT, HAS_SCORE, TRUNCATED

    columns = outputs.columns()
    kinds = columns["error_kind"]
    # Latency is of calls made in this run; confidence of answered calls; truncation of answered calls.
    latency = [ms if ms is not None and not hit else None for ms, hit in zip(columns["latency_ms"], columns["cache_hit"])]
    confidence = [sure if kind is None else None for sure, kind in zip(columns["confidence"], kinds)]
    truncated = [finish == "length" and kind is None for finish, kind in zip(columns["finish_reason"], kinds)]
    present = [HAS_SCORE | HAS_OUTPUT | (HAS_LATENCY if ms is not None else 0)
               | (HAS_CONFIDENCE if sure is not None else 0) | (TRUNCATED if cut else 0)
               for ms, sure, cut in zip(latency, confidence, truncated)]
    return (present, [row[0] for row in scores], list(columns["text"]), list(kinds), latency,
            [row[2] for row in scores], confidence)
