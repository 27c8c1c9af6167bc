"""The derived figures a report shows: costs at volume, savings, one-time cost, break-even, paired tests.

Everything is computed from ``summary.json``, the pricing table it names and (for the one-time
cost and volumes) the spec; cost arithmetic goes through ``distilleval.costs.cost_model``. A figure that
cannot be computed is None with a note saying why, never a guess.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from distilleval.costs import cost_model
from distilleval.costs.estimates import TrainingProjection, project_training, training_price_key
from distilleval.costs.pricing import DEFAULT_MAX_PRICE_AGE_DAYS, PricingTable, stale_prices
from distilleval.costs.teacher_options import TeacherOption, cheapest_option, teacher_options
from distilleval.errors import DistillevalError
from distilleval.gate.paired import non_inferiority_test
from distilleval.report.baseline_family import BaselineComparison, compare_with_baselines
from distilleval.report.sources import RunInputs
from distilleval.results.item_results import gold_and_outputs, paired_item_scores
from distilleval.results.per_class import ClassResult, ConfusionPair
from distilleval.results.summary_json import Comparison, ModelResult, NonInferiority, SpecDataCounts, Summary
from distilleval.spec.task_spec import TaskSpec

if TYPE_CHECKING:
    from distilleval.spec.data import Item

DEFAULT_MARGIN = 0.03
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class ModelRow:
    """One model of the run, as reports show it."""

    key: str
    result: ModelResult
    cost_per_request_usd: float | None

    @property
    def label(self) -> str:
        """The row's name in tables: ``Teacher: <name>``, ``Student: <name>``, or the bare name."""
        role = self.result.role
        return self.result.display_name if role == "other" else f"{role.capitalize()}: {self.result.display_name}"


@dataclass(frozen=True)
class TokenEstimate:
    """A model's input tokens per call as estimated from the spec's prompts, beside the run's measured mean.

    Attributes:
        label: the model's row label.
        estimated_input_mean: mean over the run's eval items, counted offline (``counted_by``).
        measured_input_mean: the provider's count, averaged over the run's answered calls.
        items: eval items counted.
    """

    label: str
    estimated_input_mean: float
    measured_input_mean: float
    counted_by: str
    items: int

    @property
    def error(self) -> float:
        """(estimated − measured) ÷ measured."""
        return (self.estimated_input_mean - self.measured_input_mean) / self.measured_input_mean


@dataclass(frozen=True)
class VolumeRow:
    """Projected costs at one daily volume."""

    requests_per_day: int
    teacher_day_usd: float | None
    teacher_month_usd: float | None
    student_day_usd: float | None
    student_month_usd: float | None
    saving_month_usd: float | None
    break_even_days: float | None


@dataclass(frozen=True)
class OneTimeCost:
    """What the fine-tune costs once: teacher labelling, training, engineering."""

    labelled_examples: int
    labelled_examples_source: str
    labelling_usd: float
    training_tokens_per_epoch: float
    epochs: int
    training_price_per_mtok_usd: float
    training_usd: float
    engineering_usd: float
    total_usd: float
    recipe: str = ""
    """How the trainer's recipe plans the run (rows, batch, epochs, steps) and the rate that prices it."""
    training_price_name: str = ""
    tokens_basis: str = "rows trained × measured student tokens"
    """How the trained tokens were counted (``TrainingProjection.basis_text``)."""


