"""`distilleval iterate RUN`: generate more training data where the student fails, retrain, compare, repeat.

The student's failures are found on the training split (never on the eval items); the teacher
writes new inputs like them for each weak class and labels them; near-duplicates of eval
items, of training rows and of each other are dropped; the student is retrained and compared
with the previous round on the run's own eval items, paired. A local baseline of the spec
stands for the student (``pipeline.iterate``). Rounds are kept in ``RUN/round-K/``; the
report is ``RUN/iterate.md`` and ``RUN/iterate.json``. Run it again after a kill: finished
rounds are read back and paid answers replayed from the response cache.
"""

from __future__ import annotations

import argparse

from distilleval.commands.argument_types import non_negative_int, positive_int
from distilleval.commands.options import add_pricing_option

HELP = "Generate training data where the student fails (teacher-written, near-duplicates of eval items dropped), retrain, compare rounds paired"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval iterate`` to ``parser``."""
    parser.add_argument("run", metavar="RUN", help="run directory (from `distilleval run` or `eval`)")
    parser.add_argument("--spec", metavar="SPEC", help="spec to use instead of the run's own (e.g. one with an iterate: block added)")
    add_pricing_option(parser, "pricing table (default: the run's)")
    parser.add_argument("--baseline", metavar="NAME", help="the spec's baseline that stands for the student (default: the first)")
    parser.add_argument("--student", choices=("tinker", "baseline"), default=None,
                        help="tinker: retrain the spec's Tinker student every round (training and sampling paid); "
                        "baseline: a local baseline stands for it (free). Default: tinker when the run trained a "
                        "Tinker student and --baseline is not given, else baseline")
    parser.add_argument("--dry-run", action="store_true", help="print what the next round and the rounds left may cost; call nothing")
    parser.add_argument("--cache", metavar="FILE", help="response cache (default RUN/iterate-responses.sqlite)")
    parser.add_argument("--concurrency", type=positive_int, default=16)
    parser.add_argument("--max-retries", type=non_negative_int, default=4, help="retries of a failed call (backoff with jitter)")


def train_with_command(spec, pricing, data, out, resume: bool) -> None:
    """Train a round's LoRA through ``distilleval train`` (its checks, recipe, resume and manifest)."""
    from distilleval.commands import train

    parser = argparse.ArgumentParser(prog="distilleval train")
    train.add_arguments(parser)
    argv = [str(spec.source), "--data", str(data), "--out", str(out), "--pricing", str(pricing.path)]
    train.run(parser.parse_args(argv + (["--resume"] if resume else [])), spec=spec)


def run(args: argparse.Namespace) -> int:
    """Run or resume the loop (or estimate it with ``--dry-run``); returns 0 (2 on bad input)."""
    from pathlib import Path

    from distilleval.errors import DataError
    from distilleval.files import write_text_atomic
    from distilleval.pipeline.iterate import ITERATE_JSON, RESPONSES_FILE, IterateOptions, dry_run, run_iterate
    from distilleval.pipeline.plan import locked
    from distilleval.report.iteration import render_markdown
    from distilleval.report.sources import load_run, summary_file

    inputs = load_run(args.run, spec_path=args.spec, pricing_path=args.pricing, require_spec=True, require_pricing=True)
    spec, pricing = inputs.spec, inputs.pricing
    if spec is None or pricing is None:  # require_* raise first; kept for type checkers
        raise DataError(f"{args.run}: the run's spec or pricing table cannot be loaded")
    run_dir = summary_file(args.run).parent
    options = IterateOptions(
        cache_path=Path(args.cache) if args.cache else run_dir / RESPONSES_FILE,
        concurrency=args.concurrency, max_retries=args.max_retries, baseline=args.baseline, student=args.student,
        trainer=train_with_command,
    )
    if args.dry_run:
        plan = dry_run(spec, pricing, run_dir, options)
        if plan["next_round"] is None:
            print(f"distilleval iterate: every round up to max_rounds is done in {run_dir}; nothing to call ($0)")
            return 0
        if plan["student_path"] == "tinker":
            print(f"round {plan['next_round']}: weak classes found by sampling the checkpoint on its training rows "
                  "(not called in a dry run; every label counted weak)")
            print(f"  training ${plan['training_usd']:.4f} ({plan['training_basis']}); sampling "
                  f"${plan['sampling_usd']:.4f} (weak-class check ${plan['weak_check_usd']:.4f} and the eval items)")
        else:
            weak = ", ".join(plan["weak_classes"]) or "none (the loop would stop before calling)"
            print(f"round {plan['next_round']}: weak classes {weak}")
        print(f"  estimated at most ${plan['next_round_usd']:.4f} for this round; at most "
              f"${plan['remaining_rounds_bound_usd']:.4f} for every round left ({pricing.label}; {plan['basis']})")
        limit = (spec.iterate.spend_limit_usd if spec.iterate else None)
        if limit is not None:
            print(f"  spend limit ${limit:.4f} (iterate.spend_limit_usd): a round whose estimate would pass it is not started")
        return 0
    with locked(run_dir):
        document = run_iterate(spec, pricing, run_dir, options)
        report = run_dir / "iterate.md"
        write_text_atomic(report, render_markdown(document))
    print(f"report    {report}, {run_dir / ITERATE_JSON}")
    return 0
