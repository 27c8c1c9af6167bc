"""`distilleval curve SPEC`: how much training data is enough, before paying for labels.

Trains the spec's local baselines on nested subsets of the training split (several seeds per
size), scores each on the eval split, prints score with intervals against size, what each
doubling of the training data still buys over the last sizes (with its interval; "flattens" only
when the upper end is below the spec's non-inferiority margin per doubling) and, for a Tinker
student, the projected labelling + training cost of each size. ``--run RUN`` also writes the curve into that
run directory and re-renders its reports with a learning-curve section.
"""

from __future__ import annotations

import argparse

from distilleval.commands.options import add_pricing_option

HELP = "Learning curve: baselines trained on nested subsets of the training split; what each doubling of the labels still buys"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval curve`` to ``parser``."""
    from distilleval.commands.argument_types import positive_int

    parser.add_argument("spec", help="task spec YAML")
    parser.add_argument("--sizes", help="comma-separated training sizes (default 50,100,200,500,1000,... below the split, then all)")
    parser.add_argument("--seeds", type=positive_int, default=3, help="shuffles per size (default 3)")
    parser.add_argument("--margin", type=float, help="gain per doubling below which a curve counts as flat (default: the spec's gates.non_inferiority_margin)")
    add_pricing_option(parser, "pricing table YAML (default: the spec's, else the bundled table)")
    parser.add_argument("--run", help="a run directory of this spec: write learning_curve.json there and re-render its reports")
    parser.add_argument("--out", help="write the curve's JSON to this file")
    parser.add_argument("--format", choices=("md", "json"), default="md")


def _sizes(text: str | None) -> list[int] | None:
    from distilleval.errors import DistillevalError

    if not text:
        return None
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise DistillevalError(f"--sizes: expected comma-separated whole numbers, found {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise DistillevalError(f"--sizes: expected sizes of at least 1, found {text!r}")
    return sizes


def run(args: argparse.Namespace) -> int:
    """Measure and print the learning curve; returns 0."""
    import json
    import sys
    from dataclasses import asdict
    from pathlib import Path

    from distilleval.costs.pricing import resolve_pricing
    from distilleval.errors import DistillevalError
    from distilleval.pipeline.learning_curve import measure_learning_curve
    from distilleval.report.learning_curve import curve_tables
    from distilleval.report.markdown import table_markdown
    from distilleval.results.learning_curve import FILE_NAME, write_curve
    from distilleval.spec.data import load_items
    from distilleval.spec.task_spec import load_spec

    sizes = _sizes(args.sizes)
    if args.margin is not None and not 0 <= args.margin <= 1:
        raise DistillevalError(f"--margin: expected a share between 0 and 1, found {args.margin:g}")
    run_dir = Path(args.run) if args.run else None
    if run_dir is not None and not (run_dir / "summary.json").is_file():
        raise DistillevalError(f"--run {run_dir}: no summary.json there")
    spec = load_spec(args.spec)
    pricing = resolve_pricing(spec, args.pricing)
    if run_dir is not None:
        from distilleval.results.summary_json import read_summary

        run_spec = read_summary(run_dir / "summary.json").spec_name
        if run_spec != spec.name:
            raise DistillevalError(f"--run {run_dir}: that run is of spec {run_spec!r}, not {spec.name!r}")
    items = load_items(spec, require_gold=True)

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    say(f"distilleval curve: {spec.name}, {len(spec.baselines)} baseline(s) x sizes x {args.seeds} seed(s)")
    curve = measure_learning_curve(spec, items, pricing=pricing, sizes=sizes, seeds=args.seeds, margin=args.margin, say=say)
    if args.out:
        write_curve(curve, Path(args.out))
    if run_dir is not None:
        from distilleval.pipeline.reports import write_reports

        write_curve(curve, run_dir / FILE_NAME)
        for path in write_reports(run_dir):
            say(f"distilleval curve: {path} re-rendered with the learning curve")

    if args.format == "json":
        print(json.dumps(asdict(curve), indent=2))
        return 0
    print(f"# Learning curve for {spec.name}: {curve.n_train:,} training items, {curve.n_eval:,} eval items\n")
    for table in curve_tables(curve):
        print(f"## {table.title}\n")
        print(table_markdown(table) + "\n")
    return 0
