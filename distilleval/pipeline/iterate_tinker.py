"""``distilleval iterate`` with the spec's own student: a LoRA on Tinker, retrained every round.

When the run's student was trained on Tinker (``training.base_model`` is a Tinker model and the
run measured a ``tinker://`` checkpoint), each round after the first:

- finds the weak classes by sampling the previous round's checkpoint on that round's training
  rows (the existing eval path, ``pipeline.evaluate`` with only the student). These are
  **in-sample** predictions of rows the checkpoint was trained on: a LoRA cannot be refitted
  per fold at a sane price, so out-of-fold is not done here and a class looks stronger than it
  is; a class the rows lack, or one the checkpoint still misses on its own training rows, is
  found all the same;
- trains a fresh LoRA from the base model on the round's accumulated rows (the previous rows
  plus the kept generated ones, in ``round-K/labels.jsonl``) through ``distilleval train``
  (resumable: an unfinished training folder is continued with ``--resume``, a finished one is
  read back and never trained again);
- evaluates the new checkpoint on the run's eval items through the same eval path.

Round 1 is the run's checkpoint as it is: its training rows are the run's ``labels.jsonl``
(matched back to the items they render, so every row has its inputs), its answers the run's
summary. Training and sampling are priced from the manifest and the summary, counted in the
round's cost and in the spend limit, and estimated before any call (``estimate_student_usd``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilleval.errors import DataError
from distilleval.pipeline.iterate_files import TrainingRow, short_format_records, training_records, write_jsonl
from distilleval.spec.data import Item
from distilleval.spec.task_spec import TaskSpec

EVAL_FOLDER = "eval"
TRAIN_FOLDER = "train"
WEAK_CHECK_FOLDER = "weak-check"
SPLIT_COLUMN = "iterate_split"
WEAK_CHECK_BASIS = ("the previous round's checkpoint sampled on the training rows it was trained on (in-sample; "
                    "no out-of-fold refits of a LoRA)")


@dataclass(frozen=True)
class TinkerStudent:
    """The run's Tinker student: its base model, the run's checkpoint and what it was trained on."""

    base_model: str
    checkpoint: str
    labels_path: Path


def find_tinker_student(spec: TaskSpec, summary: Any, run_dir: Path) -> TinkerStudent | None:
    """The run's Tinker student, or None when the run has none (no measured ``tinker://`` student
    whose base model is the spec's ``training.base_model``)."""
    from distilleval.backends.tinker.model_ids import is_tinker_model

    student = summary.models.get("student")
    base = spec.training.base_model
    if student is None or student.basis != "measured" or not str(student.model).startswith("tinker://"):
        return None
    if not base or not is_tinker_model(base):
        return None
    return TinkerStudent(base, student.model, run_dir.parent / "labels.jsonl")


def require_tinker_student(spec: TaskSpec, summary: Any, run_dir: Path) -> TinkerStudent:
    """``find_tinker_student``, or a one-line error saying what ``--student tinker`` needs.

    Raises:
        DataError: the run measured no Tinker checkpoint of ``training.base_model``, or its labels are missing.
    """
    found = find_tinker_student(spec, summary, run_dir)
    if found is None:
        raise DataError(f"{run_dir}: --student tinker needs a run whose student is a measured tinker:// checkpoint "
                        f"trained from training.base_model ({spec.training.base_model}): `distilleval run` online "
                        "makes one (RUN is its eval folder)")
    if not found.labels_path.is_file():
        raise DataError(f"{found.labels_path}: missing; --student tinker starts from the labels the run trained its "
                        "student on (`distilleval run` online writes them beside the eval folder)")
    return found


def first_rows(spec: TaskSpec, student: TinkerStudent) -> list[TrainingRow]:
    """The run's training rows: each line of its ``labels.jsonl`` matched to the item it renders.

    Raises:
        DataError: a line matches no item the label step could have labelled (names file and line).
    """
    from distilleval.pipeline.preflight import check_label_inputs

    pool = check_label_inputs(spec).items
    by_prompt: dict[str, Item] = {}
    for item in pool:
        row = TrainingRow(item, "", "")
        by_prompt.setdefault(_prompt_key(short_format_records(spec, [row])[0]["messages"][:-1]), item)
    rows = []
    lines = student.labels_path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
            label = messages[-1]["content"]
            item = by_prompt[_prompt_key(messages[:-1])]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise DataError(f"{student.labels_path}:{number}: not a labelled row of one of the spec's items "
                            "(the data or the student prompt changed since the run)") from None
        rows.append(TrainingRow(item, str(label), "the run's labels (teacher)"))
    if not rows:
        raise DataError(f"{student.labels_path}: no training row")
    return rows


