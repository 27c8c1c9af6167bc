"""``distilleval iterate RUN``: grow the training data where the student fails, round by round.

Two students: with a run that trained a Tinker student (``--student tinker``, the default then),
each round trains a new LoRA and samples it (``pipeline.iterate_tinker``, which says how the
weak classes are found there). Otherwise a local baseline stands for the student: round 1 is the
baseline (the spec's first, or the one named) trained on the training split's gold labels, as
the offline run does. Each later round:

1. finds the weak classes on the **training** split (never the eval items): each training
   row is predicted by the baseline trained on the other folds (3 folds by id hash), and a
   class whose out-of-fold recall is below ``iterate.weak_recall``, or that has no training
   row at all, is weak;
2. asks the teacher, once per weak class, for ``iterate.per_class`` new inputs like the ones
   the student missed (``training.generation``);
3. drops every generated input that is a near-duplicate of an eval item, of a training row or
   of an earlier generated input (``training.near_duplicates``, at ``similarity_threshold``);
4. has the teacher label the rest with its own rubric, keeps the outputs ``label_checks``
   accepts (the others go to quarantine), and retrains the baseline on the grown data;
5. scores the new student on the same eval items and compares it with the previous round,
   paired (``results.statistics.paired_difference``, Tango's score interval).

It stops when a round gained less than ``iterate.min_gain`` (point estimate of the paired
difference), when no class is weak, when no generated input survived, when the next round's
estimated cost would pass ``iterate.spend_limit_usd``, or at ``iterate.max_rounds``. Every
teacher call goes through the runner and a response cache kept in the run folder, and each
round is kept whole in ``round-K/`` (``pipeline.iterate_files``), so a killed invocation
resumes at the first unfinished round and pays for no answer twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilleval.costs.pricing import PricingTable
from distilleval.errors import DataError, SpecError
from distilleval.pipeline.iterate_files import (
    GENERATED_FILE,
    PREDICTIONS_FILE,
    QUARANTINE_FILE,
    SHORT_FORMAT_FILE,
    TRAINING_FILE,
    TrainingRow,
    read_jsonl,
    read_round,
    read_training,
    round_dir,
    short_format_records,
    training_records,
    write_jsonl,
    write_round,
)
from distilleval.pipeline.iterate_tinker import TinkerStudent
from distilleval.spec.data import Item, load_items, order_key, split_items
from distilleval.spec.iterate_settings import IterateSpec
from distilleval.spec.task_spec import BaselineSpec, TaskSpec, spec_location

FOLDS = 3
ITERATE_JSON = "iterate.json"
RESPONSES_FILE = "iterate-responses.sqlite"
SCORING = "exact match of the baseline's label with the gold label"
TINKER_SCORING = "the spec's scorer on each checkpoint's answer, as eval scores it; a failed call is left out, never wrong"


@dataclass
class IterateOptions:
    """How to run the loop (``distilleval iterate``'s flags)."""

    cache_path: Path | None
    concurrency: int = 16
    max_retries: int = 4
    baseline: str | None = None
    student: str | None = None  # "tinker", "baseline", or None: tinker when the run trained one and no --baseline
    trainer: Callable | None = None  # trains a Tinker student (iterate_tinker.Trainer); the command passes `train`
    say: Callable[[str], None] = print


@dataclass
class Context:
    """What every round needs: the spec, its items, the student stand-in, prices."""

    spec: TaskSpec
    settings: IterateSpec
    pricing: PricingTable
    baseline: BaselineSpec | None  # None: the Tinker student (``tinker``) is retrained instead
    train: list[Item]
    evaluate: list[Item]
    guarded: list[Item]
    fingerprint: str
    options: IterateOptions
    spent_usd: float = 0.0
    paid_now_usd: float = 0.0
    rounds: list[dict] = field(default_factory=list)
    tinker: TinkerStudent | None = None
    eval_limit: int | None = None

    @property
    def student_name(self) -> str:
        """What stands for the student in this loop, in words."""
        if self.tinker is not None:
            return f"{self.tinker.base_model} LoRA on Tinker"
        assert self.baseline is not None
        return self.baseline.display_name


def check_iterable(spec: TaskSpec, baseline_name: str | None) -> BaselineSpec:
    """The baseline that stands for the student; the task must be a label task with one.

    Raises:
        SpecError: not a label task, no baseline, or no baseline of that name.
    """
    if spec.output.kind != "label":
        raise SpecError(f"{spec_location(spec, ('output', 'kind'))}: output.kind: iterate grows label tasks "
                        f"(weak classes), not {spec.output.kind!r}")
    if not spec.baselines:
        raise SpecError(f"{spec_location(spec, ('baselines',))}: baselines: iterate retrains a local baseline that "
                        "stands for the student; add one (baselines: [tfidf_logreg])")
    if baseline_name is None:
        return spec.baselines[0]
    for baseline in spec.baselines:
        if baseline.display_name == baseline_name:
            return baseline
    names = ", ".join(b.display_name for b in spec.baselines)
    raise SpecError(f"{spec_location(spec, ('baselines',))}: baselines: no baseline named {baseline_name!r} (this spec has {names})")


def _fingerprint(spec: TaskSpec, settings: IterateSpec, baseline: BaselineSpec | None, data_sha256: str,
                 tinker: TinkerStudent | None = None) -> str:
    """What the rounds are made of: data, teacher, generation settings, student stand-in."""
    parts = {
        "data": data_sha256,
        "teacher": spec.teacher.model_dump(mode="json"),
        "teacher_prompt": spec.teacher.prompt_text,
        "teacher_system": spec.teacher.system_text,
        "labels": spec.output.labels,
        # The stop rules (max_rounds, spend_limit_usd, min_gain) shape no round: changing them continues the loop.
        "settings": settings.model_dump(mode="json", exclude={"max_rounds", "spend_limit_usd", "min_gain"}),
        "template": settings.template,
        "baseline": baseline.model_dump(mode="json") if baseline is not None else None,
    }
    if tinker is not None:  # a Tinker student: what each round trains and from which run's checkpoint
        parts["tinker"] = {"base_model": tinker.base_model, "checkpoint": tinker.checkpoint,
                           "training": spec.training.model_dump(mode="json"),
                           "student": spec.student.model_dump(mode="json", exclude={"model"})}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def prepare(spec: TaskSpec, pricing: PricingTable, run_dir: Path, options: IterateOptions) -> Context:
    """Load the items and check everything before any call: the eval items are the run's own.

    Raises:
        SpecError, DataError: the spec cannot be iterated, or the data no longer holds the run's eval items.
    """
    from distilleval.files import file_sha256
    from distilleval.pipeline.iterate_tinker import find_tinker_student, require_tinker_student
    from distilleval.results.summary_json import read_summary

    settings = spec.iterate or IterateSpec()
    pricing.price_for(spec.teacher.pricing_key)
    summary = read_summary(run_dir)
    choice = options.student
    if choice is None:
        choice = "tinker" if options.baseline is None and find_tinker_student(spec, summary, run_dir) else "baseline"
    if choice == "tinker" and options.baseline is not None:
        raise SpecError("--baseline names a baseline stand-in; it cannot go with --student tinker")
    tinker = require_tinker_student(spec, summary, run_dir) if choice == "tinker" else None
    baseline = check_iterable(spec, options.baseline) if tinker is None else None
    items = load_items(spec)
    by_id = {item.id: item for item in items}
    from distilleval.results.item_results import item_ids

    run_item_ids = item_ids(summary)
    missing = [item_id for item_id in run_item_ids if item_id not in by_id]
    if missing:
        raise DataError(f"{spec.resolve(spec.data.path)}: the run's eval item {missing[0]!r} is not in the data "
                        f"any more ({len(missing)} missing); iterate compares rounds on the run's own eval items")
    evaluate = [by_id[item_id] for item_id in run_item_ids if by_id[item_id].gold is not None]
    # No generated input may repeat an eval item: the run's, and any other of the eval split (--limit).
    run_ids = {item.id for item in evaluate}
    guarded = evaluate + [item for item in split_items(items, "eval") if item.id not in run_ids]
    train = [item for item in split_items(items, "train") if item.gold is not None]
    if not evaluate:
        raise DataError(f"{run_dir}: the run has no eval item with a gold answer to score the rounds on")
    labels_present = {item.gold for item in train}
    if tinker is None and len(labels_present) < 2:
        raise DataError(f"{spec.resolve(spec.data.path)}: the training split has {len(labels_present)} class(es) "
                        "with gold answers; iterate trains its student stand-in on them and a baseline needs two")
    fingerprint = _fingerprint(spec, settings, baseline, file_sha256(spec.resolve(spec.data.path)), tinker)
    eval_split = split_items(items, "eval")
    # The run's eval items are the first N of the eval split in canonical order (eval --limit N).
    eval_limit = len(run_item_ids) if len(run_item_ids) < len(eval_split) else None
    return Context(spec, settings, pricing, baseline, train, evaluate, guarded, fingerprint, options,
                   tinker=tinker, eval_limit=eval_limit)


# --- the student stand-in ---------------------------------------------------------------


def _train_and_predict(ctx: Context, rows: Sequence[TrainingRow], items: Sequence[Item]) -> list[str]:
    from distilleval.baselines import train_baseline

    assert ctx.baseline is not None  # the Tinker student is never trained here
    trained = train_baseline(ctx.baseline, [row.item for row in rows], [row.label for row in rows])
    return trained.predict_texts(_texts(items))


def _texts(items: Sequence[Item]) -> list[str]:
    from distilleval.baselines import item_text

    return [item_text(item) for item in items]


def out_of_fold(ctx: Context, rows: Sequence[TrainingRow]) -> list[str | None]:
    """Each training row predicted by the baseline trained on the other folds (None: its fold's
    complement has fewer than two classes, so no baseline could be trained)."""
    folds = [int.from_bytes(order_key(row.item.id, "iterate-folds")[:4], "big") % FOLDS for row in rows]
    predictions: list[str | None] = [None] * len(rows)
    for fold in range(FOLDS):
        held = [n for n, f in enumerate(folds) if f == fold]
        rest = [rows[n] for n, f in enumerate(folds) if f != fold]
        if not held or len({row.label for row in rest}) < 2:
            continue
        for n, answer in zip(held, _train_and_predict(ctx, rest, [rows[n].item for n in held])):
            predictions[n] = answer
    return predictions


@dataclass(frozen=True)
class WeakClass:
    """A class the student fails on the training side, and the rows it got wrong."""

    label: str
    support: int
    recall: float | None
    missed: list[TrainingRow]


def weak_classes(ctx: Context, rows: Sequence[TrainingRow],
                 predictions: Sequence[str | None] | None = None) -> list[WeakClass]:
    """The classes below ``weak_recall`` (or with no training row), weakest first; measured on
    ``predictions`` of the training rows, by default out of fold (``out_of_fold``)."""
    if predictions is None:
        predictions = out_of_fold(ctx, rows)
    found = []
    for label in ctx.spec.output.labels or []:
        mine = [(row, answer) for row, answer in zip(rows, predictions) if row.label == label and answer is not None]
        support = sum(1 for row in rows if row.label == label)
        recall = sum(1 for row, answer in mine if answer == label) / len(mine) if mine else None
        if recall is None or recall < ctx.settings.weak_recall:
            missed = sorted((row for row, answer in mine if answer != label), key=lambda row: order_key(row.item.id))
            found.append(WeakClass(label, support, recall, missed))
    return sorted(found, key=lambda weak: (-1.0 if weak.recall is None else weak.recall, weak.label))


# --- costs ---------------------------------------------------------------------------


def _priced(ctx: Context, input_tokens: float, output_tokens: float) -> float:
    from distilleval.costs.cost_model import request_cost_usd

    price = ctx.pricing.price_for(ctx.spec.teacher.pricing_key)
    return request_cost_usd(price, input_tokens, output_tokens, batch=ctx.spec.teacher.batch)


def _label_prompt_tokens(ctx: Context, examples: Sequence[Item]) -> float:
    """Mean input tokens of a teacher labelling call, measured on ``examples`` (training inputs)."""
    from distilleval.costs.tokens import count_message_tokens
    from distilleval.spec.messages import build_messages

    sample = list(examples)[:50] or ctx.train[:50]
    counts = [count_message_tokens(build_messages(ctx.spec.teacher, item, ctx.spec.data.image_inputs)) for item in sample]
    return sum(counts) / len(counts)


def estimate_round_usd(ctx: Context, calls: Sequence, weak: Sequence[WeakClass],
                       rows: Sequence[TrainingRow] = ()) -> dict:
    """Upper bound of a round's cost before any call: every generation reply at its
    ``max_tokens``, every asked-for input kept and labelled with a reply at the teacher's ``max_tokens``;
    with a Tinker student also training a LoRA on ``rows`` plus every asked-for input, and
    sampling it on the eval items (``iterate_tinker.estimate_student_usd``)."""
    from distilleval.costs.tokens import count_message_tokens

    generation = sum(_priced(ctx, count_message_tokens(call.request.messages), call.request.max_tokens) for call in calls)
    asked = ctx.settings.per_class * len(weak)
    examples = [row.item for w in weak for row in w.missed]
    labelling = asked * _priced(ctx, _label_prompt_tokens(ctx, examples), ctx.spec.teacher.max_tokens)
    estimate: dict[str, Any] = {"generation_usd": generation, "labelling_usd": labelling, "total_usd": generation + labelling,
                "basis": "upper bound: replies at max_tokens, every asked-for input labelled; prompt tokens counted locally"}
    if ctx.tinker is not None:
        from distilleval.pipeline.iterate_tinker import estimate_student_usd

        student = estimate_student_usd(ctx.spec, ctx.pricing, rows, asked, ctx.evaluate)
        estimate.update(student)
        estimate["total_usd"] += student["training_usd"] + student["sampling_usd"]
        estimate["basis"] += "; training projected from the rows' tokens, eval samples at max_tokens"
    return estimate


def _measured_usd(ctx: Context, results: Sequence) -> tuple[float, float]:
    """(the answers' price whether paid now or replayed from the cache, what this invocation paid)."""
    from distilleval.costs.cost_model import request_cost_usd

    price = ctx.pricing.price_for(ctx.spec.teacher.pricing_key)
    priced = sum(request_cost_usd(price, r.input_tokens or 0, r.output_tokens or 0,
                                  cached_input_tokens=r.cached_input_tokens, cache_write_tokens=r.cache_write_tokens,
                                  batch=ctx.spec.teacher.batch)
                 for r in results if r.ok)
    return priced, sum(r.cost_usd for r in results)


# --- one round -------------------------------------------------------------------------


def _evaluate(ctx: Context, rows: Sequence[TrainingRow], folder: Path) -> list[str | None]:
    predictions: list[str | None] = list(_train_and_predict(ctx, rows, ctx.evaluate))
    write_jsonl(folder / PREDICTIONS_FILE, ({"id": item.id, "prediction": answer}
                                            for item, answer in zip(ctx.evaluate, predictions)))
    return predictions


def _result(ctx: Context, predictions: Sequence[str | None], previous: Sequence[str | None] | None) -> dict:
    """Accuracy with its interval, recall per class, and the paired change from the previous round.

    A None prediction is a failed call: missing data, left out of the accuracy and of the
    pairing (the change is over the items both rounds answered), never a wrong answer."""
    from distilleval.results.intervals import clopper_pearson
    from distilleval.results.per_class import class_results, confusion_from_pairs
    from distilleval.results.statistics import paired_difference

    answered = [(answer, item.gold) for answer, item in zip(predictions, ctx.evaluate) if answer is not None]
    golds = [gold for _, gold in answered]
    answers = [answer for answer, _ in answered]
    correct = [1.0 if answer == gold else 0.0 for answer, gold in answered]
    n, right = len(correct), int(sum(correct))
    if n == 0:
        raise DataError("every eval call of the round failed: no answer to score the round on; run iterate again")
    low, high = clopper_pearson(right, n)
    classes = class_results(confusion_from_pairs(zip(golds, answers), labels=ctx.spec.output.labels or []),
                            labels=ctx.spec.output.labels)
    result = {
        "eval_items": n, "correct": right, "accuracy": right / n, "accuracy_interval": [low, high],
        "accuracy_method": "Clopper-Pearson 95%",
        "recall": {c.label: {"support": c.support, "correct": c.correct, "recall": c.recall,
                             "interval": [c.recall_low, c.recall_high] if c.recall is not None else None}
                   for c in classes},
    }
    if n < len(predictions):
        result["failed_calls"] = len(predictions) - n
    if previous is not None:
        pairs = [(1.0 if old == item.gold else 0.0, 1.0 if new == item.gold else 0.0)
                 for old, new, item in zip(previous, predictions, ctx.evaluate) if old is not None and new is not None]
        before, correct = [a for a, _ in pairs], [b for _, b in pairs]
        diff = paired_difference(before, correct, alpha=ctx.spec.gates.alpha)
        result["change"] = {"estimate": diff.estimate, "interval": [diff.low, diff.high], "p_value": diff.p_value,
                            "method": diff.method, "gained": sum(1 for a, b in zip(before, correct) if b > a),
                            "lost": sum(1 for a, b in zip(before, correct) if a > b), "paired_items": len(pairs)}
    return result


def _first_round(ctx: Context, run_dir: Path) -> tuple[dict, list[TrainingRow], list[str | None]]:
    if ctx.tinker is not None:
        return _first_tinker_round(ctx, run_dir)
    folder = round_dir(run_dir, 1)
    rows = [TrainingRow(item, item.gold, "train split (gold)") for item in ctx.train]
    record = read_round(folder)
    if record is not None and record.get("fingerprint") == ctx.fingerprint:
        return record, read_training(ctx.spec, folder / TRAINING_FILE), _predictions(folder, ctx)
    _check_no_stale(record, folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / TRAINING_FILE, training_records(ctx.spec, rows))
    predictions = _evaluate(ctx, rows, folder)
    record = {"round": 1, "fingerprint": ctx.fingerprint, "training_rows": len(rows), "added": 0,
              "what": f"the run's student stand-in: {ctx.student_name} on the training split's gold labels",
              "cost": {"generation_usd": 0.0, "labelling_usd": 0.0, "total_usd": 0.0, "paid_now_usd": 0.0},
              "result": _result(ctx, predictions, None)}
    write_round(folder, record)
    return record, rows, predictions


def _first_tinker_round(ctx: Context, run_dir: Path) -> tuple[dict, list[TrainingRow], list[str | None]]:
    """Round 1 with a Tinker student: the run's checkpoint, its rows the run's labels, its answers the run's."""
    from distilleval.pipeline.iterate_tinker import first_rows, summary_predictions
    from distilleval.results.summary_json import read_summary

    assert ctx.tinker is not None
    folder = round_dir(run_dir, 1)
    record = read_round(folder)
    if record is not None and record.get("fingerprint") == ctx.fingerprint:
        return record, read_training(ctx.spec, folder / TRAINING_FILE), _predictions(folder, ctx)
    _check_no_stale(record, folder)
    rows = first_rows(ctx.spec, ctx.tinker)
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / TRAINING_FILE, training_records(ctx.spec, rows))
    write_jsonl(folder / SHORT_FORMAT_FILE, short_format_records(ctx.spec, rows))
    predictions = summary_predictions(read_summary(run_dir), ctx.evaluate)
    write_jsonl(folder / PREDICTIONS_FILE, ({"id": item.id, "prediction": answer}
                                            for item, answer in zip(ctx.evaluate, predictions)))
    record = {"round": 1, "fingerprint": ctx.fingerprint, "training_rows": len(rows), "added": 0,
              "checkpoint": ctx.tinker.checkpoint,
              "what": f"the run's student: {ctx.tinker.checkpoint}, trained on the run's {len(rows)} teacher labels",
              "cost": {"generation_usd": 0.0, "labelling_usd": 0.0, "training_usd": 0.0, "sampling_usd": 0.0,
                       "total_usd": 0.0, "paid_now_usd": 0.0, "note": "paid by the run"},
              "result": _result(ctx, predictions, None)}
    write_round(folder, record)
    return record, rows, predictions


