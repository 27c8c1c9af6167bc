"""What ``distilleval iterate`` keeps in a run folder, one ``round-K/`` folder per round.

``round-K/round.json`` is written last, atomically: a round folder without it is unfinished
and is redone on the next invocation (its paid answers come back from the response cache). A
finished round holds ``training.jsonl`` (every training row the student was trained on that
round, in the data file's columns, each with its ``source``), ``predictions.jsonl`` (the
student's answer per eval item), ``labels.jsonl`` (the same rows in the short format
``distilleval train --data`` takes: the student's messages and the label), and for rounds after the first ``generated.jsonl`` (each
generated input and what became of it) and ``quarantine.jsonl`` (inputs the teacher labelled
with no usable label, or whose call failed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from distilleval.errors import DataError
from distilleval.files import write_text_atomic
from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec

ROUND_FILE = "round.json"
TRAINING_FILE = "training.jsonl"
PREDICTIONS_FILE = "predictions.jsonl"
GENERATED_FILE = "generated.jsonl"
QUARANTINE_FILE = "quarantine.jsonl"
SHORT_FORMAT_FILE = "labels.jsonl"
SOURCE_COLUMN = "source"


@dataclass(frozen=True)
class TrainingRow:
    """One training example: the item (its inputs), the label trained on, where it came from."""

    item: Item
    label: str
    source: str


def round_dir(run_dir: Path, number: int) -> Path:
    """``RUN/round-NUMBER``."""
    return run_dir / f"round-{number}"


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Write ``records`` as JSONL, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSONL file this module wrote.

    Raises:
        DataError: the file is missing or a line is not a JSON object (names file and line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: missing; the round folder is damaged: move it away and run iterate again") from None
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not JSON ({err.msg}); move the round folder away and run again") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object")
        records.append(record)
    return records


def training_records(spec: TaskSpec, rows: Sequence[TrainingRow]) -> list[dict]:
    """Training rows in the data file's columns (id, inputs, gold) plus ``source``."""
    id_column, gold_column = spec.data.id or "id", spec.data.gold or "label"
    records = []
    for row in rows:
        record = {id_column: row.item.id}
        record.update({column: row.item.inputs[field] for field, column in spec.data.input.items()})
        record[gold_column] = row.label
        record[SOURCE_COLUMN] = row.source
        records.append(record)
    return records


def short_format_records(spec: TaskSpec, rows: Sequence[TrainingRow]) -> list[dict]:
    """Training rows as short-format conversations: the student's turns, then the label."""
    from distilleval.spec.messages import build_messages

    return [{"messages": [*build_messages(spec.student, row.item, spec.data.image_inputs, embed_images=False),
                          {"role": "assistant", "content": row.label}]} for row in rows]


def read_training(spec: TaskSpec, path: Path) -> list[TrainingRow]:
    """The training rows ``training_records`` wrote to ``path``."""
    id_column, gold_column = spec.data.id or "id", spec.data.gold or "label"
    rows = []
    for number, record in enumerate(read_jsonl(path), 1):
        try:
            inputs = {field: str(record[column]) for field, column in spec.data.input.items()}
            rows.append(TrainingRow(Item(id=str(record[id_column]), inputs=inputs, gold=None, split="train"),
                                    str(record[gold_column]), str(record[SOURCE_COLUMN])))
        except KeyError as err:
            raise DataError(f"{path}:{number}: column {err.args[0]!r} is missing") from None
    return rows


def write_round(folder: Path, record: dict) -> None:
    """Write ``round.json`` last: the round is finished once it exists."""
    write_text_atomic(folder / ROUND_FILE, json.dumps(record, indent=2, ensure_ascii=False) + "\n")


def read_round(folder: Path) -> dict | None:
    """A finished round's record, or None when the round is missing or unfinished."""
    path = folder / ROUND_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not JSON ({err.msg}); move {folder} away and run iterate again") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}: expected a JSON object; move {folder} away and run iterate again")
    return record
