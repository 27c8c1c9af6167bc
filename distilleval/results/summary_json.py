"""``summary.json``: the machine-readable result of a run that every other command reads.

``eval``, ``score`` and ``run`` write it; ``report``, ``gate``, ``compare`` and ``cost`` read it.
Every figure says whether it was measured in this run or projected from a table.

Since schema version 2 the file holds aggregates only: the per-item rows live in SQLite beside it
(``results.item_store``; ``item_store`` points at them) and are read through
``results.item_results``. A version-1 file keeps its rows in ``items`` and is read as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distilleval.errors import DataError
from distilleval.files import write_text_atomic

SCHEMA_VERSION = 2

Basis = Literal["measured", "projected", "reference"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Distribution(_Model):
    """Mean and percentiles of a per-call quantity (tokens, latency)."""

    n: int
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class LatencyFigures(_Model):
    """How a model's latency was measured, beside ``ModelResult.latency_ms`` (the calls made in
    the run, under its load). See ``distilleval.results.latency`` for the client-bound rule."""

    concurrency: int | None = Field(default=None, description="calls in flight during the run: latency under load")
    loop_lag_ms: Distribution | None = Field(
        default=None, description="the client's event-loop lag, sampled while this model's calls were in flight"
    )
    client_bound: bool = Field(default=False, description="the client, not the model, set the figures under load")
    client_bound_reason: str | None = None
    unloaded_ms: Distribution | None = Field(
        default=None, description="latency probe: fresh calls (cache bypassed) at low concurrency after the run"
    )
    unloaded_concurrency: int | None = None
    unloaded_loop_lag_ms: Distribution | None = Field(default=None, description="the event-loop lag during the probe")
    unloaded_client_bound: bool = Field(default=False, description="even the probe's figures were set by the client")
    unloaded_client_bound_reason: str | None = None
    probe_errors: int = 0
    probe_spent_usd: float = Field(default=0.0, description="what the probe's calls cost (included in spent_usd)")
    original_ms: Distribution | None = Field(
        default=None, description="cache hits: the latency measured when each call was first made (not in this run)"
    )


class MetricValue(_Model):
    """A metric with its confidence interval."""

    name: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None
    confidence: float = 0.95


class ModelResult(_Model):
    """One model's result over the eval items."""

    role: Literal["teacher", "student", "candidate", "baseline", "other"]
    model: str
    display_name: str
    basis: Basis = Field(description="measured: called in this run; projected: not run, costs from tokens")
    metric: MetricValue | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict, description="secondary metrics")
    n: int = 0
    n_scored: int = Field(default=0, description="items the metric is over: answered and scored (failed calls excluded)")
    errors: dict[str, int] = Field(
        default_factory=dict, description="failed calls by error kind (rate_limited, timeout, ...) -> count; a failed "
        "call is missing data, never a wrong answer"
    )
    error_rate: float = Field(default=0.0, description="failed calls / n")
    invalid_rate: float | None = Field(
        default=None, description="answered items whose output is not a valid output of the spec's kind (outside the "
        "label set, unparsable JSON, SQL that does not run), over the answered items; answers cut at max_tokens included"
    )
    input_tokens: Distribution | None = None
    output_tokens: Distribution | None = None
    cached_input_tokens_total: float = Field(
        default=0.0,
        description="input tokens read from the provider's prompt cache, summed over the calls counted in input_tokens "
        "(projected results: the spec's traffic.cached_input_fraction of their input)",
    )
    cache_write_tokens_total: float = Field(
        default=0.0, description="input tokens written to the provider's prompt cache, summed like cached_input_tokens_total"
    )
    batch: bool = Field(default=False, description="priced at the provider's batch tier")
    priced_as: str | None = Field(
        default=None, description="the pricing-table entry the model was priced as (the spec's price_as, or a "
        "tinker:// checkpoint's base model row); None: its id"
    )
    batch_api: str | None = Field(
        default=None,
        description="the provider whose batch API answered this model's calls in this run (openai, anthropic): "
        "such answers have no per-request latency",
    )
    tokens_counted_by: str | None = Field(
        default=None, description="the local tokenizer that counted this model's tokens; None: the provider's usage"
    )
    latency_ms: Distribution | None = Field(default=None, description="answered calls made in this run, under its load; cache hits and failed calls excluded")
    latency: LatencyFigures | None = Field(default=None, description="load, client-bound flag, probe and cached figures")
    truncated: int = Field(
        default=0, description="answers cut at max_tokens (finish reason 'length'); judged on their content like any "
        "other answer: a valid label or valid JSON scores as such"
    )
    truncated_invalid: int | None = Field(
        default=None, description="the truncated answers that are not a valid output of the spec's kind (counted in "
        "invalid_rate): the ones more max_tokens might have saved; None in summaries written before it was counted"
    )
    cache_hits: int = 0
    confidence_basis: str | None = Field(
        default=None, description="how each answer's confidence was computed (token_logprobs:mean: the geometric mean "
        "of the answer's token probabilities; class_probability: a baseline's probability of its label); None: no "
        "answer of this model had one"
    )
    n_confident: int = Field(default=0, description="answered items that carry a confidence")
    cost_per_request_usd: float | None = None
    cost_basis: Basis = "projected"
    spent_usd: float = Field(default=0.0, description="money actually spent by this run")
    notes: list[str] = Field(default_factory=list)
    confusion: dict[str, dict[str, int]] | None = Field(
        default=None, description="label tasks: gold label -> predicted label (or INVALID) -> count"
    )
    reasons: dict[str, int] = Field(
        default_factory=dict, description="scoring reason (wrong_label, parse_error, unsafe, ...) -> count"
    )
    error_reasons: dict[str, int] = Field(
        default_factory=dict,
        description="calls lost with a whole provider batch: 'kind: the batch's reason' (e.g. "
        "'batch_failed: token_limit_exceeded: ...') -> failed calls",
    )


    @property
    def failed_calls(self) -> int:
        """Calls that ended in an error (any kind)."""
        return sum(self.errors.values())

    @property
    def pricing_key(self) -> str:
        """The id to look up in the pricing table: ``priced_as``, else the model id."""
        return self.priced_as or self.model

    @property
    def input_tokens_total(self) -> float:
        """All input tokens of the calls counted in ``input_tokens`` (0 when unknown)."""
        if self.input_tokens is None or self.input_tokens.mean is None:
            return 0.0
        return self.input_tokens.mean * self.input_tokens.n

    @property
    def cached_input_share(self) -> float:
        """Share of input tokens read from a prompt cache (0 when no input was counted)."""
        total = self.input_tokens_total
        return min(self.cached_input_tokens_total / total, 1.0) if total > 0 else 0.0

    @property
    def cache_write_share(self) -> float:
        """Share of input tokens written to a prompt cache (0 when no input was counted)."""
        total = self.input_tokens_total
        return min(self.cache_write_tokens_total / total, 1.0) if total > 0 else 0.0