def _check_no_stale(record: dict | None, folder: Path) -> None:
    if record is not None:
        raise DataError(f"{folder}: made with other inputs (data, teacher, iterate settings or baseline changed); "
                        "move the round folders away (or iterate a fresh run) to start again")


def _predictions(folder: Path, ctx: Context) -> list[str | None]:
    stored = {record["id"]: record["prediction"] for record in read_jsonl(folder / PREDICTIONS_FILE)}
    try:
        return [stored[item.id] for item in ctx.evaluate]
    except KeyError as err:
        raise DataError(f"{folder / PREDICTIONS_FILE}: no prediction for eval item {err.args[0]!r}; move {folder} away") from None


def plan_generation(ctx: Context, weak: Sequence[WeakClass], number: int) -> list:
    """The generation calls of round ``number``, one per weak class."""
    from distilleval.training.generation import generation_call, generation_prompt

    calls = []
    for w in weak:
        examples = [row.item.inputs for row in w.missed[: ctx.settings.examples_shown]]
        prompt = generation_prompt(ctx.spec, ctx.settings, label=w.label, examples=examples,
                                   n=ctx.settings.per_class, round_number=number)
        calls.append(generation_call(ctx.spec, ctx.settings, prompt, label=w.label, n=ctx.settings.per_class,
                                     round_number=number))
    return calls