@dataclass(frozen=True)
class PerClass:
    """Per-class results of one model of a label task (``distilleval.results.per_class``)."""

    model: ModelRow
    classes: list[ClassResult]
    confusions: list[ConfusionPair]
    worst: list[ClassResult]
    teacher_recall: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Figures:
    """All derived figures of one run."""

    inputs: RunInputs
    models: list[ModelRow]
    teacher: ModelRow | None
    student: ModelRow | None
    pricing_label: str
    volumes_per_day: list[int]
    days_per_month: float
    volume_rows: list[VolumeRow]
    one_time: OneTimeCost | None
    comparison: Comparison | None
    non_inferiority: NonInferiority | None
    margin: float
    margin_source: str
    alpha: float
    notes: list[str] = field(default_factory=list)
    best_baseline: ModelRow | None = None
    baseline_comparisons: list[BaselineComparison] = field(default_factory=list)
    """The student against every scored baseline, corrected together (``distilleval.report.baseline_family``)."""
    per_class: PerClass | None = None
    teacher_options: list[TeacherOption] = field(default_factory=list)
    token_estimates: list["TokenEstimate"] = field(default_factory=list)
    """What ``estimate`` would have said before the run (offline counters) beside what the run measured."""
    data_counted: SpecDataCounts | None = None
    """The data's counts this call made by reading the items (``pipeline.decision`` records them); None when
    the run's recorded counts were used or nothing needed them."""

    @property
    def summary(self):
        """The run's summary these figures come from."""
        return self.inputs.summary

    @property
    def every_call_cached(self) -> bool:
        """True when the run called models and every answer came from the response cache ($0 spent)."""
        return every_call_cached(self.summary)

    @property
    def spec_used(self) -> dict[str, str | bool]:
        """The spec the report's figures came from: the run's own, or the one ``--spec`` gave (named)."""
        from distilleval.files import file_sha256

        recorded = self.summary.spec
        if not self.inputs.spec_given or self.inputs.spec_file is None:
            read_from = None if self.inputs.spec_file is None else str(self.inputs.spec_file)
            return {"path": recorded.path, "sha256": recorded.sha256, "given": False, "run_spec_path": recorded.path,
                    "read_from": read_from}
        given = self.inputs.spec_file
        return {"path": str(given), "sha256": file_sha256(given), "given": True, "run_spec_path": recorded.path}

    @property
    def spec_line(self) -> str:
        """``spec `PATH` (sha256 …)``, saying when ``--spec`` replaced the spec the run names."""
        used = self.spec_used
        text = f"spec `{used['path']}` (sha256 {str(used['sha256'])[:8]})"
        if used["given"]:
            text += f", given with --spec instead of the run's own `{used['run_spec_path']}`"
        elif self.spec_from_run_folder:
            text += ", read from the run folder's `spec.resolved.yaml`"
        return text

    @property
    def spec_from_run_folder(self) -> bool:
        """True when the spec was the run folder's resolved spec (``spec.resolved``), not a spec file."""
        from distilleval.spec.resolved import RESOLVED_SPEC_FILE

        spec_file = self.inputs.spec_file
        return not self.inputs.spec_given and spec_file is not None and spec_file.name == RESOLVED_SPEC_FILE

    @property
    def tokens_basis(self) -> str | None:
        """What each priced model's tokens per request were averaged over (``costs.estimates.tokens_basis_note``)."""
        from distilleval.costs.estimates import tokens_basis_note

        return tokens_basis_note([
            (row.label, row.result.basis, row.result.input_tokens.n) for row in self.models
            if row.result.input_tokens is not None and row.result.input_tokens.mean is not None
            and row.cost_per_request_usd is not None
        ])

    @property
    def top_volume_per_day(self) -> int | None:
        """The largest of the spec's daily volumes (the one the verdict judges at)."""
        return max(self.volumes_per_day) if self.volumes_per_day else None

    def monthly_cost_usd(self, row: ModelRow) -> float | None:
        """``row``'s cost per month at the largest daily volume; None when unknown."""
        volume = self.top_volume_per_day
        if row.cost_per_request_usd is None or volume is None:
            return None
        return cost_model.monthly_cost_usd(row.cost_per_request_usd, volume, self.days_per_month)

    @property
    def saving_per_request_usd(self) -> float | None:
        """Teacher minus student cost per request; None when either is unknown."""
        if self.teacher is None or self.student is None:
            return None
        if self.teacher.cost_per_request_usd is None or self.student.cost_per_request_usd is None:
            return None
        return self.teacher.cost_per_request_usd - self.student.cost_per_request_usd

    @property
    def savings_ratio(self) -> float | None:
        """Teacher cost per request divided by the student's; None when either is unknown."""
        teacher = self.teacher.cost_per_request_usd if self.teacher is not None else None
        student = self.student.cost_per_request_usd if self.student is not None else None
        if teacher is None or student is None:
            return None
        return cost_model.savings_ratio(teacher, student)

    @property
    def cheapest_teacher(self) -> TeacherOption | None:
        """The cheapest honest way of running the teacher (None when it cannot be priced)."""
        return cheapest_option(self.teacher_options) if self.teacher_options else None

    def option_saving_per_request_usd(self, option: TeacherOption) -> float | None:
        """``option``'s cost per request minus the student's; None when the student has no cost."""
        if self.student is None or self.student.cost_per_request_usd is None:
            return None
        return option.cost_per_request_usd - self.student.cost_per_request_usd

    def option_break_even_days(self, option: TeacherOption, requests_per_day: int) -> float | None:
        """Days until the one-time cost is paid back against ``option`` at a volume; None: never or unknown."""
        saving = self.option_saving_per_request_usd(option)
        if self.one_time is None or saving is None:
            return None
        return cost_model.break_even_days(self.one_time.total_usd, saving * requests_per_day)

    def break_even_volume_per_day(self, horizon_days: float) -> float | None:
        """Daily volume at which the one-time cost is paid back within ``horizon_days``."""
        saving = self.saving_per_request_usd
        if self.one_time is None or saving is None or saving <= 0:
            return None
        return self.one_time.total_usd / (saving * horizon_days)