class NonInferiority(_Model):
    """One-sided paired test that student >= teacher - margin."""

    margin: float
    alpha: float
    difference: float
    lower_bound: float
    non_inferior: bool
    method: str
    upper_bound: float | None = Field(default=None, description="one-sided 1 - alpha upper bound of the difference")
    decision: str | None = Field(default=None, description="non-inferior, inferior or inconclusive, both at alpha")


class Comparison(_Model):
    """Paired comparison of model ``b`` against model ``a`` on the same items (b - a)."""

    a: str
    b: str
    n_paired: int
    dropped_failed: int = Field(
        default=0, description="items left out of the pairing because a call of a or b failed (missing data)"
    )
    difference: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None
    p_value: float | None = Field(
        default=None, description="two-sided p of the test ci_low/ci_high invert, at a difference of 0: the interval "
                                  "excludes 0 exactly when p_value < 0.05 (None for a bootstrap interval)")
    p_method: str | None = Field(default=None, description="the test p_value comes from")
    mcnemar_p: float | None = Field(default=None, description="McNemar's exact two-sided p (0/1 scores); it agrees "
                                                              "with mcnemar_ci_low/high, not with ci_low/ci_high")
    mcnemar_ci_low: float | None = Field(default=None, description="exact conditional 95% interval that agrees with "
                                                                   "mcnemar_p (Clopper-Pearson on the discordant split)")
    mcnemar_ci_high: float | None = None
    discordant: dict[str, int] = Field(default_factory=dict, description="a_only / b_only correct counts")
    agreement: float | None = Field(default=None, description="share of items where b's output equals a's")
    kappa: float | None = Field(default=None, description="Cohen's kappa of b's outputs against a's")
    metric: str | None = Field(default=None, description="the metric the difference is of")
    non_inferiority: NonInferiority | None = None