def _generate(ctx: Context, number: int, weak: Sequence[WeakClass], rows: Sequence[TrainingRow], folder: Path):
    """Generation calls, parsing and the near-duplicate filter; returns (kept items with the
    class asked for, results of the calls)."""
    from distilleval.training.generation import generated_item, parse_generated
    from distilleval.training.near_duplicates import filter_near_duplicates
    from distilleval.training.teacher import run_teacher_calls

    calls = plan_generation(ctx, weak, number)
    results = run_teacher_calls(ctx.spec, calls, pricing=ctx.pricing, cache_path=ctx.options.cache_path,
                                concurrency=ctx.options.concurrency, max_retries=ctx.options.max_retries,
                                description=f"round {number}: generate")
    candidates: list[tuple[str, Item]] = []
    log: list[dict] = []
    fields = list(ctx.spec.data.input)
    for w, result in zip(weak, results):
        if not result.ok:
            log.append({"asked_for": w.label, "status": "call_failed", "error": result.error_kind})
            continue
        parsed = parse_generated(result.text or "", fields)
        if parsed.unreadable:
            log.append({"asked_for": w.label, "status": "unreadable_lines", "count": parsed.unreadable})
        candidates += [(w.label, generated_item(inputs)) for inputs in parsed.inputs]
    texts = _texts([item for _, item in candidates])
    verdicts = filter_near_duplicates(
        texts,
        {"eval": _texts(ctx.guarded), "train": _texts([row.item for row in rows])},
        threshold=ctx.settings.similarity_threshold,
        reference_ids={"eval": [item.id for item in ctx.guarded], "train": [row.item.id for row in rows]},
    )
    kept: list[tuple[str, Item]] = []
    for (label, item), verdict in zip(candidates, verdicts):
        entry: dict[str, Any] = {"id": item.id, "asked_for": label, "inputs": item.inputs}
        if verdict.kept:
            entry["status"] = "kept"
            kept.append((label, item))
        else:
            entry.update(status=f"near_duplicate_of_{verdict.of_kind}", of=verdict.of,
                         similarity=round(verdict.similarity or 0.0, 4))
        log.append(entry)
    write_jsonl(folder / GENERATED_FILE, log)
    return kept, results, Counter(entry["status"] for entry in log if "id" in entry)


