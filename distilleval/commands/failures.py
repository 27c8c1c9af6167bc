"""`distilleval failures RUN`: the items the student gets wrong, as JSONL to relabel, plus one line per class.

Each line of the file is one failed item in the shape of the spec's data file (its id, input
and gold columns first, the gold column holding the reference answer to check, then every other
column of its row, such as ``split``), with what every model said under ``distilleval``. The
items are from the eval split: relabel them and add similar new examples to training, or move
them to the train split and re-split, rather than training on the very items the eval scores.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distilleval.report.sources import RunInputs
    from distilleval.results.failures import Failure

HELP = "Write the items the student gets wrong (against gold, else the teacher) as JSONL to relabel"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``distilleval failures`` to ``parser``."""
    parser.add_argument("run", metavar="RUN", help="run directory or summary.json")
    parser.add_argument("--model", metavar="NAME",
                        help="whose failures (default: the student; offline, the best baseline)")
    parser.add_argument("--against", choices=("auto", "gold", "teacher"), default="auto",
                        help="reference answer: gold where the item has one, else the teacher's (auto, the default)")
    parser.add_argument("--out", metavar="FILE",
                        help="where the JSONL goes (default RUN/failures.jsonl; '-' for standard output)")
    parser.add_argument("--spec", metavar="SPEC", help="spec to use instead of the one the run names")


def _records(failures: list[Failure], inputs: RunInputs, teacher_key: str | None) -> list[dict[str, Any]]:
    """One JSON-ready record per failure, in the data file's columns when the spec is known."""
    import json

    from distilleval.errors import DistillevalError
    from distilleval.spec.data import load_items, read_records

    spec = inputs.spec
    full, rows = {}, {}
    if spec is not None:
        try:
            full = {item.id: item for item in load_items(spec)}
            rows = dict(read_records(spec.resolve(spec.data.path), spec.data.format))  # line -> the row as written
        except DistillevalError:
            full, rows = {}, {}  # the data changed or moved since the run: fall back to the stored previews
    records = []
    for failure in failures:
        item = failure.item
        expected = failure.expected
        if spec is not None and spec.output.kind == "json":
            try:
                expected = json.loads(expected)
            except json.JSONDecodeError:
                pass
        record: dict = {}
        if spec is not None:
            record[spec.data.id or "id"] = item.id
            source = full.get(item.id)
            for field, column in spec.data.input.items():
                record[column] = source.inputs[field] if source is not None else item.input_preview
            record[spec.data.gold or "label"] = expected
            # Every other column of the row (its split, source, notes) as the data file has it.
            row = rows.get(source.line, {}) if source is not None else {}
            record.update({column: value for column, value in row.items() if column not in record})
        else:
            record.update({"id": item.id, "input_preview": item.input_preview, "expected": expected})
        record["distilleval"] = {
            "run": inputs.summary.run_id, "model": failure.model, "answer": failure.answer, "error": failure.error,
            "expected_from": failure.expected_from, "gold": item.gold,
            "teacher": item.outputs.get(teacher_key) if teacher_key else None, "reason": item.reasons.get(failure.model),
        }
        records.append(record)
    return records


def run(args: argparse.Namespace) -> int:
    """Write the failures and print one summary line per class; returns 0 (2 on bad input)."""
    import json
    import sys
    from pathlib import Path

    from distilleval.errors import DistillevalError
    from distilleval.files import write_text_atomic
    from distilleval.report.sources import load_run, summary_file
    from distilleval.results.failures import checked_per_class, class_lines, default_model, find_failures
    from distilleval.spec.labels import LabelMatcher
    from distilleval.spec.scorer_config import ExactMatchScorer

    inputs = load_run(args.run, spec_path=args.spec)
    summary = inputs.summary
    model, why = (args.model, None) if args.model else default_model(summary)
    spec = inputs.spec
    label_of = None
    if spec is not None and spec.output.kind == "label" and spec.output.labels and isinstance(spec.scorer, ExactMatchScorer):
        label_of = LabelMatcher(spec.output.labels, spec.scorer.normalize, spec.scorer.aliases).match
    failures = find_failures(summary, model, against=args.against, label_of=label_of)
    checked = checked_per_class(summary, model, against=args.against, label_of=label_of)
    teacher_key = next((key for key, result in summary.models.items() if result.role == "teacher"), None)
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in _records(failures, inputs, teacher_key))
    to_stdout = args.out == "-"
    say = sys.stderr if to_stdout else sys.stdout
    if why:
        print(f"distilleval failures: {why}", file=sys.stderr)
    if to_stdout:
        sys.stdout.write(text)
        where = "standard output"
    else:
        out = Path(args.out) if args.out else summary_file(args.run).parent / "failures.jsonl"
        try:
            write_text_atomic(out, text)
        except OSError as err:
            raise DistillevalError(
                f"{out}: cannot write the failures file ({err.strerror or err}); choose a writable --out FILE, "
                "or --out - for standard output"
            ) from None
        where = str(out)
    sources = sorted({f.expected_from for f in failures}) or ["gold" if args.against != "teacher" else "teacher"]
    print(f"{len(failures):,} failures of {sum(checked.values()):,} items checked ({model} against "
          f"{' or '.join(sources)}) -> {where}", file=say)
    for line in class_lines(failures, checked, label_of):
        print(f"  {line}", file=say)
    return 0
