"""`distilleval label`: the teacher labels a pool of inputs into short-format training data.

The work is ``pipeline.stages.label``: each output checked against the spec's output kind, valid
ones written as short-format training rows, invalid ones and failed calls quarantined with the
reason. This module parses the arguments and prints.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from distilleval.commands.argument_types import non_negative_int, positive_float, positive_int
from distilleval.commands.options import add_limit_option, add_pricing_option

if TYPE_CHECKING:
    from distilleval.pipeline.stages.label import LabelResult

HELP = "Have the teacher label a pool of inputs into short-format training data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval label`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--pool", default=None, help="unlabelled inputs (default: data.pool, else the train split)")
    add_limit_option(parser, "label only N items (the first N in the canonical order, a hash of each item id)")
    parser.add_argument("--out", default=None, help="training JSONL to write (default runs/<spec>-labels.jsonl)")
    parser.add_argument("--quarantine", default=None, help="invalid outputs (default: <out>.quarantine.jsonl)")
    parser.add_argument("--concurrency", type=positive_int, default=16)
    parser.add_argument("--max-retries", type=non_negative_int, default=4, help="retries of a failed call (backoff with jitter)")
    parser.add_argument("--cache", default=None, help="response cache file (default $DISTILLEVAL_CACHE or ~/.cache/distilleval/responses.sqlite)")
    parser.add_argument("--no-cache", action="store_true", help="call every item afresh")
    add_pricing_option(parser)
    parser.add_argument(
        "--batch", action="store_true",
        help="send the pool through the teacher's provider batch API (OpenAI, Anthropic) at the batch price; "
        "re-running the command resumes the submitted batch (its id is kept in <out>.batch/)",
    )
    parser.add_argument(
        "--batch-poll", type=positive_float, default=10.0, metavar="S",
        help="seconds before the first batch status check (the wait grows to 5 min; default 10)",
    )


def run(args: argparse.Namespace) -> int:
    """Label the pool with the teacher (``pipeline.stages.label``); returns 1 when no usable label came back, else 0."""
    import sys

    from distilleval.pipeline.stages.label import label

    result = label(
        args.spec, pool=args.pool, limit=args.limit, out=args.out, quarantine=args.quarantine,
        concurrency=args.concurrency, max_retries=args.max_retries, cache=args.cache, no_cache=args.no_cache,
        pricing=args.pricing, batch=args.batch, batch_poll=args.batch_poll, say=print,
        warn=lambda line: print(f"distilleval label: warning: {line}", file=sys.stderr),
    )
    for line in summary_lines(result):
        print(line)
    if not result.labelled:
        print("no usable labels: nothing to train on", flush=True)
        return 1
    return 0


def summary_lines(result: LabelResult) -> list[str]:
    """What ``label`` prints after the calls: labels written, quarantined by reason, and the cost."""
    import collections

    lines = [f"labelled {result.labelled} of {result.items} items -> {result.out}"]
    if result.quarantined:
        breakdown = ", ".join(f"{reason} {count}" for reason, count in collections.Counter(result.reasons).most_common())
        lines.append(f"quarantined {result.quarantined} ({breakdown}) -> {result.quarantine}")
    per_example = result.labelling_cost_per_example_usd
    lines.append(
        f"labelling cost (measured): ${result.spent_usd:.4f} this run"
        + (f", {result.cache_hits} cache hits at $0" if result.cache_hits else "")
        + (f"; ${per_example:.6f} per example ({result.pricing_table})" if per_example is not None else "")
    )
    return lines
