"""``estimate``: what a spec's runs will cost, before any money is spent (``distilleval estimate``).

Renders every item's teacher and student prompt, counts its tokens with the model's own chat
template and tokenizer where they can be known, else with the local tokenizer (and says so), and
prices labelling the pool, one eval run, the LoRA run and a request at the spec's volumes. With
``from_run`` it measures the estimate's error against a finished run's tokens and calibrates by it.
It first makes every input check ``eval`` and ``run`` make (``pipeline.preflight``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from distilleval.pipeline.stages.arguments import SpecArg, as_spec
from distilleval.pipeline.stages.result_json import RENDER_ONLY

if TYPE_CHECKING:
    from distilleval.costs.calibration import Calibration
    from distilleval.costs.estimates import RoleProfile, SpecTokenCounts
    from distilleval.costs.pricing import PricingTable
    from distilleval.costs.tables import CostTable
    from distilleval.pipeline.judge_costs import JudgeEstimate
    from distilleval.results.sample_size import EvalSizing
    from distilleval.spec.task_spec import TaskSpec

DEFAULT_MARGIN = 0.03
"""The margin the report judges with when the spec sets none (``report.figures.DEFAULT_MARGIN``)."""


@dataclass(frozen=True)
class TrainingEstimate:
    """The LoRA run the spec will make (``costs.estimates.TrainingProjection``) and its cost.

    Attributes:
        description: the one line naming the recipe and the rate (text output only).
    """

    recipe: str
    labelled_examples: int
    train_rows: int
    heldout_fraction: float
    batch_size: int
    epochs: int
    steps: int
    adaptations: tuple[str, ...]
    trained_tokens: float
    tokens_basis: str
    tokens_basis_text: str
    price_as: str
    training_price_per_mtok_usd: float
    cost_usd: float
    description: str = field(metadata=RENDER_ONLY)


@dataclass(frozen=True)
class LabellingEstimate:
    """Labelling the pool with the labeller (the teacher, or a candidate with ``label_for_training``).

    Attributes:
        pool: where the pool's items come from.
        items: items to label.
        cost_usd: their projected cost.
        labelled_by: the labeller's role or candidate name (text output only).
        input_tokens: the pool's input tokens (text output only).
    """

    pool: str
    items: int
    cost_usd: float
    labelled_by: str = field(metadata=RENDER_ONLY)
    input_tokens: int = field(metadata=RENDER_ONLY)


@dataclass(frozen=True)
class EvalRunEstimate:
    """One eval run over the eval split: each model's calls and the judge's, priced.

    Attributes:
        candidates_usd: each prompted candidate's calls.
        judge_usd: the judge's calls (None when no judge scores the task).
        total_usd: everything one eval run pays.
        input_tokens: role or candidate -> its input tokens over the eval split (text output only).
    """

    items: int
    teacher_usd: float
    student_usd: float
    candidates_usd: Mapping[str, float]
    judge_usd: float | None
    total_usd: float
    input_tokens: Mapping[str, int] = field(metadata=RENDER_ONLY)


@dataclass(frozen=True)
class AlignRunEstimate:
    """``distilleval align``: the judge's alignment calls and their cost."""

    calls: int
    cost_usd: float


@dataclass(frozen=True)
class EvalSizingEstimate:
    """Whether the eval split can show non-inferiority at the spec's margin (``results.sample_size``).

    Attributes:
        power: the power the eval split gives now.
        text: the sizing as one sentence.
    """

    eval_items: int
    items_needed: int | None
    power: float
    enough: bool
    assumption: str
    method: str
    text: str

    @classmethod
    def of(cls, sizing: EvalSizing) -> EvalSizingEstimate:
        """The figures of a ``results.sample_size.EvalSizing``."""
        return cls(sizing.eval_items, sizing.items_needed, sizing.power_now, sizing.enough, sizing.assumption,
                   sizing.method, sizing.text())


