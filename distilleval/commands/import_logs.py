"""`distilleval import-logs`: the teacher's logged production calls become training data, at $0.

The raw inputs are read back from each logged prompt with the spec's teacher templates, the
answers checked as ``label`` checks them. ``--out`` is written in ``label``'s short format, so
``distilleval train SPEC --data OUT`` takes it as it is; beside it go the same rows in the data
file's own columns with a ``teacher_label`` column (``<out>.rows.jsonl``: a valid ``--pool``), the
dropped calls with their reasons (``<out>.dropped.jsonl``) and a summary (``<out>.summary.json``).
Nothing is called; every file is written whole or not at all, and running the command again on
the same logs writes the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distilleval.commands.options import add_pricing_option

HELP = "Turn the teacher's logged calls (chat JSONL or Batch API files) into training data, at $0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval import-logs`` to ``parser``."""
    parser.add_argument("spec", help="the task spec (YAML) whose teacher prompt rendered the logged calls")
    parser.add_argument("logs", nargs="+", metavar="LOGFILE",
                        help="chat request/response JSONL, or OpenAI Batch API input and output files")
    parser.add_argument("--out", required=True, help="short-format training JSONL to write (what `label` writes)")
    parser.add_argument("--skip-mismatched", action="store_true",
                        help="drop calls whose prompt does not match the teacher's template (default: stop at the first)")
    add_pricing_option(parser)


def _jsonl(rows: list[dict]) -> str:
    import json

    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _student_messages(spec, inputs: dict[str, str]) -> list[dict]:
    from distilleval.spec.data import Item
    from distilleval.spec.messages import build_messages

    return [dict(message) for message in build_messages(spec.student, Item(id="", inputs=inputs))]


def _data_row(spec, inputs: dict[str, str], label: str) -> dict:
    """The row in the data file's own columns (an id column, when the spec has one, from the inputs' hash)."""
    import json

    from distilleval.spec.data import content_id

    row = {column: inputs[name] for name, column in spec.data.input.items()}
    if spec.data.id:
        row[spec.data.id] = "log-" + content_id(inputs, None).removeprefix("row-")
    row["teacher_label"] = label if spec.output.kind != "json" else json.loads(label)
    return row


def run(args: argparse.Namespace) -> int:
    """Import the logs; returns 1 when no usable row came out of them, else 0."""
    import json

    from distilleval.costs.pricing import resolve_pricing
    from distilleval.files import write_text_atomic
    from distilleval.pipeline.stages.label import check_writable
    from distilleval.spec.data import load_items, split_items
    from distilleval.spec.task_spec import load_spec
    from distilleval.training.log_formats import read_log_files
    from distilleval.training.log_import import import_logged_calls

    spec = load_spec(args.spec)
    pricing = resolve_pricing(spec, args.pricing)
    price = pricing.price_for(pricing.key_for(spec.teacher))
    out = Path(args.out)
    stem = out.with_name(out.stem)
    rows_path, dropped_path, summary_path = (Path(f"{stem}.{suffix}") for suffix in ("rows.jsonl", "dropped.jsonl", "summary.json"))
    check_writable([out, rows_path, dropped_path, summary_path])
    eval_items = split_items(load_items(spec), "eval")
    calls = read_log_files([Path(path) for path in args.logs])
    imported = import_logged_calls(spec, calls, eval_items=eval_items, price=price, skip_mismatched=args.skip_mismatched)

    training = [{"messages": [*_student_messages(spec, row.inputs), {"role": "assistant", "content": row.label}]}
                for row in imported.rows]
    summary = {
        "spec": spec.name,
        "teacher": spec.teacher.model,
        "logs": [str(path) for path in args.logs],
        "logged_calls": imported.calls,
        "imported": len(imported.rows),
        "dropped": len(imported.dropped),
        "reasons": imported.reasons,
        "eval_items_checked": len(eval_items),
        "requested_models": imported.requested_models,
        "answering_models": imported.answering_models,
        "input_tokens": imported.input_tokens,
        "output_tokens": imported.output_tokens,
        "logged_calls_cost_usd": imported.cost_usd,
        "labels_cost_usd": imported.labels_cost_usd,
        "priced_as": pricing.key_for(spec.teacher),
        "pricing_table": pricing.label,
        "spent_usd": 0.0,
        "out": str(out),
        "rows": str(rows_path),
        "dropped_file": str(dropped_path),
    }
    # The summary last: a summary beside the outputs says they are whole and from these logs.
    write_text_atomic(out, _jsonl(training))
    write_text_atomic(rows_path, _jsonl([_data_row(spec, row.inputs, row.label) for row in imported.rows]))
    write_text_atomic(dropped_path, _jsonl(imported.dropped))
    write_text_atomic(summary_path, json.dumps(summary, indent=2) + "\n")

    print(f"imported {len(imported.rows)} rows from {imported.calls} logged calls -> {out} (rows in the data file's columns: {rows_path})")
    if imported.dropped:
        breakdown = ", ".join(f"{reason} {count}" for reason, count in imported.reasons.items())
        print(f"dropped {len(imported.dropped)} ({breakdown}) -> {dropped_path}")
    print(
        f"these labels would have cost ${imported.labels_cost_usd:.4f} to buy from {spec.teacher.model} "
        f"(logged usage priced as {summary['priced_as']}, {pricing.label}); spent $0"
    )
    other = [model for model in imported.requested_models if model not in (spec.teacher.model, spec.teacher.model.split("/", 1)[-1])]
    if other:
        print(f"note: the logged requests name other models than the spec's teacher {spec.teacher.model} "
              f"({', '.join(other)}); check they are the teacher you mean")
    if not imported.rows:
        print("no usable rows: nothing to train on", flush=True)
        return 1
    return 0