def every_call_cached(summary: Summary) -> bool:
    """True when the summary's called models (teacher, student) answered every item from the cache.

    Such a run measured nothing new: its tokens, latency and cost are the original calls'.
    """
    called = [m for m in summary.models.values() if m.basis == "measured" and m.role in ("teacher", "student")]
    answered = [m for m in called if m.n - sum(m.errors.values()) > 0]
    return bool(answered) and all(m.cache_hits == m.n - sum(m.errors.values()) for m in answered)


def _pricing_label(inputs: RunInputs) -> str:
    if inputs.pricing is not None:
        return inputs.pricing.label
    ref = inputs.summary.pricing
    as_of = f"as of {ref.as_of}, " if ref.as_of else ""
    return f"{ref.path} ({as_of}sha256 {ref.sha256[:8]}; table not found, figures as recorded)"


def _cost_per_request(result: ModelResult, inputs: RunInputs, notes: list[str]) -> float | None:
    if result.cost_per_request_usd is not None:
        return result.cost_per_request_usd
    if inputs.pricing is None or result.input_tokens is None or result.input_tokens.mean is None:
        return None
    try:
        price = inputs.pricing.price_for(result.pricing_key)
    except DistillevalError:
        notes.append(f"{result.display_name}: no price in {inputs.pricing.path.name}; cost not shown")
        return None
    output_mean = result.output_tokens.mean if result.output_tokens and result.output_tokens.mean is not None else 0.0
    return cost_model.usage_cost_usd(
        price, result.input_tokens.mean, output_mean, cached_input_share=result.cached_input_share,
        cache_write_share=result.cache_write_share, batch=result.batch,
    )


def _rubric_cacheable(spec, model: str, notes: list[str]) -> bool:
    """Whether the teacher's provider would cache its rubric (``costs.prompt_caching``); notes why not."""
    from distilleval.costs.prompt_caching import teacher_cache_share

    cache = teacher_cache_share(spec, model)
    if cache.dropped:
        notes.append(f"no prompt-caching configuration: {cache.dropped}")
    return cache.dropped is None


def _teacher_options(inputs: RunInputs, teacher: ModelRow | None, notes: list[str]) -> list[TeacherOption]:
    """List price, prompt caching at the measured (else spec'd) share, batch tier where traffic allows."""
    if teacher is None or inputs.pricing is None:
        return []
    result = teacher.result
    if result.input_tokens is None or result.input_tokens.mean is None:
        return []
    found = inputs.pricing.find(result.pricing_key)
    if found is None or found[1].cpu_usd_per_hour is not None:
        return []
    spec = inputs.spec
    if result.basis == "measured" and result.cached_input_tokens_total > 0:
        share, write_share, source = result.cached_input_share, result.cache_write_share, "measured in this run"
    elif spec is not None and spec.traffic.cached_input_fraction > 0 and _rubric_cacheable(spec, result.model, notes):
        share, write_share, source = spec.traffic.cached_input_fraction, 0.0, "spec traffic.cached_input_fraction"
    else:
        share, write_share, source = 0.0, 0.0, ""
    output_mean = result.output_tokens.mean if result.output_tokens and result.output_tokens.mean is not None else 0.0
    batch_allowed = spec is not None and (spec.traffic.batch_eligible or spec.teacher.batch)
    return teacher_options(
        found[1], result.input_tokens.mean, output_mean, cached_input_share=share, cache_write_share=write_share,
        cache_share_source=source, batch_allowed=batch_allowed,
    )


