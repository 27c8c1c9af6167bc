"""`distilleval export RUN --format jsonl|parquet --out FILE`: every item's result of a run as one file.

The per-item rows ``summary.json`` no longer holds (gold, input preview, each model's score,
output, error, latency, scoring reason, confidence and truncation) are streamed from the run's
item store into JSONL (one ``ItemResult`` a line) or Parquet (needs ``pyarrow``:
``pip install 'distilleval[parquet]'``), in eval order and in constant memory.
"""

from __future__ import annotations

import argparse

HELP = "Write every item's per-item result of a run (score, output, error, latency per model) as JSONL or Parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval export`` to ``parser``."""
    parser.add_argument("run", metavar="RUN", help="run directory or summary.json")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl",
                        help="jsonl (one item a line, the default) or parquet (needs pyarrow)")
    parser.add_argument("--out", metavar="FILE", required=True, help="the file to write (replaced whole)")


def run(args: argparse.Namespace) -> int:
    """Export the run's items; returns 0 (2 on bad input, a missing run or a missing pyarrow)."""
    from pathlib import Path

    from distilleval.results.item_export import export_items, require_pyarrow
    from distilleval.results.summary_json import read_summary

    if args.format == "parquet":
        require_pyarrow()
    summary = read_summary(args.run)
    out = Path(args.out)
    count = export_items(summary, out, args.format)
    print(f"{count:,} items of {summary.run_id} -> {out} ({args.format})")
    return 0
