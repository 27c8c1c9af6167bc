"""`distilleval align`: measure a spec's judge on its human-judged alignment set."""

from __future__ import annotations

from distilleval.commands.argument_types import positive_int
from distilleval.commands.options import add_pricing_option

HELP = "Measure a spec's judge on its alignment set: agreement, sensitivity, specificity, kappa"


def add_arguments(parser):
    """Add the arguments of ``distilleval align`` to ``parser``."""
    parser.add_argument("spec", metavar="SPEC", help="a task spec whose scorer is a judge with an alignment set")
    parser.add_argument("--out", metavar="DIR", help="this folder (continued when it holds an earlier measurement)")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="where a new folder goes (default: runs)")
    parser.add_argument("--cache", metavar="FILE", help="response cache (default: $DISTILLEVAL_CACHE or the user cache)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the response cache")
    add_pricing_option(parser)
    parser.add_argument("--concurrency", type=positive_int, default=16, help="judge calls in flight (default 16)")
    parser.add_argument("--max-retries", type=int, default=4, help="retries of a failed call (default 4)")


def run(args) -> int:
    """Measure the judge and print its figures; 1 when a requirement of ``scorer.alignment`` is not met."""
    from distilleval.pipeline.evaluate import EvalOptions
    from distilleval.pipeline.judging import measure_judge
    from distilleval.spec.task_spec import load_spec

    spec = load_spec(args.spec)
    options = EvalOptions(pricing=args.pricing, out=args.out, runs_dir=args.runs_dir, cache=args.cache,
                          no_cache=args.no_cache, concurrency=args.concurrency, max_retries=args.max_retries)
    folder, result = measure_judge(spec, options)
    print(f"distilleval align: judge {spec.judge_settings().model} on {result.rows} alignment rows "
          f"({result.positives} right, {result.negatives} wrong; {result.failed_calls} calls gave no verdict) -> "
          f"{folder / 'alignment.json'}")
    for metric in (result.agreement, result.sensitivity, result.specificity):
        shown = "undefined" if metric.value is None else f"{metric.value:.3f} [{metric.ci_low:.3f}, {metric.ci_high:.3f}]"
        print(f"  {metric.name:<12} {shown}")
    print(f"  {'kappa':<12} {'undefined' if result.kappa is None else f'{result.kappa:.3f}'}")
    if result.unmet:
        print("  not met: " + "; ".join(result.unmet) + " (judge-scored verdicts do not count)")
        return 1
    print("  every requirement of scorer.alignment is met")
    return 0