@dataclass(frozen=True)
class EstimateResult:
    """What a spec's runs will cost; its JSON is ``distilleval estimate --format json``.

    Attributes:
        spec: the spec's name.
        tokenizer: role -> what counted its tokens.
        tokens_guessed: role -> why its tokens were counted with the local tokenizer (a guess).
        calibration: role -> the estimate's error measured against ``from_run`` (empty without it).
        items: items in the data file.
        profiles: role -> its token profile over every item (calibrated when measured).
        compression: teacher ÷ student mean input tokens (None when the student sees no tokens).
        cached_input_share: role -> the share of its input priced as read from a prompt cache.
        cache_share_dropped: why the spec's cached share was not used, else None.
        cost_per_request_usd: role -> projected cost of one request.
        cost_per_request_basis: how the tokens per request were measured, in words.
        one_time_cost_usd: labelling plus training (None when training cannot be priced).
        training: the LoRA run (None when training cannot be priced).
        labelling, eval_run, judge, align_run: the projected spend of each.
        pricing: the pricing table's label.
        stale_price_note: the note on prices read too long ago, else None.
        eval_sizing: whether the eval split is large enough.
        cost_table: the cost table at the spec's volumes (text output only).
        student_checkpoint_note: how a checkpoint student is priced, else None (text output only).
        training_price_as: the pricing entry training is priced as (text output only).
    """

    spec: str
    tokenizer: Mapping[str, str]
    tokens_guessed: Mapping[str, str]
    calibration: Mapping[str, Calibration]
    items: int
    profiles: Mapping[str, RoleProfile]
    compression: float | None
    cached_input_share: Mapping[str, float]
    cache_share_dropped: str | None
    cost_per_request_usd: Mapping[str, float]
    cost_per_request_basis: str
    one_time_cost_usd: float | None
    training: TrainingEstimate | None
    labelling: LabellingEstimate
    eval_run: EvalRunEstimate
    judge: JudgeEstimate | None
    align_run: AlignRunEstimate | None
    pricing: str
    stale_price_note: str | None
    eval_sizing: EvalSizingEstimate
    cost_table: CostTable = field(metadata=RENDER_ONLY)
    student_checkpoint_note: str | None = field(metadata=RENDER_ONLY)
    training_price_as: str = field(metadata=RENDER_ONLY)