class ItemResult(_Model):
    """Per-item outcome, kept so runs can be compared item by item and disagreements browsed."""

    id: str
    gold: str | None = None
    input_preview: str = ""
    scores: dict[str, float | None] = Field(default_factory=dict, description="model -> score in [0, 1]")
    outputs: dict[str, str | None] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict, description="model -> error kind")
    latency_ms: dict[str, float | None] = Field(
        default_factory=dict, description="model -> call latency (None or absent for cache hits); optional"
    )
    reasons: dict[str, str] = Field(default_factory=dict, description="model -> scoring reason, when not right")
    confidence: dict[str, float | None] = Field(
        default_factory=dict, description="model -> the answer's confidence in [0, 1] (see ModelResult.confidence_basis); "
        "absent or None when the route gave none"
    )
    reached_max_tokens: list[str] = Field(
        default_factory=list, description="models whose answer was cut at max_tokens (finish reason 'length'); "
        "the answer is scored on its content, this only flags it"
    )


class CascadePointResult(_Model):
    """One threshold of a cascade's curve, over every eval item both models answered: the first
    model keeps an answer whose confidence is at least ``threshold`` and defers the rest."""

    threshold: float
    deferral_rate: float
    accuracy: float
    cost_per_request_usd: float = Field(description="first model's cost on every item, plus the fallback's on deferred ones")
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None


class CascadeChoice(_Model):
    """The operating threshold chosen on the calibration items and how it did on the test items."""

    threshold: float | None = Field(description="None: no threshold meets the guarantee (defer everything)")
    method: str
    delta: float
    margin: float
    calibration_items: int
    test_items: int
    test_accuracy: float | None = Field(default=None, description="the cascade's accuracy on the test items at the "
                                        "threshold (with none certified: every item deferred, the fallback's)")
    test_accuracy_interval: list[float] | None = Field(default=None, description="95% [low, high] (intervals.mean_interval)")
    deferral_rate: float | None = Field(default=None, description="on the test items")
    cost_per_request_usd: float | None = Field(default=None, description="on the test items")
    upper_bound_excess_error: float | None = None
    guarantee_met: bool = Field(description="a threshold was found whose guarantee holds at 1 - delta on the calibration items")
    guarantee: str = ""


class CascadeResult(_Model):
    """A cascade of two models the run called on the same items (``cascades:`` in the spec)."""

    name: str
    first: str
    fallback: str
    confidence_basis: str | None = None
    n_items: int = Field(default=0, description="eval items both models answered (the curve is over these)")
    curve: list[CascadePointResult] = Field(default_factory=list)
    chosen: CascadeChoice | None = None
    unavailable: str | None = Field(default=None, description="why no curve: a model not called, no confidence")
class JudgeAlignmentResult(_Model):
    """The judge measured on the human-judged alignment set (``results.judge_alignment``)."""

    path: str
    sha256: str
    rows: int = Field(description="alignment rows the judge gave a verdict on")
    failed_calls: int = 0
    positives: int = Field(description="rows humans marked right")
    negatives: int = Field(description="rows humans marked wrong")
    true_pass: int = Field(description="human-right rows the judge passed")
    true_fail: int = Field(description="human-wrong rows the judge failed")
    agreement: MetricValue
    sensitivity: MetricValue
    specificity: MetricValue
    kappa: float | None = None
    requirements_met: bool
    unmet: list[str] = Field(default_factory=list, description="each requirement of scorer.alignment not met")


class JudgeFigures(_Model):
    """One model's judge-scored accuracy: raw pass rate and corrected accuracy, each with its interval."""

    n: int
    passes: int
    raw: MetricValue
    corrected: MetricValue = Field(description="Rogan-Gladen, carrying the eval sample's and the alignment set's "
                                               "uncertainty; value None when the judge is not trusted or J <= 0")


class JudgeComparison(_Model):
    """The paired teacher-vs-student comparison on the judge's verdicts, corrected (b - a)."""

    a: str
    b: str
    n_paired: int
    raw_difference: float
    corrected_difference: float | None
    ci_low: float
    ci_high: float
    method: str
    margin: float | None = None
    lower_bound: float | None = Field(default=None, description="one-sided 1 - alpha bound of the corrected difference")
    non_inferior: bool | None = None


class PairwiseResult(_Model):
    """Side-by-side judging, both orders: b's wins, ties and losses against a, and the position bias."""

    a: str
    b: str
    n: int
    failed_items: int = 0
    wins: int
    ties: int
    losses: int
    win_rate: MetricValue
    net_win_rate: MetricValue = Field(description="(wins - losses) / n with the paired score interval")
    position_bias: MetricValue = Field(description="share of judgments for the first-shown answer minus the share "
                                                   "for the second; 0 when order does not matter")