def _label(ctx: Context, kept: Sequence[tuple[str, Item]], number: int, folder: Path):
    """The teacher labels the kept inputs; returns (new training rows, call results, quarantine count)."""
    from distilleval.training.label_checks import LabelChecker
    from distilleval.training.teacher import run_teacher

    items = [item for _, item in kept]
    results = run_teacher(ctx.spec, items, pricing=ctx.pricing, cache_path=ctx.options.cache_path,
                          concurrency=ctx.options.concurrency, max_retries=ctx.options.max_retries) if items else []
    checker = LabelChecker(ctx.spec)
    added, quarantined = [], []
    for (asked, item), result in zip(kept, results):
        if not result.ok:
            quarantined.append({"id": item.id, "reason": f"call_failed:{result.error_kind}", "output": None})
            continue
        verdict = checker.check(result.text or "")
        if verdict.label is not None:
            added.append(TrainingRow(item, verdict.label, f"round {number}: generated for {asked}, labelled by the teacher"))
        else:
            quarantined.append({"id": item.id, "reason": verdict.reason, "detail": verdict.detail, "output": result.text})
    write_jsonl(folder / QUARANTINE_FILE, quarantined)
    return added, results, len(quarantined)


def _retrain_tinker(ctx: Context, grown: Sequence[TrainingRow], folder: Path, number: int, added: int,
                    previous: Sequence[str | None]) -> tuple[list[str | None], dict, dict]:
    """Train a new LoRA on ``grown`` and sample it on the eval items; returns (answers, cost, record fields).
    With no row added nothing is trained: the round keeps the previous checkpoint and its answers."""
    from distilleval.pipeline.iterate_tinker import EVAL_FOLDER, sample_checkpoint, train_checkpoint, training_usd

    assert ctx.tinker is not None
    if added == 0:
        return list(previous), {"training_usd": 0.0, "sampling_usd": 0.0, "paid_now_usd": 0.0}, {
            "checkpoint": ctx.rounds[-1].get("checkpoint"), "training": "not retrained: no row added"}
    sampler_path, manifest, trained_now = train_checkpoint(ctx.spec, ctx.pricing, grown, folder, ctx.options.trainer)
    ctx.options.say(f"round {number}: trained {sampler_path} on {len(grown)} rows"
                    + ("" if trained_now else " (read back: trained earlier)"))
    what = f"trained by distilleval iterate round {number} on {len(grown)} rows ({ctx.tinker.base_model} LoRA)"
    answers, sampling_usd, sampled_now = sample_checkpoint(
        ctx.spec, ctx.pricing, sampler_path, ctx.evaluate, folder / EVAL_FOLDER, cache_path=ctx.options.cache_path,
        limit=ctx.eval_limit, concurrency=ctx.options.concurrency, max_retries=ctx.options.max_retries, what=what)
    cost = training_usd(manifest)
    storage = manifest.get("storage_cost", {})
    return answers, {"training_usd": cost, "sampling_usd": sampling_usd,
                     "paid_now_usd": (cost if trained_now else 0.0) + (sampling_usd if sampled_now else 0.0)}, {
        "checkpoint": sampler_path, "training": {"rows": len(grown), "steps": manifest["steps"]["total"],
                                                 "trained_tokens": manifest["training_cost"]["trained_tokens"],
                                                 "storage_cost_usd": storage.get("cost_usd"),
                                                 "manifest": str(folder / "train" / "manifest.json")}}


