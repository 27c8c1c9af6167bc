"""`distilleval estimate SPEC`: what a spec will cost, before any money is spent.

Renders every item's teacher and student prompt, counts its tokens with the model's own chat
template and tokenizer where they can be known (a Tinker base model's packaged tokenizer; a
local server's template endpoints, asked over ``api_base``), else with the local tokenizer and
says so, and prices labelling the pool with the teacher, one eval run, and a request at the
spec's volumes. ``--from-run RUN`` measures the estimate's error against a finished run's
tokens and calibrates the figures by it.
It first makes every input check ``eval`` and ``run`` make (``pipeline.preflight``), so a spec
it accepts is one they will not refuse for its data.
"""

from __future__ import annotations

import argparse

from distilleval.commands.argument_types import non_negative_int, share
from distilleval.commands.options import add_pricing_option

DEFAULT_MARGIN = 0.03
"""The margin the report judges with when the spec sets none (``report.figures.DEFAULT_MARGIN``)."""

HELP = "Count every item's prompt tokens and price labelling and eval runs before spending"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval estimate`` to ``parser``."""
    parser.add_argument("spec", help="task spec YAML")
    add_pricing_option(parser, "pricing table YAML (default: the spec's, else the bundled 2026-02 table)")
    parser.add_argument("--pool", help="unlabelled inputs the teacher would label (default: the spec's pool, else its train split)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--from-run", metavar="RUN", help="a finished eval run of this spec: measure the estimate's error "
                        "against its per-item tokens and calibrate the figures by it")
    parser.add_argument("--offline", action="store_true", help="do not ask a model's api_base server to count "
                        "(the local tokenizer counts those roles)")
    parser.add_argument(
        "--assumed-discordance", type=share, metavar="SHARE", default=None,
        help="for sizing the eval split: the share of items where the student and the teacher differ in correctness "
             "(default: the spec's decision.assumed_discordance, else 0.10)",
    )
    parser.add_argument(
        "--max-price-age-days", type=non_negative_int, default=180, metavar="DAYS",
        help="flag prices read longer than this before today, as `cost` does (default 180)",
    )


def run(args: argparse.Namespace) -> int:
    """Print what the spec's runs will cost; returns 0."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from tabulate import tabulate

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
    from distilleval.costs.tables import TokenProfile, build_cost_table, render_cost_table
    from distilleval.pipeline.judge_costs import estimate_judge_calls
    from distilleval.pipeline.preflight import check_eval_inputs, check_scorer
    from distilleval.spec.data import load_items, split_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    check_spec_base_model(spec)  # a base model Tinker no longer serves fails before anything is counted
    pricing = resolve_pricing(spec, args.pricing)
    # The checks eval and run make before their first paid call: what they would refuse, estimate refuses too.
    inputs = check_eval_inputs(spec)
    check_scorer(spec)
    items, eval_items = inputs.items, inputs.evaluate
    # Each item's prompts are counted once; the eval split and the default pool are views of those counts.
    counting = own_template_counters(spec, ask_servers=not args.offline)
    counts = count_spec_tokens(spec, items, counters=counting.counters)
    check_context_lengths(spec, items, counts.inputs)  # a prompt no model window takes fails every call
    profiles = counts.profiles(spec)
    calibrations = _calibrations(args.from_run, counts) if args.from_run else {}
    profiles = _calibrated(profiles, calibrations)
    teacher, student = profiles["teacher"], profiles["student"]
    # The model whose labels train the student: the teacher, or a candidate with label_for_training.
    labeller_name, labeller = spec.labeller()
    if args.pool or spec.data.pool:
        pool_path = Path(args.pool) if args.pool else spec.resolve(spec.data.pool or "")
        pool_items = load_items(spec, path=pool_path)
        pool_name = str(pool_path)
        pool_inputs = input_token_counts(spec, labeller_name, pool_items)
    else:
        pool_items = split_items(items, "train")
        pool_name = f"train split of {spec.data.path}"
        pool_inputs = [n for n, item in zip(counts.inputs[labeller_name], items) if item.split == "train"]
    if labeller_name in calibrations:
        pool_inputs = [round(n * calibrations[labeller_name].input_factor) for n in pool_inputs]
    # The pool usually has no gold: price its outputs at the data's mean answer length.
    pool_profile = RoleProfile(
        labeller_name, labeller.model, TokenStats.of(pool_inputs),
        TokenStats.of([round(profiles[labeller_name].output_tokens.mean)] * len(pool_items))
    )

    teacher_cache = teacher_cache_share(spec)
    teacher_share = teacher_cache.share
    teacher_price = pricing.price_for(spec.teacher.pricing_key)
    student_price = pricing.price_for(pricing.key_for(spec.student))
    labelling_usd = cost_model.usage_cost_usd(
        pricing.price_for(pricing.key_for(labeller)), pool_profile.input_tokens.total, pool_profile.output_tokens.total,
        cached_input_share=teacher_share if labeller_name == "teacher" else 0.0, batch=labeller.batch,
    )
    eval_profiles = _calibrated(counts.profiles(spec, lambda item: item.split == "eval"), calibrations) if eval_items else profiles
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
            pricing.price_for(pricing.key_for(c)), eval_profiles[c.name].input_tokens.total,
            eval_profiles[c.name].output_tokens.total, cached_input_share=model_cache_share(spec, c.name).share,
            batch=c.batch,
        )
        for c in spec.candidates
    }
    # A judge-scored spec: the judge's grading, pairwise and alignment calls of an eval run, and of `align`.
    judge = estimate_judge_calls(spec, eval_items, pricing)
    eval_total_usd = eval_teacher_usd + eval_student_usd + sum(eval_candidate_usd.values()) + (
        judge.eval_usd if judge is not None else 0.0)
    per_request = {role: role_cost_per_request_usd(spec, pricing, p) for role, p in profiles.items()}
    compression = teacher.input_tokens.mean / student.input_tokens.mean if student.input_tokens.mean else None
    # The train split is the default pool: its rows are known one by one, so the trainer's exact rows are summed.
    n_train, row_tokens = spec_training_rows(spec, counts, pool=bool(args.pool))
    training = spec_training_projection(spec, pricing, student, n_train=n_train, row_tokens=row_tokens)
    one_time = spec_one_time_cost(spec, pricing, profiles[spec.labeller()[0]], student, n_train=n_train, row_tokens=row_tokens)
    table = build_cost_table(
        [
            TokenProfile(
                spec.teacher.pricing_key, teacher.input_tokens.mean, teacher.output_tokens.mean,
                cached_input_tokens=teacher.input_tokens.mean * teacher_share, basis="projected",
                batch=spec.teacher.batch, role="teacher",
            ),
            TokenProfile(
                pricing.key_for(spec.student), student.input_tokens.mean, student.output_tokens.mean, basis="projected",
                batch=spec.student.batch, role="student",
            ),
            *(
                TokenProfile(
                    pricing.key_for(c), profiles[c.name].input_tokens.mean, profiles[c.name].output_tokens.mean,
                    cached_input_tokens=profiles[c.name].input_tokens.mean * model_cache_share(spec, c.name).share,
                    basis="projected", batch=c.batch, role="candidate",
                )
                for c in spec.candidates
            ),
        ],
        pricing,
        volumes_per_day=list(spec.traffic.volumes_per_day),
        days_per_month=spec.traffic.days_per_month,
        student_model=pricing.key_for(spec.student),
        one_time_cost_usd=one_time,
    )
    stale_note = _stale_price_note(pricing, table, args.max_price_age_days)
    if stale_note:
        table.notes.append(stale_note)

    sizing = _eval_sizing(spec, len(eval_items), args.assumed_discordance)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "spec": spec.name,
                    "tokenizer": {role: p.counted_by for role, p in profiles.items()},
                    "tokens_guessed": counting.guessed,
                    "calibration": {role: {**asdict(c), "input_error": c.input_error, "input_factor": c.input_factor}
                                    for role, c in calibrations.items()},
                    "items": len(items),
                    "profiles": {role: asdict(p) for role, p in profiles.items()},
                    "compression": compression,
                    "cached_input_share": {"teacher": teacher_share, "student": 0.0},
                    "cache_share_dropped": teacher_cache.dropped,
                    "cost_per_request_usd": per_request,
                    "cost_per_request_basis": projection_basis(len(items)),
                    "one_time_cost_usd": one_time,
                    "training": None if training is None else {
                        "recipe": training.schedule.recipe,
                        "labelled_examples": training.labelled_examples,
                        "train_rows": training.train_rows,
                        "heldout_fraction": training.heldout_fraction,
                        "batch_size": training.schedule.batch_size,
                        "epochs": training.schedule.epochs,
                        "steps": training.schedule.steps,
                        "adaptations": training.schedule.adaptations,
                        "trained_tokens": training.trained_tokens,
                        "tokens_basis": training.tokens_basis,
                        "tokens_basis_text": training.basis_text,
                        "price_as": training.price_as,
                        "training_price_per_mtok_usd": training.training_price_per_mtok_usd,
                        "cost_usd": training.cost_usd,
                    },
                    "labelling": {"pool": pool_name, "items": len(pool_items), "cost_usd": labelling_usd},
                    "eval_run": {"items": len(eval_items), "teacher_usd": eval_teacher_usd, "student_usd": eval_student_usd,
                                 "candidates_usd": eval_candidate_usd,
                                 "judge_usd": None if judge is None else judge.eval_usd, "total_usd": eval_total_usd},
                    "judge": None if judge is None else judge.as_dict(),
                    "align_run": None if judge is None else {"calls": judge.alignment.calls, "cost_usd": judge.align_usd},
                    "pricing": pricing.label,
                    "stale_price_note": stale_note,
                    "eval_sizing": {"eval_items": sizing.eval_items, "items_needed": sizing.items_needed,
                                    "power": sizing.power_now, "enough": sizing.enough,
                                    "assumption": sizing.assumption, "method": sizing.method, "text": sizing.text()},
                },
                indent=2,
            )
        )
        return 0

    counted = "; ".join(f"{role}: {p.counted_by}" for role, p in profiles.items())
    print(f"# Estimate for {spec.name}: {len(items)} items, prompts rendered and counted ({counted})\n")
    rows = [
        [p.role, p.model, f"{p.input_tokens.mean:,.1f}", f"{p.input_tokens.p50:,.0f}", f"{p.input_tokens.p95:,.0f}", f"{p.input_tokens.max:,}", f"{p.output_tokens.mean:,.1f}"]
        for p in profiles.values()
    ]
    print(tabulate(rows, headers=["Role", "Model", "Input tok (mean)", "p50", "p95", "max", "Output tok (mean)"], tablefmt="github", disable_numparse=True))
    if compression:
        print(f"\nThe student sees {compression:,.1f}x fewer input tokens than the teacher.\n")
    spend = [
        [f"Label the pool with the {'teacher' if labeller_name == 'teacher' else labeller_name}", pool_name, f"{len(pool_items):,}", f"{pool_profile.input_tokens.total:,}", cost_model.format_usd(labelling_usd)],
        ["Eval run: teacher", "eval split", f"{len(eval_items):,}", f"{eval_profiles['teacher'].input_tokens.total:,}", cost_model.format_usd(eval_teacher_usd)],
        ["Eval run: student", "eval split", f"{len(eval_items):,}", f"{eval_profiles['student'].input_tokens.total:,}", cost_model.format_usd(eval_student_usd)],
        *([f"Eval run: {name} (candidate)", "eval split", f"{len(eval_items):,}",
           f"{eval_profiles[name].input_tokens.total:,}", cost_model.format_usd(usd)] for name, usd in eval_candidate_usd.items()),
        *_judge_rows(judge, eval_total_usd, cost_model.format_usd),
    ]
    print(tabulate(spend, headers=["Projected spend", "Items from", "Calls", "Input tokens", "Cost"], tablefmt="github", disable_numparse=True))
    if judge is not None:
        print(_judge_note(judge))
    print("\n## Cost per request and at the spec's volumes (projected)\n")
    print(render_cost_table(table, "md"), end="")
    print(f"Tokens per request: {projection_basis(len(items))}.")
    if teacher_share:
        print(f"The teacher is priced with {teacher_share:.0%} of its input read from the prompt cache "
              "(spec traffic.cached_input_fraction).")
    checkpoint = checkpoint_price_note(spec.student.model, priced_as(spec.student, pricing), pricing)
    if checkpoint:
        print(f"The student {checkpoint}.")
    if teacher_cache.dropped:
        print(f"Prompt cache: {teacher_cache.dropped}; the teacher is priced with no cached input.")
    if training is None:
        print(f"One-time cost and break-even not computed: {spec.training.price_as!r} has no training price "
              "in the pricing table and the spec has no training: block.")
    else:
        print(f"One-time cost: {training.describe()}.")
    print(f"\n## Is the eval split large enough?\n\n{sizing.text()}\n")
    for line in _accuracy_lines(counting.guessed, calibrations):
        print(line)
    return 0