class JudgeSummary(_Model):
    """The judge of a judge-scored run: its calls, cost, measured error and corrected figures."""

    model: str
    priced_as: str | None = None
    criteria_sha256: str
    scale: str
    calls: int
    failed_calls: int
    errors: dict[str, int] = Field(default_factory=dict)
    error_rate: float
    input_tokens_total: int = 0
    output_tokens_total: int = 0
    cost_usd: float = Field(default=0.0, description="the judge's calls priced at the table (cache hits included)")
    spent_usd: float = Field(default=0.0, description="money the judge's calls spent in this run")
    trusted: bool
    untrusted_reasons: list[str] = Field(default_factory=list)
    alignment: JudgeAlignmentResult | None = None
    figures: dict[str, JudgeFigures] = Field(default_factory=dict)
    comparison: JudgeComparison | None = None
    pairwise: PairwiseResult | None = None


class ItemStoreRef(_Model):
    """Where a summary's per-item rows are (``results.item_store``)."""

    path: str = Field(description="the SQLite file, relative to the summary's folder (absolute once read)")
    set_id: int = Field(description="the set of rows this summary wrote")
    rows: int = Field(description="items in the set")


class SourceRef(_Model):
    """A file that produced the run, with its hash."""

    path: str
    sha256: str
    as_of: str | None = None


class EvalInputTokens(_Model):
    """One role's offline input-token count over the run's first eval items."""

    limit: int = Field(description="eval items asked for (the model's n in this run)")
    items: int = Field(description="eval items counted (fewer when the data has fewer)")
    total: int = Field(description="input tokens of those items' requests, summed")


class SpecDataCounts(_Model):
    """What the report derives from the spec's data file, counted once when the run was made
    (``report.data_counts``): the data does not change after the run, so ``report`` and ``gate``
    use these instead of reading and counting every item again, while the spec and data are the
    ones named here."""

    spec_sha256: str = Field(description="the spec these were counted under (its source_sha256)")
    data_sha256: str = Field(description="the data file they were counted from")
    items: int
    train_items: int
    training_row_tokens: float = Field(
        description="the student's mean tokens per training row over every item (request + gold answer + row extra)")
    kept_training_tokens: int | None = Field(
        description="tokens of the training rows the trainer keeps (each row counted); None when not counted per row")
    counted_by: dict[str, str] = Field(description="role -> the tokenizer that counted it")
    eval_input_tokens: dict[str, EvalInputTokens] = Field(default_factory=dict)
    counted_with: str = Field(
        default="", description="digest of everything that decides these counts (report.data_counts.counts_key): "
        "a later run with the same digest reuses them instead of counting again; empty when not to be reused")


class Summary(_Model):
    """The whole ``summary.json``."""

    schema_version: int = SCHEMA_VERSION
    spec_name: str
    spec: SourceRef
    pricing: SourceRef
    run_id: str
    created_at: str
    mode: Literal["online", "offline"] = "online"
    label_source: Literal["teacher", "reference"] = Field(
        default="teacher", description="reference: gold labels stood in for the teacher's labels"
    )
    student_training: str | None = Field(
        default=None,
        description="how the student was made, when this run made it (e.g. trained in this run on the teacher's "
        "labels); None: the run did not train it and says nothing about its training",
    )
    primary_metric: str
    n_items: int
    models: dict[str, ModelResult]
    comparisons: list[Comparison] = Field(default_factory=list)
    items: list[ItemResult] = Field(
        default_factory=list, description="schema version 1 only (and summaries built in memory): the per-item rows; "
        "version 2 files keep them in the item store")
    item_store: ItemStoreRef | None = Field(default=None, description="where the per-item rows are (version 2)")
    volumes_per_day: list[int] = Field(default_factory=list)
    days_per_month: float = 30.0
    notes: list[str] = Field(default_factory=list)
    cascades: list[CascadeResult] = Field(default_factory=list)
    decision: dict[str, Any] | None = Field(
        default=None, description="every arm (teacher configurations, candidates, student, baselines, cascades) with "
        "its accuracy, cost and dominance, the Pareto front, the recommendation and the evidence still needed "
        "(written by the pipeline from the report's figures: report.recommendation.decision_block)",
    )
    judge: JudgeSummary | None = Field(default=None, description="judge-scored runs: the judge's calls, cost, "
                                                                 "alignment and corrected figures")
    spec_data: SpecDataCounts | None = Field(
        default=None, description="the token counts the report derives from the spec's data file, counted when the "
        "run was made (``report.data_counts``); older summaries have none and the report counts again")

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON data, in the shape ``write_summary`` writes: per-item rows stay in the item
        store (a version-1 summary read in keeps its ``items``)."""
        return self.model_dump(mode="json", exclude={"items"} if not self.items else None)

    def item_store_path(self) -> Path | None:
        """The SQLite file holding the per-item rows (None: the rows are in ``items``, or there are none).

        ``read_summary`` makes ``item_store.path`` absolute in memory (so a copy of the summary still
        finds its rows); ``write_summary`` writes it relative to the summary's folder."""
        if self.items or self.item_store is None:
            return None
        return Path(self.item_store.path)


