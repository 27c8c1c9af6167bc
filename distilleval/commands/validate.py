"""`distilleval validate`: is the teacher right often enough to be worth distilling?

The teacher labels every item that has a gold answer (through the shared runner and cache);
its outputs are scored with the spec's scorer, the metric is printed with its confidence
interval, and a seeded sample of items is printed side by side for a person to read. Exit 1
when the metric is below ``gates.teacher_min``: if the teacher cannot do the task, the
student will not either.
"""

from __future__ import annotations

import argparse

from distilleval.commands.options import add_limit_option, add_pricing_option

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
    """Score the teacher on gold items; returns 1 when it is below ``gates.teacher_min``, else 0."""
    import json
    import random
    from pathlib import Path

    from distilleval.costs.pricing import resolve_pricing
    from distilleval.errors import DataError, DistillevalError
    from distilleval.files import write_text_atomic
    from distilleval.pipeline.preflight import check_gold_shape, check_scorer
    from distilleval.run.cache import cache_path_for
    from distilleval.scoring import build_scorer
    from distilleval.spec.data import load_items
    from distilleval.spec.task_spec import load_spec
    from distilleval.training.teacher import run_teacher

    for name in ("limit", "concurrency"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise DistillevalError(f"--{name} must be at least 1, got {value}")
    if args.spot_check < 0 or args.max_retries < 0:
        raise DistillevalError("--spot-check and --max-retries must be 0 or more")
    spec = load_spec(args.spec)
    data_path = spec.resolve(spec.data.path)
    if not spec.data.gold:
        raise DataError(f"{args.spec}: data.gold is not set; validate compares the teacher with gold answers")
    items = [item for item in load_items(spec) if item.gold is not None]
    if args.split != "all":
        items = [item for item in items if item.split == args.split]
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        raise DataError(f"{data_path}: no items with a gold answer in column {spec.data.gold!r} (split: {args.split})")
    check_gold_shape(spec, items)  # the shared pre-flight checks (pipeline.preflight), before any call
    check_scorer(spec)
    pricing = resolve_pricing(spec, args.pricing)
    cache_path = None if args.no_cache else cache_path_for(args.cache)

    print(f"validating {spec.labeller()[1].model} on {len(items)} items with gold from {data_path}")
    results = run_teacher(
        spec, items, pricing=pricing, cache_path=cache_path, concurrency=args.concurrency, max_retries=args.max_retries
    )
    outputs = [result.text if result.ok else None for result in results]
    with build_scorer(spec) as scorer:
        scores = scorer.score_items(outputs, items)
        metric, secondary = scorer.summarize(scores)

    failed = sum(1 for result in results if not result.ok)
    invalid = sum(1 for result, score in zip(results, scores) if result.ok and not score.valid)
    spent_usd = sum(result.cost_usd for result in results)
    interval = ""
    if metric.ci_low is not None and metric.ci_high is not None:
        interval = f" ({metric.confidence:.0%} CI {_fmt(metric.ci_low)}-{_fmt(metric.ci_high)}, {metric.ci_method})"
    print(f"teacher {metric.name}: {_fmt(metric.value)}{interval}")
    print(f"items {len(items)}; invalid outputs {invalid}; failed calls {failed}; spent ${spent_usd:.4f}")
    overall = {name: value for name, value in secondary.items() if "/" not in name}
    for name, value in overall.items():
        print(f"  {name}: {_fmt(value)}")
    if len(overall) < len(secondary):
        print(f"  ({len(secondary) - len(overall)} per-class figures not shown; --out FILE writes them all)")

    if args.spot_check:
        picked = sorted(random.Random(args.seed).sample(range(len(items)), min(args.spot_check, len(items))))
        print(f"spot check ({len(picked)} items, seed {args.seed}):")
        for index in picked:
            item, score = items[index], scores[index]
            verdict = "ok " if score.score == 1 else "BAD" if score.score is not None else " - "
            inputs = " | ".join(f"{key}: {value}" for key, value in item.inputs.items())
            gold = item.gold if isinstance(item.gold, str) else json.dumps(item.gold, ensure_ascii=False)
            reason = f" [{score.reason}]" if score.reason else ""
            print(f"  {verdict} {item.id} (line {item.line}) score {_fmt(score.score)}{reason}")
            print(f"      input:   {printable(inputs)}")
            print(f"      teacher: {printable(outputs[index])}")
            print(f"      gold:    {printable(gold)}")

    floor = spec.gates.teacher_min
    passed = floor is None or (metric.value is not None and metric.value >= floor)
    if args.out:
        payload = {
            "spec": spec.name,
            "teacher": spec.labeller()[1].model,
            "metric": metric.model_dump(),
            "secondary": secondary,
            "items": len(items),
            "invalid": invalid,
            "failed_calls": failed,
            "spent_usd": spent_usd,
            "teacher_min": floor,
            "passed": passed,
            "pricing_table": pricing.label,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, json.dumps(payload, indent=2) + "\n")
    if floor is None:
        print("no gates.teacher_min in the spec: nothing to fail on")
        return 0
    if not passed:
        print(
            f"FAIL: teacher {metric.name} {_fmt(metric.value)} is below gates.teacher_min {floor:.3f}; "
            "if the teacher cannot do the task, the student will not either"
        )
        return 1
    print(f"PASS: teacher {metric.name} {_fmt(metric.value)} >= gates.teacher_min {floor:.3f}")
    return 0