def estimate(
    spec: SpecArg,
    *,
    pricing: str | None = None,
    pool: str | None = None,
    from_run: str | None = None,
    offline: bool = False,
    assumed_discordance: float | None = None,
    max_price_age_days: int = 180,
) -> EstimateResult:
    """Count every item's prompt tokens and price labelling, an eval run, training and requests.

    Args:
        spec: the task spec, or its YAML file.
        pricing: pricing table YAML (default: the spec's, else the bundled table).
        pool: unlabelled inputs the teacher would label (default: the spec's pool, else its train split).
        from_run: a finished eval run of this spec: measure the estimate's error against its tokens and
            calibrate the figures by it.
        offline: do not ask a model's ``api_base`` server to count (the local tokenizer counts those roles).
        assumed_discordance: for sizing the eval split, the share of items where the student and the
            teacher differ in correctness (default: the spec's ``decision.assumed_discordance``).
        max_price_age_days: flag prices read longer than this before today.

    Raises:
        DistillevalError: a bad spec, data, pricing table or run (one line naming the file).
    """
    from pathlib import Path

    import numpy as np

    from distilleval.backends.request_checks import check_context_lengths
    from distilleval.backends.tinker.catalogue import check_spec_base_model
    from distilleval.backends.token_counters import own_template_counters
    from distilleval.costs import cost_model
    from distilleval.costs.estimates import (
        RoleProfile,
        TokenStats,
        count_spec_tokens,
        input_token_counts,
        projection_basis,
        role_cost_per_request_usd,
        spec_one_time_cost,
        spec_training_projection,
        spec_training_rows,
    )
    from distilleval.costs.pricing import checkpoint_price_note, priced_as, resolve_pricing
    from distilleval.costs.prompt_caching import model_cache_share, teacher_cache_share
    from distilleval.costs.tables import TokenProfile, build_cost_table
    from distilleval.pipeline.judge_costs import estimate_judge_calls
    from distilleval.pipeline.preflight import check_eval_inputs, check_scorer
    from distilleval.spec.data import load_items

    spec, _ = as_spec(spec)
    check_spec_base_model(spec)  # a base model Tinker no longer serves fails before anything is counted
    table_of_prices = resolve_pricing(spec, pricing)
    # The checks eval and run make before their first paid call: what they would refuse, estimate refuses too.
    inputs = check_eval_inputs(spec)
    check_scorer(spec)
    # Held as loaded (a lazily loaded file stays off the heap): every item is counted in one pass.
    items, eval_items = inputs.items, inputs.evaluate
    # Each item's prompts are counted once; the eval split and the default pool are views of those counts.
    counting = own_template_counters(spec, ask_servers=not offline)
    counts = count_spec_tokens(spec, items, counters=counting.counters)
    check_context_lengths(spec, items, counts.inputs)  # a prompt no model window takes fails every call
    calibrations = _calibrations(from_run, counts) if from_run else {}
    profiles = _calibrated(counts.profiles(spec), calibrations)
    teacher, student = profiles["teacher"], profiles["student"]
    # The model whose labels train the student: the teacher, or a candidate with label_for_training.
    labeller_name, labeller = spec.labeller()
    pool_path = Path(pool) if pool else spec.resolve(spec.data.pool) if spec.data.pool else None
    if pool_path is not None:
        pool_name = str(pool_path)
        pool_inputs = np.asarray(input_token_counts(spec, labeller_name, load_items(spec, path=pool_path)),
                                 dtype=np.int64)
    else:
        pool_name = f"train split of {spec.data.path}"
        pool_inputs = counts.inputs[labeller_name][counts.in_split("train")]
    if labeller_name in calibrations:
        # np.rint rounds half to even, as round() does: each count as round(n * factor).
        pool_inputs = np.rint(pool_inputs * calibrations[labeller_name].input_factor).astype(np.int64)
    pool_size = len(pool_inputs)
    # The pool usually has no gold: price its outputs at the data's mean answer length.
    pool_profile = RoleProfile(
        labeller_name, labeller.model, TokenStats.of(pool_inputs),
        TokenStats.repeated(round(profiles[labeller_name].output_tokens.mean), pool_size)
    )

    teacher_cache = teacher_cache_share(spec)
    teacher_share = teacher_cache.share
    teacher_price = table_of_prices.price_for(spec.teacher.pricing_key)
    student_price = table_of_prices.price_for(table_of_prices.key_for(spec.student))
    labelling_usd = cost_model.usage_cost_usd(
        table_of_prices.price_for(table_of_prices.key_for(labeller)), pool_profile.input_tokens.total,
        pool_profile.output_tokens.total, cached_input_share=teacher_share if labeller_name == "teacher" else 0.0,
        batch=labeller.batch,
    )
    eval_profiles = _calibrated(counts.profiles(spec, "eval"), calibrations) if eval_items else profiles
    eval_teacher_usd = cost_model.usage_cost_usd(
        teacher_price, eval_profiles["teacher"].input_tokens.total, eval_profiles["teacher"].output_tokens.total,
        cached_input_share=teacher_share, batch=spec.teacher.batch,
    )
    eval_student_usd = cost_model.usage_cost_usd(
        student_price, eval_profiles["student"].input_tokens.total, eval_profiles["student"].output_tokens.total,
        batch=spec.student.batch,
    )
    # Each prompted candidate is called on the eval split too, with its own prompt (default: the teacher's).
    eval_candidate_usd = {
        c.name: cost_model.usage_cost_usd(
            table_of_prices.price_for(table_of_prices.key_for(c)), eval_profiles[c.name].input_tokens.total,
            eval_profiles[c.name].output_tokens.total, cached_input_share=model_cache_share(spec, c.name).share,
            batch=c.batch,
        )
        for c in spec.candidates
    }
    # A judge-scored spec: the judge's grading, pairwise and alignment calls of an eval run, and of `align`.
    judge = estimate_judge_calls(spec, eval_items, table_of_prices)
    eval_total_usd = eval_teacher_usd + eval_student_usd + sum(eval_candidate_usd.values()) + (
        judge.eval_usd if judge is not None else 0.0)
    per_request = {role: role_cost_per_request_usd(spec, table_of_prices, p) for role, p in profiles.items()}
    compression = teacher.input_tokens.mean / student.input_tokens.mean if student.input_tokens.mean else None
    # The train split is the default pool: its rows are known one by one, so the trainer's exact rows are summed.
    n_train, row_tokens = spec_training_rows(spec, counts, pool=bool(pool))
    training = spec_training_projection(spec, table_of_prices, student, n_train=n_train, row_tokens=row_tokens)
    one_time = spec_one_time_cost(spec, table_of_prices, profiles[labeller_name], student, n_train=n_train,
                                  row_tokens=row_tokens)
    table = build_cost_table(
        [
            TokenProfile(
                spec.teacher.pricing_key, teacher.input_tokens.mean, teacher.output_tokens.mean,
                cached_input_tokens=teacher.input_tokens.mean * teacher_share, basis="projected",
                batch=spec.teacher.batch, role="teacher",
            ),
            TokenProfile(
                table_of_prices.key_for(spec.student), student.input_tokens.mean, student.output_tokens.mean,
                basis="projected", batch=spec.student.batch, role="student",
            ),
            *(
                TokenProfile(
                    table_of_prices.key_for(c), profiles[c.name].input_tokens.mean, profiles[c.name].output_tokens.mean,
                    cached_input_tokens=profiles[c.name].input_tokens.mean * model_cache_share(spec, c.name).share,
                    basis="projected", batch=c.batch, role="candidate",
                )
                for c in spec.candidates
            ),
        ],
        table_of_prices,
        volumes_per_day=list(spec.traffic.volumes_per_day),
        days_per_month=spec.traffic.days_per_month,
        student_model=table_of_prices.key_for(spec.student),
        one_time_cost_usd=one_time,
    )
    stale_note = _stale_price_note(table_of_prices, table, max_price_age_days)
    if stale_note:
        table.notes.append(stale_note)

    return EstimateResult(
        spec=spec.name,
        tokenizer={role: p.counted_by for role, p in profiles.items()},
        tokens_guessed=dict(counting.guessed),
        calibration=dict(calibrations),
        items=len(items),
        profiles=profiles,
        compression=compression,
        cached_input_share={"teacher": teacher_share, "student": 0.0},
        cache_share_dropped=teacher_cache.dropped,
        cost_per_request_usd=per_request,
        cost_per_request_basis=projection_basis(len(items)),
        one_time_cost_usd=one_time,
        training=None if training is None else TrainingEstimate(
            recipe=training.schedule.recipe,
            labelled_examples=training.labelled_examples,
            train_rows=training.train_rows,
            heldout_fraction=training.heldout_fraction,
            batch_size=training.schedule.batch_size,
            epochs=training.schedule.epochs,
            steps=training.schedule.steps,
            adaptations=tuple(training.schedule.adaptations),
            trained_tokens=training.trained_tokens,
            tokens_basis=training.tokens_basis,
            tokens_basis_text=training.basis_text,
            price_as=training.price_as,
            training_price_per_mtok_usd=training.training_price_per_mtok_usd,
            cost_usd=training.cost_usd,
            description=training.describe(),
        ),
        labelling=LabellingEstimate(pool_name, pool_size, labelling_usd, labelled_by=labeller_name,
                                    input_tokens=pool_profile.input_tokens.total),
        eval_run=EvalRunEstimate(
            items=len(eval_items), teacher_usd=eval_teacher_usd, student_usd=eval_student_usd,
            candidates_usd=eval_candidate_usd, judge_usd=None if judge is None else judge.eval_usd,
            total_usd=eval_total_usd,
            input_tokens={role: p.input_tokens.total for role, p in eval_profiles.items()},
        ),
        judge=judge,
        align_run=None if judge is None else AlignRunEstimate(judge.alignment.calls, judge.align_usd),
        pricing=table_of_prices.label,
        stale_price_note=stale_note,
        eval_sizing=EvalSizingEstimate.of(_eval_sizing(spec, len(eval_items), assumed_discordance)),
        cost_table=table,
        student_checkpoint_note=checkpoint_price_note(spec.student.model, priced_as(spec.student, table_of_prices),
                                                      table_of_prices),
        training_price_as=spec.training.price_as,
    )