def write_summary(summary: Summary, path: Path) -> Summary:
    """Write ``summary`` atomically: its per-item rows first (a new set in the item store), then
    ``summary.json`` naming them (a temp file renamed over the target), then the rows of the
    summary it replaced are dropped. Interrupted anywhere, the summary on disk and its rows agree.

    A summary read from a version-2 file (rows already stored) keeps its pointer, re-aimed at the
    new folder; a version-1 or in-memory summary's ``items`` move into the item store.

    Returns:
        The summary as ``read_summary`` would read it back now (rows in the store, its path
        absolute), so a caller that goes on with it need not read and validate the file again.
    """
    import os

    from distilleval.results import item_store

    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent
    stored = summary.item_store_path()
    if summary.items:
        store = item_store.store_path_for(path)
        set_id, count = item_store.write_items(store, path.name, summary.items)
        pointer: ItemStoreRef | None = ItemStoreRef(path=os.path.relpath(store, folder), set_id=set_id, rows=count)
    elif stored is not None and summary.item_store is not None:
        pointer = summary.item_store.model_copy(update={"path": os.path.relpath(stored, folder)})
    else:
        pointer = summary.item_store
    written = summary.model_copy(update={"item_store": pointer, "schema_version": SCHEMA_VERSION})
    write_text_atomic(path, written.model_dump_json(indent=2, exclude={"items"}))
    if summary.items and pointer is not None:
        item_store.drop_other_sets(store, path.name, pointer.set_id)
    if pointer is None:
        return written.model_copy(update={"items": []})
    absolute = pointer.model_copy(update={"path": str((folder / pointer.path).absolute())})
    return written.model_copy(update={"items": [], "item_store": absolute})


def write_summary_streamed(path: Path, items: Iterable[Any], finish: Callable[[], Summary]) -> Summary:
    """Write a summary whose per-item rows come as a stream: ``items`` (``ItemResult``-like rows in
    eval order, or ``item_store.RowBlock``s of them, made while they are written) go into a new set of the item store first, then
    ``finish()`` (called once they are all written) gives the summary, written naming that set as
    ``write_summary`` does; then the older sets of the same summary file are dropped. Interrupted
    anywhere, the summary on disk and its rows agree (an unfinished set is never named, and the next
    write drops it).

    Returns:
        The summary as ``read_summary`` would read it back now.
    """
    from distilleval.results import item_store

    path.parent.mkdir(parents=True, exist_ok=True)
    store = item_store.store_path_for(path)
    set_id, count = item_store.write_items(store, path.name, items)
    return write_summary_naming_set(path, set_id, count, finish())


def write_summary_naming_set(path: Path, set_id: int, rows: int, summary: Summary) -> Summary:
    """Write ``summary`` (its items left out) naming the item store's set ``set_id`` (``rows`` items, already
    written, e.g. by ``item_store.ChunkedSetWriter``), then drop the older sets of the same summary file.

    Returns:
        The summary as ``read_summary`` would read it back now.
    """
    from distilleval.results import item_store

    store = item_store.store_path_for(path)
    pointer = ItemStoreRef(path=str(store.absolute()), set_id=set_id, rows=rows)
    written = write_summary(summary.model_copy(update={"item_store": pointer, "items": []}), path)
    item_store.drop_other_sets(store, path.name, set_id)
    return written


def read_summary(path: str | Path) -> Summary:
    """Read a ``summary.json`` (or the one inside a run directory).

    Raises:
        DataError: missing file, invalid JSON, or a file that is not a distilleval summary.
    """
    target = Path(path)
    if target.is_dir():
        target = target / "summary.json"
    try:
        raw = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{target}: summary not found") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{target}:{err.lineno}: not valid JSON ({err.msg})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{target}: cannot read summary ({err})") from None
    try:
        summary = Summary.model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise DataError(f"{target}: {where}: {first['msg']} (not a distilleval summary.json?)") from None
    if summary.item_store is not None:
        summary.item_store.path = str((target.parent / summary.item_store.path).absolute())
    return summary