def _judge_rows(judge, eval_total_usd: float, format_usd) -> list[list[str]]:
    """The spend table's judge lines: the eval run's judge calls, the eval run's total, and ``align``'s calls."""
    if judge is None:
        return []
    kinds = [f"{judge.grading.calls:,} grading"]
    if judge.pairwise.calls:
        kinds.append(f"{judge.pairwise.calls:,} pairwise")
    kinds.append(f"{judge.alignment.calls:,} alignment")
    return [
        [f"Eval run: judge {judge.model} ({', '.join(kinds)})", "eval split + alignment set", f"{judge.eval_calls:,}",
         f"{judge.eval_input_tokens:,}", format_usd(judge.eval_usd)],
        ["Eval run: total (models + judge)", "eval split", "", "", format_usd(eval_total_usd)],
        [f"Align run: judge {judge.model} (distilleval align)", "alignment set", f"{judge.alignment.calls:,}",
         f"{judge.alignment.input_tokens:,}", format_usd(judge.align_usd)],
    ]


def _judge_note(judge) -> str:
    """How the judge's calls were counted and priced, under the spend table."""
    return (f"\nJudge calls priced as {judge.priced_as} at {judge.batch_basis}: a ceiling of one grading call per "
            f"eval item per model (two models' identical answers share one call); input tokens: {judge.answer_basis}; "
            f"output tokens: {judge.output_basis}.")
