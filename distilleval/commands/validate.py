"""`distilleval validate`: is the teacher right often enough to be worth distilling?

The work is ``pipeline.stages.validate`` (the teacher labels every item with gold, scored with the
spec's scorer); this module prints the metric with its confidence interval and a seeded sample of
items side by side for a person to read. Exit 1 when the metric is below ``gates.teacher_min``: if
the teacher cannot do the task, the student will not either.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from distilleval.commands.options import add_limit_option, add_pricing_option

if TYPE_CHECKING:
    from distilleval.pipeline.stages.validate import ValidateResult

HELP = "Check the teacher's labels against gold before training on them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval validate`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML)")
    parser.add_argument("--split", choices=("all", "train", "eval"), default="all", help="which items with gold to use")
    add_limit_option(parser, "use only N items with gold (the first N in the canonical order, a hash of each item id)")
    parser.add_argument("--spot-check", type=int, default=10, metavar="K", help="items to print for reading (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the spot-check sample")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-retries", type=int, default=4)
    parser.add_argument("--cache", default=None, help="response cache file (default $DISTILLEVAL_CACHE or ~/.cache/distilleval/responses.sqlite)")
    parser.add_argument("--no-cache", action="store_true", help="call every item afresh")
    add_pricing_option(parser)
    parser.add_argument("--out", default=None, help="also write the result as JSON to this file")


def printable(text: str | None, limit: int = 160) -> str:
    """Untrusted text made safe for a terminal: control characters escaped, length capped."""
    if text is None:
        return "(no output)"
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    """Score the teacher on gold items (``pipeline.stages.validate``); returns 1 when it is below
    ``gates.teacher_min``, else 0."""
    from pathlib import Path

    from distilleval.files import write_text_atomic
    from distilleval.pipeline.stages.result_json import to_json
    from distilleval.pipeline.stages.validate import validate

    result = validate(
        args.spec, split=args.split, limit=args.limit, spot_check=args.spot_check, seed=args.seed,
        concurrency=args.concurrency, max_retries=args.max_retries, cache=args.cache, no_cache=args.no_cache,
        pricing=args.pricing, say=print,
    )
    for line in result_lines(result):
        print(line)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, to_json(result) + "\n")
    metric, floor = result.metric, result.teacher_min
    if floor is None:
        print("no gates.teacher_min in the spec: nothing to fail on")
        return 0
    if not result.passed:
        print(
            f"FAIL: teacher {metric.name} {_fmt(metric.value)} is below gates.teacher_min {floor:.3f}; "
            "if the teacher cannot do the task, the student will not either"
        )
        return 1
    print(f"PASS: teacher {metric.name} {_fmt(metric.value)} >= gates.teacher_min {floor:.3f}")
    return 0


def result_lines(result: ValidateResult) -> list[str]:
    """The metric with its interval, the counts, the overall secondary figures and the spot-check sample."""
    metric, secondary = result.metric, result.secondary
    interval = ""
    if metric.ci_low is not None and metric.ci_high is not None:
        interval = f" ({metric.confidence:.0%} CI {_fmt(metric.ci_low)}-{_fmt(metric.ci_high)}, {metric.ci_method})"
    lines = [
        f"teacher {metric.name}: {_fmt(metric.value)}{interval}",
        f"items {result.items}; invalid outputs {result.invalid}; failed calls {result.failed_calls}; "
        f"spent ${result.spent_usd:.4f}",
    ]
    overall = {name: value for name, value in secondary.items() if "/" not in name}
    lines.extend(f"  {name}: {_fmt(value)}" for name, value in overall.items())
    if len(overall) < len(secondary):
        lines.append(f"  ({len(secondary) - len(overall)} per-class figures not shown; --out FILE writes them all)")
    if result.spot_check:
        lines.append(f"spot check ({len(result.spot_check)} items, seed {result.seed}):")
    for item in result.spot_check:
        verdict = "ok " if item.score == 1 else "BAD" if item.score is not None else " - "
        reason = f" [{item.reason}]" if item.reason else ""
        lines.append(f"  {verdict} {item.id} (line {item.line}) score {_fmt(item.score)}{reason}")
        lines.append(f"      input:   {printable(item.input)}")
        lines.append(f"      teacher: {printable(item.teacher)}")
        lines.append(f"      gold:    {printable(item.gold)}")
    return lines