def _find(models: list[ModelRow], role: str) -> ModelRow | None:
    return next((m for m in models if m.result.role == role), None)


def _one_time(inputs: RunInputs, teacher: ModelRow | None, student: ModelRow | None, notes: list[str],
              data: _SpecData) -> OneTimeCost | None:
    spec = inputs.spec
    if spec is None:
        notes.append("one-time cost and break-even not computed: the spec could not be loaded")
        return None
    if teacher is None or teacher.cost_per_request_usd is None:
        notes.append("one-time cost not computed: no teacher cost per request")
        return None
    if student is None or student.result.input_tokens is None or student.result.input_tokens.mean is None:
        notes.append("one-time cost not computed: no measured student tokens to size the training set")
        return None
    if inputs.pricing is None:
        notes.append("one-time cost not computed: pricing table not found")
        return None
    training = spec.training
    try:
        price_as = training_price_key(spec, inputs.pricing)
        price = None if price_as is None else inputs.pricing.price_for(price_as)
    except DistillevalError:
        price_as, price = training.price_as, None
    if price is None or price.training_per_mtok_usd is None:
        notes.append(f"one-time cost not computed: {price_as or training.price_as!r} has no training price in the pricing table")
        return None
    examples, source = training.labelled_examples, "spec training.labelled_examples"
    projection = _spec_training(spec, inputs.pricing, notes, data)
    if projection is not None:
        examples = projection.labelled_examples
        source = source if training.labelled_examples else "training split of the data"
    else:
        if examples is None:
            examples, source = _count_training_items(data, notes), "training split of the data"
            if examples is None:
                return None
        output_mean = student.result.output_tokens.mean if student.result.output_tokens and student.result.output_tokens.mean else 0.0
        projection = project_training(spec, inputs.pricing, examples=examples,
                                      tokens_per_row=student.result.input_tokens.mean + output_mean,
                                      tokens_source=f"the run's {student.result.input_tokens.n:,} student requests")
    assert projection is not None  # the price was found above
    labelling = examples * teacher.cost_per_request_usd
    total = cost_model.one_time_cost_usd(
        labelled_examples=examples,
        labelling_cost_per_example_usd=teacher.cost_per_request_usd,
        training_tokens=projection.tokens_per_epoch,
        epochs=projection.schedule.epochs,
        training_price_per_mtok_usd=projection.training_price_per_mtok_usd,
        engineering_cost_usd=training.engineering_cost_usd,
    )
    return OneTimeCost(examples, source, labelling, projection.tokens_per_epoch, projection.schedule.epochs,
                       projection.training_price_per_mtok_usd, projection.cost_usd, training.engineering_cost_usd, total,
                       recipe=projection.describe(), training_price_name=projection.price_name,
                       tokens_basis=projection.basis_text)


class _SpecData:
    """What the figures need from the spec's data file: the run's recorded counts when they apply
    (``report.data_counts.stored_counts``), else the items read and counted at most once per
    ``compute_figures`` call (the one-time cost and the token estimates both need them).

    A failure to read is kept and raised again, so each figure that needs the data notes it as before.
    """

    def __init__(self, spec: TaskSpec | None, items: Sequence[Item] | None, limits: dict[str, int],
                 stored: SpecDataCounts | None = None) -> None:
        self.spec = spec
        self._items = items
        self._limits = limits
        self._error: DistillevalError | None = None
        self._stored = stored
        self._counted: SpecDataCounts | None = None

    def items(self) -> Sequence[Item]:
        """Every item of the spec's data file, in canonical order (``spec.data.load_items``)."""
        from distilleval.spec.lazy_items import load_items_lazily

        if self._error is not None:
            raise self._error
        if self._items is None:
            if self.spec is None:
                raise DistillevalError("the spec could not be loaded")
            try:
                self._items = load_items_lazily(self.spec)
            except DistillevalError as err:
                self._error = err
                raise
        return self._items

    def train_items(self) -> int:
        """Items of the training split."""
        if self._stored is not None:
            return self._stored.train_items
        from distilleval.spec.lazy_items import split_count

        return split_count(self.items(), "train")

    def counts(self) -> SpecDataCounts:
        """The data's counts (``report.data_counts.count_data``): as recorded, else counted once."""
        from distilleval.report.data_counts import count_data

        if self._stored is not None:
            return self._stored
        if self._counted is None:
            items = self.items()
            assert self.spec is not None  # items() raised otherwise
            self._counted = count_data(self.spec, items, self._limits)
        return self._counted

    def counted(self) -> SpecDataCounts | None:
        """The counts this call made from the items (None when the recorded ones were used or none were needed)."""
        return self._counted


