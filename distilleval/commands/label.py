"""`distilleval label`: the teacher labels a pool of inputs into short-format training data.

Each output is checked against the spec's output kind (label set, JSON schema, read-only
SQL); valid ones become ``{"messages": [user: <raw input as the student sees it>,
assistant: <label>]}`` lines, invalid ones and failed calls go to a quarantine file with
the reason, and are never trained on. Both files are written whole or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distilleval.commands.argument_types import non_negative_int, positive_float, positive_int
from distilleval.commands.options import add_limit_option, add_pricing_option
from distilleval.files import write_text_atomic

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


def _write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def check_writable(paths: list[Path]) -> None:
    """Make sure each file of ``paths`` can be written (its folder is made, a probe file written
    and removed there), so a labelling run never pays for calls whose output has nowhere to go.

    Raises:
        DistillevalError: one line naming the path and why.
    """
    import os
    import tempfile

    from distilleval.errors import DistillevalError

    for path in paths:
        try:
            if path.is_dir():
                raise IsADirectoryError(21, "is a directory", str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
            os.close(handle)
            os.unlink(probe)
        except OSError as err:
            raise DistillevalError(
                f"{path}: cannot write here ({err.strerror or err}); nothing was called or paid: "
                "choose a writable --out (or --quarantine)"
            ) from None


def _check_batch_inputs(spec, pricing, pool_file: Path, batch_dir: Path) -> None:
    """A ``<out>.batch/`` folder left by an earlier ``label --batch`` is continued only with the
    inputs it started with (pool, rubric, teacher settings, pricing); else one line, exit 2."""
    from distilleval.errors import DistillevalError
    from distilleval.run.identity import RunInputsChanged, run_identity
    from distilleval.run.store import RECORDS_FILE, RunStore

    try:
        identity = run_identity(spec, pricing, roles=["teacher"], data_file=pool_file, include_spec=False)
    except OSError as err:
        raise DistillevalError(f"{pool_file}: cannot read the pool ({err.strerror or err})") from None
    with RunStore(batch_dir) as store:
        change = store.check_identity(identity)
    if change is not None:
        raise RunInputsChanged(
            f"{batch_dir / RECORDS_FILE}: {change}; its batches are for the old inputs: put the old input back and "
            f"re-run to collect them, or move {batch_dir} away (or choose another --out) to label afresh"
        )


def _student_messages(spec, item) -> list[dict]:
    """The student's turns in the short format: images as ``{type: image, path}`` parts (absolute paths)."""
    from pathlib import Path

    from distilleval.spec.messages import build_messages

    messages = []
    for message in build_messages(spec.student, item, spec.data.image_inputs, embed_images=False):
        message = dict(message)
        if isinstance(message.get("content"), list):
            parts = []
            for part in message["content"]:
                if part.get("type") == "image_url":
                    path = part["image_url"]["url"].removeprefix("file://")
                    parts.append({"type": "image", "path": str(Path(path).resolve())})
                else:
                    parts.append(part)
            message["content"] = parts
        messages.append(message)
    return messages