def _stale_price_note(pricing: PricingTable, table: CostTable, max_age_days: int) -> str | None:
    """The note ``cost`` prints when a priced model's price was read over ``max_age_days`` before today."""
    import datetime as dt

    from distilleval.costs.pricing import stale_prices
    from distilleval.costs.tables import stale_price_note

    today = dt.date.today()
    stale = stale_prices(pricing, [row.model for row in table.rows], today=today, max_age_days=max_age_days)
    return stale_price_note(stale, max_age_days=max_age_days, on=today)


def _calibrations(run: str, counts: SpecTokenCounts) -> dict[str, Calibration]:
    """Role -> the estimate's ``Calibration`` against ``run``'s measured tokens (roles it answered)."""
    from pathlib import Path

    from distilleval.costs.calibration import calibrate
    from distilleval.errors import DataError
    from distilleval.run.store import RECORDS_FILE, RunStore

    run_dir = Path(run)
    if not (run_dir / RECORDS_FILE).is_file():
        raise DataError(f"--from-run {run}: no run found (looked for {run_dir / RECORDS_FILE})")
    ids = [item.id for item in counts.items]  # one pass over the items, only when calibrating
    found = {}
    with RunStore(run_dir) as store:
        for role in counts.inputs:
            measured = {r.item_id: (r.input_tokens, r.output_tokens) for r in store.results(role)
                        if r.ok and r.repeat == 0 and r.input_tokens is not None and r.output_tokens is not None}
            calibration = calibrate(role, str(run_dir), dict(zip(ids, counts.inputs[role].tolist())),
                                    dict(zip(ids, counts.answers(role))), measured)
            if calibration is not None:
                found[role] = calibration
    if not found:
        raise DataError(f"--from-run {run}: the run has no answered call for an item of this spec's data")
    return found


def _calibrated(profiles: dict[str, RoleProfile], calibrations: Mapping[str, Calibration]) -> dict[str, RoleProfile]:
    from distilleval.costs.calibration import calibrated_profile

    return {role: calibrated_profile(p, calibrations[role]) if role in calibrations else p for role, p in profiles.items()}


def _eval_sizing(spec: TaskSpec, eval_items: int, assumed_discordance: float | None) -> EvalSizing:
    """Whether the eval split can show non-inferiority at the spec's margin (``results.sample_size``)."""
    from distilleval.results.sample_size import eval_split_sizing

    discordance = spec.decision.assumed_discordance if assumed_discordance is None else assumed_discordance
    margin = spec.gates.non_inferiority_margin if spec.gates.non_inferiority_margin is not None else DEFAULT_MARGIN
    return eval_split_sizing(eval_items, margin=margin, alpha=spec.gates.alpha, discordance=discordance,
                             power_target=spec.decision.power)