def _spec_training(spec: TaskSpec, pricing: PricingTable, notes: list[str], data: _SpecData) -> TrainingProjection | None:
    """The training ``estimate`` and ``cost SPEC`` project for this spec (the same trained tokens and cost:
    ``project_training`` on the same rows); None when the data cannot be read, with the run's own tokens used instead."""
    try:
        counts = data.counts()
    except DistillevalError as err:
        notes.append(f"training tokens sized from the run's student requests: the spec's data could not be counted ({err})")
        return None
    n_train = counts.train_items
    if n_train == 0 and spec.training.labelled_examples is None:
        return None
    return project_training(spec, pricing, examples=spec.training.labelled_examples or n_train,
                            tokens_per_row=counts.training_row_tokens, kept_row_tokens=counts.kept_training_tokens)


def _count_training_items(data: _SpecData, notes: list[str]) -> int | None:
    try:
        count = data.train_items()
    except DistillevalError as err:
        notes.append(f"one-time cost not computed: cannot count the training split ({err})")
        return None
    if count == 0:
        notes.append("one-time cost not computed: the data has no training split; set training.labelled_examples")
        return None
    return count


def _teacher_student_comparison(figures_models: list[ModelRow], inputs: RunInputs) -> Comparison | None:
    teacher, student = _find(figures_models, "teacher"), _find(figures_models, "student")
    if teacher is None or student is None:
        return None
    for comparison in inputs.summary.comparisons:
        if (comparison.a, comparison.b) == (teacher.key, student.key):
            return comparison
    from distilleval.results.statistics import compare_paired

    summary = inputs.summary
    a, b = paired_item_scores(summary, teacher.key, summary, student.key)
    if len(a) == 0:
        return None
    return compare_paired(teacher.key, student.key, a, b)


def _non_inferiority(figures: Figures) -> NonInferiority | None:
    comparison = figures.comparison
    if comparison is not None and comparison.non_inferiority is not None:
        test = comparison.non_inferiority
        if math.isclose(test.margin, figures.margin) and math.isclose(test.alpha, figures.alpha):
            return test
    if figures.teacher is None or figures.student is None:
        return None
    summary = figures.summary
    a, b = paired_item_scores(summary, figures.teacher.key, summary, figures.student.key)
    return non_inferiority_test(a, b, margin=figures.margin, alpha=figures.alpha)


def _metric(row: ModelRow) -> float | None:
    metric = row.result.metric
    return metric.value if metric is not None else None


def _best_baseline(models: list[ModelRow]) -> ModelRow | None:
    """The scored baseline with the highest metric (the first listed on a tie)."""
    scored = [(m, value) for m in models if m.result.role == "baseline" and (value := _metric(m)) is not None]
    return max(scored, key=lambda pair: pair[1])[0] if scored else None


def _baseline_comparisons(figures: Figures) -> list[BaselineComparison]:
    """Student against every scored baseline on the items both scored (student − baseline), Holm-corrected."""
    student = figures.student
    if student is None or _metric(student) is None:
        return []
    summary = figures.summary
    pairs = {}
    for row in figures.models:
        if row.result.role == "baseline" and _metric(row) is not None:
            a, b = paired_item_scores(summary, row.key, summary, student.key)
            pairs[row.key] = (row.result.display_name, a, b)
    return compare_with_baselines(pairs, alpha=figures.alpha)


