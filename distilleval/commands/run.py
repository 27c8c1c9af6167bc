"""`distilleval run SPEC`: label -> validate -> train -> eval -> report in one command.

Offline (``--offline``, or automatically when a provider key is missing, with a one-line
notice) it makes no network call at all. Steps whose outputs exist and are current are
skipped: an unchanged spec, data set and pricing table reuse the earlier run.
"""

from __future__ import annotations

import argparse

from distilleval.cli.argtypes import positive_int

HELP = "label, validate, train, eval and report in one command (offline without provider keys)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval run`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--offline", action="store_true", help="no network: reference labels, local baselines, projected costs")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="only the first N eval items")
    parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="where run directories go (default ./runs)")
    parser.add_argument("--pricing", metavar="FILE", help="pricing table (default: the spec's, else the bundled one)")
    parser.add_argument("--force", action="store_true", help="redo every step even when its outputs are current")


def run(args: argparse.Namespace) -> int:
    """Run every step, online or offline; returns the first failing step's status, else 0."""
    import sys
    from pathlib import Path

    from distilleval import pipeline
    from distilleval.pricing import load_pricing
    from distilleval.spec import load_spec

    spec = load_spec(args.spec)
    pricing = load_pricing(args.pricing or (spec.resolve(spec.pricing) if spec.pricing else None))
    offline, reason = bool(args.offline), "--offline"
    if not offline:
        missing = pipeline.missing_credentials(spec)
        if missing:
            offline, reason = True, f"no key for {', '.join(missing)}"
            print(f"distilleval run: {reason}: running offline (reference labels, local baselines, projected costs)", file=sys.stderr)
    if not offline:
        status, eval_dir = pipeline.run_online(spec, pricing, args)
        if status == 0:
            _print_headline(eval_dir)
        return status

    plan = pipeline.plan_run(spec, pricing, runs_dir=Path(args.runs_dir), offline=True, limit=args.limit, reason=reason)
    summary_path = plan.run_dir / "summary.json"
    current = not args.force and pipeline.is_current(summary_path, plan.fingerprint)
    print(f"distilleval run: {spec.name} offline -> {plan.run_dir}")
    if current:
        print("label, validate, train, eval: up to date (spec, prompts, data and pricing unchanged); reusing summary.json")
    else:
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        pipeline.run_offline(spec, pricing, plan, limit=args.limit)
        pipeline.mark_current(summary_path, plan.fingerprint)
    reports = pipeline.write_reports(plan.run_dir)
    print("report    " + ", ".join(str(path) for path in reports))
    _print_headline(plan.run_dir)
    return 0


def _print_headline(run_dir) -> None:
    """The verdict line and the per-model figures, so the terminal shows the answer."""
    from distilleval.cost import format_usd
    from distilleval.summary import read_summary

    summary = read_summary(run_dir)
    print()
    for name, result in summary.models.items():
        metric = result.metric
        if metric is not None and metric.value is not None:
            interval = f" [{metric.ci_low:.3f}, {metric.ci_high:.3f}]" if metric.ci_low is not None else ""
            score = f"{metric.name} {metric.value:.3f}{interval}"
        else:
            score = "not scored (not called in this run)"
        cost = format_usd(result.cost_per_request_usd) if result.cost_per_request_usd is not None else "n/a"
        print(f"  {name:18} {result.basis:9} {score:40} {cost}/request ({result.cost_basis})")
    from distilleval.report.figures import compute_figures
    from distilleval.report.sources import load_run
    from distilleval.report.verdict import decide

    print(f"\nverdict: {decide(compute_figures(load_run(run_dir))).headline} (reasons in report.md)")
