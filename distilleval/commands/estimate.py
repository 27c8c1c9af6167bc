"""`distilleval estimate SPEC`: what a spec will cost, before any money is spent.

Renders every item's teacher and student prompt, counts tokens locally (no network), and
prices labelling the pool with the teacher, one eval run, and a request at the spec's volumes.
It first makes every input check ``eval`` and ``run`` make (``pipeline.preflight``), so a spec
it accepts is one they will not refuse for its data.
"""

from __future__ import annotations

import argparse

HELP = "Count every item's prompt tokens locally and price labelling and eval runs before spending"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval estimate`` to ``parser``."""
    parser.add_argument("spec", help="task spec YAML")
    parser.add_argument("--pricing", help="pricing table YAML (default: the spec's, else the bundled 2026-02 table)")
    parser.add_argument("--pool", help="unlabelled inputs the teacher would label (default: the spec's pool, else its train split)")
    parser.add_argument("--format", choices=("md", "json"), default="md")


def run(args: argparse.Namespace) -> int:
    """Print what the spec's runs will cost; returns 0."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from tabulate import tabulate

    from distilleval.backends.request_checks import check_context_lengths
    from distilleval.backends.tinker.catalogue import check_spec_base_model
    from distilleval.backends.tinker.token_counts import spec_token_counters
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
    from distilleval.costs.pricing import checkpoint_price_note, load_pricing, priced_as
    from distilleval.costs.prompt_caching import model_cache_share, teacher_cache_share
    from distilleval.costs.tables import TokenProfile, build_cost_table, render_cost_table
    from distilleval.costs.tokens import LOCAL_TOKENIZER
    from distilleval.pipeline.preflight import check_eval_inputs, check_scorer
    from distilleval.spec.data import load_items, split_items
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    check_spec_base_model(spec)  # a base model Tinker no longer serves fails before anything is counted
    pricing = load_pricing(args.pricing or (spec.resolve(spec.pricing) if spec.pricing else None))
    # The checks eval and run make before their first paid call: what they would refuse, estimate refuses too.
    inputs = check_eval_inputs(spec)
    check_scorer(spec)
    items, eval_items = inputs.items, inputs.evaluate
    # Each item's prompts are counted once; the eval split and the default pool are views of those counts.
    counts = count_spec_tokens(spec, items, counters=spec_token_counters(spec))
    check_context_lengths(spec, items, counts.inputs)  # a prompt no model window takes fails every call
    profiles = counts.profiles(spec)
    teacher, student = profiles["teacher"], profiles["student"]
    # The model whose labels train the student: the teacher, or a candidate with label_for_training.
    labeller_name, labeller = spec.labeller()
    if args.pool or spec.data.pool:
        pool_path = Path(args.pool) if args.pool else spec.resolve(spec.data.pool)
        pool_items = load_items(spec, path=pool_path)
        pool_name = str(pool_path)
        pool_inputs = input_token_counts(spec, labeller_name, pool_items)
    else:
        pool_items = split_items(items, "train")
        pool_name = f"train split of {spec.data.path}"
        pool_inputs = [n for n, item in zip(counts.inputs[labeller_name], items) if item.split == "train"]
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
    eval_profiles = counts.profiles(spec, lambda item: item.split == "eval") if eval_items else profiles
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

    if args.format == "json":
        print(
            json.dumps(
                {
                    "spec": spec.name,
                    "tokenizer": {role: p.counted_by for role, p in profiles.items()},
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
                                 "candidates_usd": eval_candidate_usd},
                    "pricing": pricing.label,
                },
                indent=2,
            )
        )
        return 0

    counted = "; ".join(f"{role}: {p.counted_by}" for role, p in profiles.items())
    print(f"# Estimate for {spec.name}: {len(items)} items, prompts rendered and counted locally ({counted})\n")
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
    ]
    print(tabulate(spend, headers=["Projected spend", "Items from", "Calls", "Input tokens", "Cost"], tablefmt="github", disable_numparse=True))
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
    local = [role for role, p in profiles.items() if p.counted_by == LOCAL_TOKENIZER]
    if local:
        print(f"{' and '.join(local).capitalize()} tokens are counted with a local tokenizer ({LOCAL_TOKENIZER}); "
              "provider tokenizers differ by roughly 10-20%.")
    return 0