def _confusion(row: ModelRow, inputs: RunInputs) -> dict[str, dict[str, int]] | None:
    """The model's confusion matrix: as recorded, else rebuilt from the per-item outputs with
    the spec's label matcher (older summaries recorded none)."""
    if row.result.confusion is not None:
        return {gold: dict(predicted) for gold, predicted in row.result.confusion.items()}
    from distilleval.spec.scorer_config import ExactMatchScorer

    spec = inputs.spec
    if spec is None or spec.output.kind != "label" or not spec.output.labels or not isinstance(spec.scorer, ExactMatchScorer):
        return None
    from distilleval.results.per_class import confusion_from_outputs
    from distilleval.spec.labels import LabelMatcher

    # A failed call is missing data: it is no prediction, not an INVALID one.
    golds, outputs = gold_and_outputs(inputs.summary, row.key)
    if not golds:
        return None
    matcher = LabelMatcher(spec.output.labels, spec.scorer.normalize, spec.scorer.aliases)
    return confusion_from_outputs(golds, outputs, matcher.match, labels=spec.output.labels)


def _per_class(figures: Figures) -> PerClass | None:
    """Per-class results of the student when it was scored, else of the best baseline."""
    from distilleval.results.per_class import class_results, costliest_confusions, worst_classes

    student = figures.student if figures.student is not None and _metric(figures.student) is not None else None
    focus = student or figures.best_baseline
    if focus is None:
        return None
    confusion = _confusion(focus, figures.inputs)
    if not confusion:
        return None
    labels = figures.inputs.spec.output.labels if figures.inputs.spec and figures.inputs.spec.output.labels else None
    classes = class_results(confusion, labels=labels)
    teacher_recall: dict[str, float | None] = {}
    teacher = figures.teacher
    if teacher is not None and teacher is not focus and _metric(teacher) is not None:
        teacher_confusion = _confusion(teacher, figures.inputs)
        if teacher_confusion:
            teacher_recall = {r.label: r.recall for r in class_results(teacher_confusion, labels=labels)}
    return PerClass(focus, classes, costliest_confusions(confusion), worst_classes(classes), teacher_recall)


def _stale_price_note(inputs: RunInputs, models: list[ModelRow], max_age_days: int) -> str | None:
    """The note naming prices read over ``max_age_days`` before the run priced them, if any."""
    if inputs.pricing is None:
        return None
    priced_on = dt.datetime.fromisoformat(inputs.summary.created_at).date()
    names = {row.result.model: row.result.display_name for row in models if row.result.role != "baseline"}
    stale = stale_prices(inputs.pricing, list(names), today=priced_on, max_age_days=max_age_days)
    if not stale:
        return None
    listed = ", ".join(f"{names[model]} (as of {as_of.isoformat()})" for model, as_of in stale)
    return f"stale prices, read over {max_age_days} days before this run on {priced_on.isoformat()}: {listed}; check current prices"