def _next_round(ctx: Context, run_dir: Path, number: int, rows: list[TrainingRow], previous: list[str | None],
                weak: Sequence[WeakClass], estimate: dict, weak_check: dict | None = None):
    folder = round_dir(run_dir, number)
    folder.mkdir(parents=True, exist_ok=True)
    say = ctx.options.say
    say(f"round {number}: weak classes {', '.join(_weak_text(w) for w in weak)}; asking the teacher for "
        f"{ctx.settings.per_class} new inputs each (estimated at most ${estimate['total_usd']:.4f})")
    kept, generation_results, fates = _generate(ctx, number, weak, rows, folder)
    added, label_results, quarantined = _label(ctx, kept, number, folder)
    grown = rows + added
    write_jsonl(folder / TRAINING_FILE, training_records(ctx.spec, grown))
    write_jsonl(folder / SHORT_FORMAT_FILE, short_format_records(ctx.spec, grown))
    student_cost: dict = {"training_usd": 0.0, "sampling_usd": 0.0, "paid_now_usd": 0.0}
    student_fields: dict = {}
    if ctx.tinker is not None:
        predictions, student_cost, student_fields = _retrain_tinker(ctx, grown, folder, number, len(added), previous)
        write_jsonl(folder / PREDICTIONS_FILE, ({"id": item.id, "prediction": answer}
                                                for item, answer in zip(ctx.evaluate, predictions)))
        if weak_check is not None:
            student_cost["sampling_usd"] += weak_check["sampling_usd"]
            student_cost["paid_now_usd"] += weak_check["paid_now_usd"]
            student_fields["weak_check"] = weak_check["basis"]
    else:
        predictions = _evaluate(ctx, grown, folder)
    generation_usd, generation_paid = _measured_usd(ctx, generation_results)
    labelling_usd, labelling_paid = _measured_usd(ctx, label_results)
    student_usd = student_cost["training_usd"] + student_cost["sampling_usd"]
    record = {
        "round": number, "fingerprint": ctx.fingerprint, "training_rows": len(grown), "added": len(added),
        "what": f"{ctx.student_name} retrained with {len(added)} generated inputs labelled by the teacher",
        **student_fields,
        "weak_classes": [{"label": w.label, "training_support": w.support, "training_recall": w.recall,
                          "missed": len(w.missed)} for w in weak],
        "generated": dict(sorted(fates.items())), "quarantined": quarantined,
        "failed_calls": dict(sorted(Counter(r.error_kind or "unknown" for r in [*generation_results, *label_results]
                                            if not r.ok).items())),
        "added_per_label": dict(sorted(Counter(row.label for row in added).items())),
        "estimate": estimate,
        "cost": {"generation_usd": generation_usd, "labelling_usd": labelling_usd,
                 **({"training_usd": student_cost["training_usd"], "sampling_usd": student_cost["sampling_usd"]}
                    if ctx.tinker is not None else {}),
                 "total_usd": generation_usd + labelling_usd + student_usd,
                 "paid_now_usd": generation_paid + labelling_paid + student_cost["paid_now_usd"],
                 "calls": len(generation_results) + len(label_results)},
        "result": _result(ctx, predictions, previous),
    }
    write_round(folder, record)
    return record, grown, predictions