def run(args: argparse.Namespace) -> int:
    """Label the pool with the teacher; returns 1 when no usable label came back, else 0."""
    import collections
    import json
    import sys

    from distilleval.backends.request_checks import check_spec_settings
    from distilleval.costs.pricing import resolve_pricing
    from distilleval.errors import DistillevalError
    from distilleval.pipeline.preflight import check_label_inputs
    from distilleval.run.cache import cache_path_for
    from distilleval.spec.task_spec import load_spec
    from distilleval.training.duplicate_rows import duplicate_items
    from distilleval.training.label_checks import LabelChecker
    from distilleval.training.teacher import run_teacher

    if args.limit is not None and args.limit < 1:
        raise DistillevalError(f"--limit must be at least 1, got {args.limit}")
    if args.concurrency < 1:
        raise DistillevalError(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.max_retries < 0:
        raise DistillevalError(f"--max-retries must be 0 or more, got {args.max_retries}")
    spec = load_spec(args.spec)
    check_spec_settings(spec, roles=("teacher",))
    # Every input check before the first paid call (pipeline.preflight, shared with eval, run, estimate).
    pool = check_label_inputs(spec, pool=args.pool, limit=args.limit)
    items, source, pool_file = pool.items, pool.source, pool.path
    repeated = duplicate_items(items)
    if repeated is not None:
        print(f"distilleval label: warning: {repeated.describe(source)}", file=sys.stderr)
    out = Path(args.out) if args.out else Path("runs") / f"{spec.name}-labels.jsonl"
    quarantine = Path(args.quarantine) if args.quarantine else out.with_name(out.stem + ".quarantine.jsonl")
    pricing = resolve_pricing(spec, args.pricing)
    checker = LabelChecker(spec)
    cache_path = None if args.no_cache else cache_path_for(args.cache)
    summary_path = out.with_name(out.stem + ".summary.json")
    batch_dir = out.with_name(out.stem + ".batch")
    # Before any call is paid: the outputs must have somewhere to go.
    check_writable([out, quarantine, summary_path] + ([batch_dir / "records.sqlite"] if args.batch else []))

    if args.batch_poll <= 0:
        raise DistillevalError(f"--batch-poll must be positive, got {args.batch_poll}")
    if args.batch:
        from distilleval.run.batch import BatchOptions
        from distilleval.training.teacher import run_teacher_batch

        _check_batch_inputs(spec, pricing, pool_file, batch_dir)
        print(f"labelling {len(items)} items from {source} with {spec.labeller()[1].model} through its batch API ({batch_dir})")
        results = run_teacher_batch(
            spec, items, pricing=pricing, cache_path=cache_path, run_dir=batch_dir,
            options=BatchOptions(poll_initial_s=args.batch_poll),
        )
    else:
        print(f"labelling {len(items)} items from {source} with {spec.labeller()[1].model}")
        results = run_teacher(
            spec, items, pricing=pricing, cache_path=cache_path, concurrency=args.concurrency,
            max_retries=args.max_retries,
        )

    rows: list[dict] = []
    rejected: list[dict] = []
    reasons: collections.Counter[str] = collections.Counter()
    for item, result in zip(items, results, strict=True):
        if not result.ok:
            reason, detail = f"call_failed:{result.error_kind}", result.error_message
        else:
            verdict = checker.check(result.text or "")
            if verdict.valid:
                messages = _student_messages(spec, item)
                rows.append({"messages": [*messages, {"role": "assistant", "content": verdict.label}]})
                continue
            reason, detail = verdict.reason or "invalid", verdict.detail
        reasons[reason] += 1
        rejected.append({"id": item.id, "line": item.line, "reason": reason, "detail": detail, "output": result.text})

    spent_usd = sum(r.cost_usd for r in results)
    hits = sum(1 for r in results if r.cache_hit)
    measured = [r for r in results if r.ok and not r.cache_hit]
    _write_jsonl_atomic(out, rows)
    _write_jsonl_atomic(quarantine, rejected)
    summary = {
        "spec": spec.name,
        "teacher": spec.labeller()[1].model,
        "labelled_by": spec.labeller()[0],
        "items": len(items),
        "labelled": len(rows),
        "quarantined": len(rejected),
        "reasons": dict(reasons),
        "spent_usd": spent_usd,
        "cache_hits": hits,
        "input_tokens": sum(r.input_tokens or 0 for r in results if r.ok),
        "output_tokens": sum(r.output_tokens or 0 for r in results if r.ok),
        "labelling_cost_per_example_usd": (sum(r.cost_usd for r in measured) / len(measured)) if measured else None,
        "pricing_table": pricing.label,
        "batch_api": bool(args.batch),
        "out": str(out),
        "quarantine": str(quarantine),
    }
    write_text_atomic(summary_path, json.dumps(summary, indent=2) + "\n")

    print(f"labelled {len(rows)} of {len(items)} items -> {out}")
    if rejected:
        breakdown = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
        print(f"quarantined {len(rejected)} ({breakdown}) -> {quarantine}")
    per_example = summary["labelling_cost_per_example_usd"]
    print(
        f"labelling cost (measured): ${spent_usd:.4f} this run"
        + (f", {hits} cache hits at $0" if hits else "")
        + (f"; ${per_example:.6f} per example ({pricing.label})" if per_example is not None else "")
    )
    if not rows:
        print("no usable labels: nothing to train on", flush=True)
        return 1
    return 0