def _stale_price_note(pricing, table, max_age_days: int) -> str | None:
    """The note ``cost`` prints when a priced model's price was read over ``max_age_days`` before today."""
    import datetime as dt

    from distilleval.costs.pricing import stale_prices
    from distilleval.costs.tables import stale_price_note

    today = dt.date.today()
    stale = stale_prices(pricing, [row.model for row in table.rows], today=today, max_age_days=max_age_days)
    return stale_price_note(stale, max_age_days=max_age_days, on=today)


def _calibrations(run: str, counts) -> dict:
    """Role -> the estimate's ``Calibration`` against ``run``'s measured tokens (roles it answered)."""
    from pathlib import Path

    from distilleval.costs.calibration import calibrate
    from distilleval.errors import DataError
    from distilleval.run.store import RECORDS_FILE, RunStore

    run_dir = Path(run)
    if not (run_dir / RECORDS_FILE).is_file():
        raise DataError(f"--from-run {run}: no run found (looked for {run_dir / RECORDS_FILE})")
    ids = [item.id for item in counts.items]
    found = {}
    with RunStore(run_dir) as store:
        for role in counts.inputs:
            measured = {r.item_id: (r.input_tokens, r.output_tokens) for r in store.results(role)
                        if r.ok and r.repeat == 0 and r.input_tokens is not None and r.output_tokens is not None}
            calibration = calibrate(role, str(run_dir), dict(zip(ids, counts.inputs[role])),
                                    dict(zip(ids, counts.outputs[role])), measured)
            if calibration is not None:
                found[role] = calibration
    if not found:
        raise DataError(f"--from-run {run}: the run has no answered call for an item of this spec's data")
    return found