def _prompt_key(messages: Sequence[dict]) -> str:
    return json.dumps([(m.get("role"), m.get("content")) for m in messages], sort_keys=True, ensure_ascii=False)


def summary_predictions(summary: Any, items: Sequence[Item]) -> list[str | None]:
    """The student's answer per item from a summary: the gold label where it was scored right,
    its raw output where wrong, None where the call failed (missing data, not a wrong answer)."""
    from distilleval.results.item_results import iter_items

    by_id = {row.id: row for row in iter_items(summary)}
    answers: list[str | None] = []
    for item in items:
        row = by_id.get(item.id)
        if row is None or "student" in row.errors or row.outputs.get("student") is None:
            answers.append(None)
        elif row.scores.get("student") == 1.0:
            answers.append(item.gold)
        else:
            answers.append((row.outputs.get("student") or "").strip())
    return answers


def _sampling_usd(summary: Any) -> float:
    student = summary.models["student"]
    answered = student.n - sum(student.errors.values())
    return (student.cost_per_request_usd or 0.0) * answered


def sample_checkpoint(spec: TaskSpec, pricing: Any, checkpoint: str, items: Sequence[Item], folder: Path, *,
                      cache_path: Path | None, limit: int | None, concurrency: int, max_retries: int,
                      what: str) -> tuple[list[str | None], float, bool]:
    """The checkpoint's answers on ``items`` through the eval path (only the student, run in
    ``folder``, resumed when it is there); returns (answers, their price, whether any call was made now)."""
    from distilleval.pipeline.evaluate import EvalOptions, evaluate
    from distilleval.results.summary_json import read_summary

    if (folder / "summary.json").is_file():  # finished before a kill: read back, unless calls failed (re-called)
        summary = read_summary(folder)
        done = summary.models.get("student")
        if done is not None and done.model == checkpoint and not done.errors:
            return summary_predictions(summary, items), _sampling_usd(summary), False
    student_spec = spec.model_copy(update={"student": checkpoint_student(spec, checkpoint)})
    evaluate(student_spec, EvalOptions(
        pricing=str(pricing.path), limit=limit, models="student", out=str(folder),
        cache=str(cache_path) if cache_path else None, concurrency=concurrency, max_retries=max_retries,
        student_training=what, latency_probe=(0, 1),
    ))
    summary = read_summary(folder)
    return summary_predictions(summary, items), _sampling_usd(summary), True


def training_side_spec(spec: TaskSpec, rows: Sequence[TrainingRow], folder: Path) -> tuple[TaskSpec, list[Item]]:
    """A copy of ``spec`` whose eval split is ``rows`` (written to ``folder/data.jsonl``), and those rows as items."""
    from distilleval.spec.task_spec import SplitSpec

    folder.mkdir(parents=True, exist_ok=True)
    records = training_records(spec, rows)
    for record in records:
        record[SPLIT_COLUMN] = "eval"
    path = folder / "data.jsonl"
    write_jsonl(path, records)
    data = spec.data.model_copy(update={
        "path": str(path.resolve()), "format": "jsonl", "id": spec.data.id or "id", "gold": spec.data.gold or "label",
        "split": SplitSpec(column=SPLIT_COLUMN, train_values=["train"], eval_values=["eval"]), "pool": None,
    })
    items = [Item(id=row.item.id, inputs=row.item.inputs, gold=row.label, split="eval") for row in rows]
    return spec.model_copy(update={"data": data}), items


# (spec, pricing, short-format data file, output folder, resume) -> None: ``distilleval train`` (the command passes it).
Trainer = Callable[[TaskSpec, Any, Path, Path, bool], None]


def train_checkpoint(spec: TaskSpec, pricing: Any, rows: Sequence[TrainingRow], folder: Path,
                     trainer: Trainer | None) -> tuple[str, dict, bool]:
    """Train a LoRA from the base model on ``rows`` with ``trainer`` (``distilleval train``) in ``folder/train``.

    A finished training folder (its manifest made from this very data file) is read back and
    not trained again; an unfinished one with checkpoints is continued (``--resume``).

    Returns:
        (sampler path, the manifest, whether training ran now).
    """
    from distilleval.errors import ConfigurationError
    from distilleval.files import file_sha256
    from distilleval.training.tinker_trainer import CHECKPOINT_LOG

    data = folder / "labels.jsonl"
    write_jsonl(data, short_format_records(spec, rows))
    out = folder / TRAIN_FOLDER
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("data", {}).get("sha256") == file_sha256(data):
            return manifest["sampler_path"], manifest, False
        raise DataError(f"{manifest_path}: trained on other data than {data}; move {folder} away and run iterate again")
    if trainer is None:
        raise ConfigurationError("iterate with a Tinker student needs a trainer (the command passes `distilleval train`)")
    trainer(spec, pricing, data, out, (out / CHECKPOINT_LOG).is_file())
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return manifest["sampler_path"], manifest, True