def _weak_text(weak: WeakClass) -> str:
    recall = "no training rows" if weak.recall is None else f"recall {weak.recall:.2f}"
    return f"{weak.label} ({recall})"


def _over_limit(ctx: Context, number: int, estimate_usd: float, what: str) -> str | None:
    """The stop reason when ``estimate_usd`` on top of what is spent would pass the spend limit, else None."""
    limit = ctx.settings.spend_limit_usd
    spent = sum(r["cost"]["total_usd"] for r in ctx.rounds) + ctx.spent_usd
    if limit is None or spent + estimate_usd <= limit:
        return None
    subject = f"round {number}" if what == "it" else f"round {number}'s {what.removeprefix('its ')}"
    return (f"spend limit: {subject} could cost up to ${estimate_usd:.4f}, and ${spent:.4f} is "
            f"spent of the ${limit:.4f} limit")


def _weak_check_estimate(ctx: Context, rows: Sequence[TrainingRow]) -> float:
    from distilleval.pipeline.iterate_tinker import estimate_weak_check_usd

    return estimate_weak_check_usd(ctx.spec, ctx.pricing, rows)


def _tinker_weak_check(ctx: Context, rows: Sequence[TrainingRow], folder: Path) -> tuple[list[str | None], dict]:
    """The previous checkpoint's answers on the training rows (kept in ``round-K/weak-check/``)."""
    from distilleval.pipeline.iterate_tinker import (
        WEAK_CHECK_BASIS,
        WEAK_CHECK_FOLDER,
        sample_checkpoint,
        training_side_spec,
    )

    checkpoint = ctx.rounds[-1]["checkpoint"]
    check_folder = folder / WEAK_CHECK_FOLDER
    spec, items = training_side_spec(ctx.spec, rows, check_folder)
    answers, usd, now = sample_checkpoint(spec, ctx.pricing, checkpoint, items, check_folder / "eval",
                                          cache_path=ctx.options.cache_path, limit=None,
                                          concurrency=ctx.options.concurrency, max_retries=ctx.options.max_retries,
                                          what=f"iterate's weak-class check of {checkpoint}")
    return answers, {"sampling_usd": usd, "paid_now_usd": usd if now else 0.0, "basis": WEAK_CHECK_BASIS}