def _calibrated(profiles: dict, calibrations: dict) -> dict:
    from distilleval.costs.calibration import calibrated_profile

    return {role: calibrated_profile(p, calibrations[role]) if role in calibrations else p for role, p in profiles.items()}


def _accuracy_lines(guessed: dict[str, str], calibrations: dict) -> list[str]:
    """The footer: the error measured against a run, or for each guessed role its basis and how to measure it."""
    from distilleval.costs.tokens import LOCAL_TOKENIZER

    lines = []
    for role, c in calibrations.items():
        output = f"{c.estimated_output_mean:,.1f}" if c.estimated_output_mean is not None else "no gold answers"
        lines.append(
            f"Measured error of the {role} estimate on {c.items:,} items of {c.run}: input {c.input_error:+.1%} "
            f"({c.estimated_input_mean:,.1f} estimated vs {c.measured_input_mean:,.1f} measured tokens per call), output "
            f"{output} (gold answers) vs {c.measured_output_mean:,.1f} measured; the figures above are calibrated by it "
            f"(input × {c.input_factor:,.3f}, output the run's mean).")
    for role, reason in guessed.items():
        if role in calibrations:
            continue
        lines.append(
            f"{role.capitalize()} tokens are a guess: counted with a local tokenizer ({LOCAL_TOKENIZER}), not the model's "
            f"own template ({reason}); the error is not measured: after a run, `distilleval estimate SPEC --from-run RUN` "
            "measures it and calibrates these figures.")
    return lines


def _eval_sizing(spec, eval_items: int, assumed_discordance: float | None):
    """Whether the eval split can show non-inferiority at the spec's margin (``results.sample_size``)."""
    from distilleval.results.sample_size import eval_split_sizing

    discordance = spec.decision.assumed_discordance if assumed_discordance is None else assumed_discordance
    margin = spec.gates.non_inferiority_margin if spec.gates.non_inferiority_margin is not None else DEFAULT_MARGIN
    return eval_split_sizing(eval_items, margin=margin, alpha=spec.gates.alpha, discordance=discordance,
                             power_target=spec.decision.power)