def training_usd(manifest: dict) -> float:
    """What the training run cost: its trained tokens at the training rate (storage is reported apart)."""
    return float(manifest["training_cost"]["cost_usd"])


def checkpoint_student(spec: TaskSpec, checkpoint: str) -> Any:
    """The spec's student pointed at ``checkpoint``, priced as the loader prices a ``tinker://``
    student: at ``training.base_model``'s row when the table has one, unless ``price_as`` says otherwise."""
    return spec.student.model_copy(update={
        "model": checkpoint, "checkpoint_base_model": None if spec.student.price_as else spec.training.base_model})


def sample_price_usd(spec: TaskSpec, pricing: Any, items: Sequence[Item]) -> float:
    """Upper bound of one student sample: the longest prompt among ``items`` (first 200) and a
    reply at the student's ``max_tokens``."""
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.tokens import count_message_tokens
    from distilleval.spec.messages import build_messages

    price = pricing.price_for(pricing.key_for(checkpoint_student(spec, "tinker://estimate/sampler_weights/next")))
    prompt = max((count_message_tokens(build_messages(spec.student, item, spec.data.image_inputs)) for item in items[:200]),
                 default=0)
    return request_cost_usd(price, prompt, spec.student.max_tokens)


def rendered_row_tokens(spec: TaskSpec, rows: Sequence[TrainingRow]) -> list[int]:
    """Tokens each row sends to ``forward_backward`` (its rendered conversation less one), rendered
    locally with the base model's own chat template and tokenizer, as ``distilleval train`` renders them."""
    from distilleval.backends.tinker.rendering import Message, renderer_for
    from distilleval.training.data import Conversation, build_examples

    renderer = renderer_for(spec.training.base_model)
    conversations = []
    for number, record in enumerate(short_format_records(spec, rows), 1):
        messages = tuple(Message(role=m["role"], content=_text_of(m["content"])) for m in record["messages"])
        conversations.append(Conversation(line=number, messages=messages))
    return [len(example.tokens) - 1 for example in build_examples(conversations, renderer, source=Path("iterate"))]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def estimate_student_usd(spec: TaskSpec, pricing: Any, rows: Sequence[TrainingRow], asked: int,
                         eval_items: Sequence[Item]) -> dict:
    """Before any call, an upper bound of training a LoRA on ``rows`` plus ``asked`` new rows and
    sampling it once per eval item. Training: every row's rendered tokens (none left out for the
    held-out loss), each new row at the longest rendered row, times the most epochs the recipe
    picks for any row count the round can end with, at the training rate. Sampling: each answer
    at the student's ``max_tokens`` after the longest prompt."""
    from distilleval.costs.cost_model import training_cost_usd
    from distilleval.costs.estimates import project_training

    tokens = rendered_row_tokens(spec, rows)
    per_epoch = float(sum(tokens) + asked * max(tokens, default=0))
    projections = [p for n in {len(rows), len(rows) + asked}
                   if (p := project_training(spec, pricing, examples=n, tokens_per_row=per_epoch / max(1, n))) is not None]
    if projections:
        longest = max(projections, key=lambda p: p.schedule.epochs)
        train_usd = training_cost_usd(per_epoch, longest.schedule.epochs, longest.training_price_per_mtok_usd)
        basis = (f"{per_epoch:,.0f} rendered tokens per epoch ({len(rows)} rows + {asked} new at the longest, none held "
                 f"out) x {longest.schedule.epochs} epochs at {longest.price_name}'s training rate")
    else:
        train_usd, basis = 0.0, "no training price in the table"
    sampling = sample_price_usd(spec, pricing, eval_items) * len(eval_items)
    return {"training_usd": train_usd, "sampling_usd": sampling, "training_basis": basis}


def estimate_weak_check_usd(spec: TaskSpec, pricing: Any, rows: Sequence[TrainingRow]) -> float:
    """Upper bound of sampling a checkpoint once on every training row (the weak-class check)."""
    items = [row.item for row in rows]
    return sample_price_usd(spec, pricing, items) * len(items)