def run_iterate(spec: TaskSpec, pricing: PricingTable, run_dir: Path, options: IterateOptions) -> dict:
    """Run (or resume) the loop and write ``RUN/iterate.json``; returns its content."""
    from distilleval.files import write_text_atomic

    ctx = prepare(spec, pricing, run_dir, options)
    settings, say = ctx.settings, options.say
    gain_needed = settings.gain_needed(spec.gates.non_inferiority_margin)
    record, rows, predictions = _first_round(ctx, run_dir)
    ctx.rounds.append(record)
    say(_round_line(record))
    stop = None
    for number in range(2, settings.max_rounds + 1):
        folder = round_dir(run_dir, number)
        done = read_round(folder)
        if done is not None and done.get("fingerprint") == ctx.fingerprint:
            record, rows, predictions = done, read_training(spec, folder / TRAINING_FILE), _predictions(folder, ctx)
        else:
            _check_no_stale(done, folder)
            weak_check = None
            if ctx.tinker is not None:
                stop = _over_limit(ctx, number, _weak_check_estimate(ctx, rows), "its weak-class check")
                if stop:
                    break
                train_predictions, weak_check = _tinker_weak_check(ctx, rows, folder)
                ctx.spent_usd += weak_check["sampling_usd"]
                weak = weak_classes(ctx, rows, train_predictions)
                where = "its own training rows (in-sample, the previous checkpoint)"
            else:
                weak = weak_classes(ctx, rows)
                where = "the training split (out of fold)"
            if not weak:
                stop = f"no weak class: every class reaches recall {settings.weak_recall} on {where}"
                break
            estimate = estimate_round_usd(ctx, plan_generation(ctx, weak, number), weak, rows)
            stop = _over_limit(ctx, number, estimate["total_usd"], "it")
            if stop:
                break
            ctx.spent_usd -= weak_check["sampling_usd"] if weak_check else 0.0  # now counted in the round's cost
            record, rows, predictions = _next_round(ctx, run_dir, number, rows, predictions, weak, estimate, weak_check)
        ctx.rounds.append(record)
        say(_round_line(record))
        gain = record["result"]["change"]["estimate"]
        if record["added"] == 0:
            failed = ", ".join(f"{kind} {count}" for kind, count in record.get("failed_calls", {}).items())
            stop = (f"round {number} added no training row (every generated input was dropped or quarantined"
                    + (f"; failed calls: {failed}" if failed else "") + ")")
            break
        if gain < gain_needed:
            stop = f"round {number} gained {gain:+.4f} accuracy, less than the {gain_needed:.4f} a round must add"
            break
    else:
        stop = f"max_rounds ({settings.max_rounds}) reached"
    document = {
        "spec": spec.name, "run": run_dir.parent.name if run_dir.name == "eval" else run_dir.name,
        "student_stand_in": ctx.student_name,
        "student_path": "tinker" if ctx.tinker is not None else "baseline",
        "teacher": spec.teacher.model, "pricing_table": pricing.label,
        "scoring": SCORING if ctx.tinker is None else TINKER_SCORING,
        "eval_items": len(ctx.evaluate), "min_gain": gain_needed, "settings": settings.model_dump(mode="json"),
        "near_duplicates": _near_duplicate_rule(settings),
        "rounds": ctx.rounds, "stopped": stop,
        "total_cost_usd": sum(r["cost"]["total_usd"] for r in ctx.rounds) + ctx.spent_usd,
    }
    if ctx.spent_usd:
        document["weak_check_after_last_round_usd"] = ctx.spent_usd
    write_text_atomic(run_dir / ITERATE_JSON, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    say(f"stopped: {stop}")
    return document


def _near_duplicate_rule(settings: IterateSpec) -> str:
    from distilleval.training.near_duplicates import METHOD

    return f"{METHOD} >= {settings.similarity_threshold}, against every eval item, every training row and each other"


def _round_line(record: dict) -> str:
    result = record["result"]
    low, high = result["accuracy_interval"]
    line = (f"round {record['round']}: accuracy {result['accuracy']:.3f} [{low:.3f}, {high:.3f}] on "
            f"{result['eval_items']} eval items, {record['training_rows']} training rows (+{record['added']})")
    change = result.get("change")
    if change:
        a, b = change["interval"]
        line += f"; vs round {record['round'] - 1}: {change['estimate']:+.3f} [{a:+.3f}, {b:+.3f}]"
    cost = record["cost"]
    return line + f"; cost ${cost['total_usd']:.4f} (paid now ${cost['paid_now_usd']:.4f})"


def dry_run(spec: TaskSpec, pricing: PricingTable, run_dir: Path, options: IterateOptions) -> dict:
    """The cost of the next round and a bound on every round left, before any call; writes nothing."""
    ctx = prepare(spec, pricing, run_dir, options)
    if ctx.tinker is not None:
        from distilleval.pipeline.iterate_tinker import first_rows

        done_first = read_round(round_dir(run_dir, 1))
        rows = (read_training(spec, round_dir(run_dir, 1) / TRAINING_FILE)
                if done_first is not None and done_first.get("fingerprint") == ctx.fingerprint
                else first_rows(spec, ctx.tinker))
    else:
        rows = [TrainingRow(item, item.gold, "train split (gold)") for item in ctx.train]
    number = 2
    while number <= ctx.settings.max_rounds:
        done = read_round(round_dir(run_dir, number))
        if done is None or done.get("fingerprint") != ctx.fingerprint:
            break
        rows = read_training(spec, round_dir(run_dir, number) / TRAINING_FILE)
        number += 1
    if number > ctx.settings.max_rounds:
        return {"next_round": None, "weak_classes": [], "next_round_usd": 0.0, "remaining_rounds_bound_usd": 0.0}
    everything = [WeakClass(label, 0, None, []) for label in spec.output.labels or []]
    later = ctx.settings.max_rounds - number
    if ctx.tinker is not None:
        # The weak classes come from sampling the checkpoint, which a dry run does not do: every label is
        # counted weak, and each round's weak-class check is counted on the rows it would grow to.
        asked = ctx.settings.per_class * len(everything)
        total, grown = 0.0, list(rows)
        parts: dict = {}
        for k in range(number, ctx.settings.max_rounds + 1):
            check = _weak_check_estimate(ctx, grown)
            estimate = estimate_round_usd(ctx, plan_generation(ctx, everything, k), everything, grown)
            if k == number:
                parts = {"weak_check_usd": check, "next_round_usd": check + estimate["total_usd"],
                         "training_usd": estimate["training_usd"], "sampling_usd": estimate["sampling_usd"] + check,
                         "training_basis": estimate["training_basis"]}
            total += check + estimate["total_usd"]
            grown = grown + [grown[n % len(grown)] for n in range(asked)]  # sized like a round that keeps every input
        return {"next_round": number, "weak_classes": [], "student_path": "tinker", **parts,
                "remaining_rounds_bound_usd": total,
                "basis": "upper bound: every label weak, replies at max_tokens, every asked-for input labelled and "
                         "trained on; prompt tokens counted locally"}
    weak = weak_classes(ctx, rows)
    estimate = estimate_round_usd(ctx, plan_generation(ctx, weak, number), weak) if weak else {"total_usd": 0.0}
    # Any later round: at most every label weak, each asking per_class inputs.
    bound = estimate_round_usd(ctx, plan_generation(ctx, everything, number), everything)["total_usd"]
    return {"next_round": number, "weak_classes": [_weak_text(w) for w in weak], "next_round_usd": estimate["total_usd"],
            "remaining_rounds_bound_usd": estimate["total_usd"] + later * bound, "student_path": "baseline",
            "basis": "upper bound: replies at max_tokens, every asked-for input labelled; prompt tokens counted locally"}