def compute_figures(inputs: RunInputs, *, max_price_age_days: int = DEFAULT_MAX_PRICE_AGE_DAYS,
                    items: Sequence[Item] | None = None, counts: SpecDataCounts | None = None) -> Figures:
    """Derive every figure a report shows from a loaded run.

    Args:
        inputs: the run's summary with its pricing table and spec (either may be missing).
        max_price_age_days: prices read longer than this before the run are flagged in ``notes``.
        items: every item of the spec's data file as ``spec.data.load_items`` returns them, when the
            caller holds them (the run that just read them); else the data file is read (once).
        counts: the data's counts when the caller has them for this spec, data and run's limits (an
            earlier run's: ``report.data_counts.earlier_counts``); then the items are not counted.

    Returns:
        The figures; ``notes`` says what could not be computed and why.
    """
    summary = inputs.summary
    notes = list(inputs.problems)
    order = {"teacher": 0, "student": 1, "candidate": 2, "baseline": 3, "other": 4}
    keys = sorted(summary.models, key=lambda k: order[summary.models[k].role])
    models = [ModelRow(k, summary.models[k], _cost_per_request(summary.models[k], inputs, notes)) for k in keys]
    teacher, student = _find(models, "teacher"), _find(models, "student")
    for row in models:
        if row.result.batch_api:
            notes.append(
                f"{row.result.display_name}: answered through the {row.result.batch_api} batch API in this run, priced "
                "at the batch tier; batch answers have no per-request latency, so none is reported for them"
            )
    stale_note = _stale_price_note(inputs, models, max_price_age_days)
    if stale_note:
        notes.append(stale_note)
    spec = inputs.spec
    volumes = summary.volumes_per_day or (list(spec.traffic.volumes_per_day) if spec else [1_000, 100_000, 1_000_000])
    days = summary.days_per_month
    gates = spec.gates if spec else None
    margin, margin_source = DEFAULT_MARGIN, f"default {DEFAULT_MARGIN} (set gates.non_inferiority_margin in the spec)"
    if gates is not None and gates.non_inferiority_margin is not None:
        margin, margin_source = gates.non_inferiority_margin, "spec gates.non_inferiority_margin"
    alpha = gates.alpha if gates is not None else DEFAULT_ALPHA
    data = _data_source(inputs, items, counts)
    one_time = _one_time(inputs, teacher, student, notes, data)

    rows = []
    for volume in volumes:
        t = teacher.cost_per_request_usd if teacher else None
        s = student.cost_per_request_usd if student else None
        t_day = cost_model.daily_cost_usd(t, volume) if t is not None else None
        s_day = cost_model.daily_cost_usd(s, volume) if s is not None else None
        t_month = cost_model.monthly_cost_usd(t, volume, days) if t is not None else None
        s_month = cost_model.monthly_cost_usd(s, volume, days) if s is not None else None
        saving_month = t_month - s_month if t_month is not None and s_month is not None else None
        break_even = None
        if one_time is not None and t_day is not None and s_day is not None:
            break_even = cost_model.break_even_days(one_time.total_usd, t_day - s_day)
        rows.append(VolumeRow(volume, t_day, t_month, s_day, s_month, saving_month, break_even))

    figures = Figures(
        inputs=inputs, models=models, teacher=teacher, student=student, pricing_label=_pricing_label(inputs),
        volumes_per_day=list(volumes), days_per_month=days, volume_rows=rows, one_time=one_time,
        comparison=None, non_inferiority=None, margin=margin, margin_source=margin_source, alpha=alpha, notes=notes,
        teacher_options=_teacher_options(inputs, teacher, notes),
    )
    figures.comparison = _teacher_student_comparison(models, inputs)
    figures.non_inferiority = _non_inferiority(figures)
    figures.best_baseline = _best_baseline(models)
    figures.baseline_comparisons = _baseline_comparisons(figures)
    figures.per_class = _per_class(figures)
    figures.token_estimates = _token_estimates(inputs, [r for r in (teacher, student) if r is not None], notes, data)
    figures.data_counted = data.counted()
    return figures


def _data_source(inputs: RunInputs, items: Sequence[Item] | None, counts: SpecDataCounts | None = None) -> _SpecData:
    """The data's counts when given or as the run recorded them when they apply, else the items (given, or
    read when needed)."""
    from distilleval.report.data_counts import eval_limits, stored_counts

    stored = counts
    if stored is None and items is None:
        stored = stored_counts(inputs.summary, inputs.spec, spec_given=inputs.spec_given)
    return _SpecData(inputs.spec, items, eval_limits(inputs.summary), stored)


def _token_estimates(inputs: RunInputs, rows: list[ModelRow], notes: list[str], data: _SpecData) -> list[TokenEstimate]:
    """Teacher and student input tokens per call counted from the spec's prompts over the run's eval
    items (the offline counters ``estimate --offline`` uses), beside the measured means."""
    spec = inputs.spec
    measured = [(row, row.result.input_tokens.mean) for row in rows
                if row.result.basis == "measured" and row.result.input_tokens is not None
                and row.result.input_tokens.mean]
    if spec is None or not measured:
        return []
    try:
        counts = data.counts()
    except DistillevalError as err:
        notes.append(f"input tokens not estimated beside the measured ones: the spec's data could not be counted ({err})")
        return []
    found = []
    for row, measured_mean in measured:
        role = row.result.role
        counted = counts.eval_input_tokens.get(role)
        if counted is not None and counted.items:
            found.append(TokenEstimate(row.label, counted.total / counted.items, measured_mean,
                                       counts.counted_by[role], counted.items))
    return found
