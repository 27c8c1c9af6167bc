"""`distilleval report`: render a run as markdown, html, csv, json, marp slides or latex."""

from __future__ import annotations

import argparse

from distilleval.commands.argument_types import non_negative_int, positive_float
from distilleval.commands.options import add_pricing_option

HELP = "Render a run as markdown, html, csv, json, marp slides or latex"
FORMATS = ("md", "html", "csv", "json", "marp", "latex")


def add_arguments(parser):
    """Add the arguments of ``distilleval report`` to ``parser``."""
    parser.add_argument("run", metavar="RUN", help="run directory or summary.json")
    parser.add_argument("--format", choices=FORMATS, default="md", help="output format (default: md)")
    parser.add_argument("--out", metavar="PATH", help="write here instead of standard output")
    parser.add_argument("--spec", metavar="SPEC", help="spec to use instead of the one the run names")
    add_pricing_option(parser, "pricing table to use instead of the one the run names")
    parser.add_argument("--payback-days", type=positive_float, default=90.0, metavar="DAYS",
                        help="the verdict needs the one-time cost paid back within DAYS at the largest volume (default 90)")
    parser.add_argument("--max-price-age-days", type=non_negative_int, default=180, metavar="DAYS",
                        help="flag prices read longer than DAYS before the run priced them (default 180)")


def run(args: argparse.Namespace) -> int:
    """Render the run's report (``pipeline.stages.report``) to stdout or ``--out``; returns 0."""
    import sys
    from pathlib import Path

    from distilleval.gate.ci_output import atomic_write
    from distilleval.pipeline.stages.report import render_report

    result = render_report(args.run, format=args.format, spec=args.spec, pricing=args.pricing,
                           payback_days=args.payback_days, max_price_age_days=args.max_price_age_days)
    if args.out:
        atomic_write(Path(args.out), result.text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(result.text)
    return 0
