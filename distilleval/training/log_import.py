"""Turn logged teacher calls into training rows: inputs read back from the prompt, labels checked.

Each logged call's messages are matched against the spec's teacher templates
(``spec.template_match``) to recover the raw input fields; the logged answer goes through the same
check ``label`` applies (``label_checks.LabelChecker``). A call is then dropped, with its reason,
when it failed (``failed_call``), its answer is not a usable label (``unparseable_answer``), its
prompt does not match the template (``template_mismatch``, only when the caller allows skipping;
otherwise the first such line is an error), its prompt splits into fields in more than one way
(``ambiguous_prompt``: a value holding the template's own text), its inputs are an eval item's (``eval_leak``: never
trained on), or it repeats inputs already kept (``duplicate``; copies that disagree on the label
are all dropped as ``conflicting_labels``, since no one of them is the teacher's answer).

The result depends only on the set of logged calls, never on their order: rows come out sorted
by a hash of their inputs, and which copy of a duplicate is kept does not change the row.
"""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import DataError, SpecError
from distilleval.spec.data import Item
from distilleval.spec.prompts import template_fields
from distilleval.spec.task_spec import TaskSpec
from distilleval.spec.template_match import PromptTemplate, Recovered
from distilleval.training.label_checks import LabelChecker
from distilleval.training.log_formats import LoggedCall

DROP_REASONS = ("failed_call", "template_mismatch", "ambiguous_prompt", "unparseable_answer", "eval_leak", "duplicate", "conflicting_labels")


@dataclass(frozen=True)
class ImportedRow:
    """One training row recovered from the logs: input field -> value, the teacher's label, where it was logged."""

    inputs: dict[str, str]
    label: str
    where: str


@dataclass
class LogImport:
    """What an import kept and dropped, and what the logged calls cost.

    ``cost_usd`` prices every logged call with usage; ``labels_cost_usd`` only the calls whose
    label was kept (what ``label`` would have paid for the same rows). ``requested_models`` counts
    the ``model`` each request named, ``answering_models`` the version each response named.
    """

    rows: list[ImportedRow]
    dropped: list[dict[str, Any]]
    calls: int
    cost_usd: float = 0.0
    labels_cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    requested_models: dict[str, int] = field(default_factory=dict)
    answering_models: dict[str, int] = field(default_factory=dict)

    @property
    def reasons(self) -> dict[str, int]:
        """Dropped calls per reason, in ``DROP_REASONS`` order."""
        counts = collections.Counter(entry["reason"] for entry in self.dropped)
        return {reason: counts[reason] for reason in DROP_REASONS if counts[reason]}


def teacher_template(spec: TaskSpec) -> PromptTemplate:
    """The teacher's templates as a matcher.

    Raises:
        SpecError: the spec has image inputs, or an input field the teacher's templates never use
            (its value cannot be read back from a logged prompt).
    """
    model = spec.teacher
    system, prompt = model.system_text or model.system or "", model.prompt_text or model.prompt
    if spec.data.image_inputs:
        raise SpecError(f"{spec.source}: data.image_inputs: import-logs reads text inputs only")
    used = set(template_fields(system)) | set(template_fields(prompt))
    unused = [name for name in spec.data.input if name not in used]
    if unused:
        raise SpecError(
            f"{spec.source}: teacher.prompt: input field {unused[0]!r} is not in the teacher's prompt or system text, "
            "so its value cannot be read back from a logged prompt"
        )
    return PromptTemplate(system=system, prompt=prompt, fields=tuple(spec.data.input))


def _text(content: Any) -> str | None:
    """A message's text: the string, or its text parts joined (None when it has none)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"]
        texts = [text for text in parts if isinstance(text, str)]
        if texts and len(texts) == len(parts):
            return "".join(texts)
    return None


def recover_inputs(template: PromptTemplate, messages: Sequence[dict[str, Any]]) -> Recovered | None:
    """The input fields of a logged request, or None when its messages are not the template's.

    The messages must be what ``build_messages`` sends: an optional system message, then one user message.
    """
    roles = [message.get("role") for message in messages]
    if roles not in (["user"], ["system", "user"]):
        return None
    texts = [_text(message.get("content")) for message in messages]
    if any(text is None for text in texts):
        return None
    system = texts[0] if len(texts) == 2 else None
    return template.recover(system, texts[-1])  # type: ignore[arg-type]


def leak_key(inputs: dict[str, str]) -> str:
    """How inputs are compared with eval items: every field with its whitespace collapsed and its case folded,
    so a copy that differs only in spacing or case is still the eval item."""
    return json.dumps({name: " ".join(value.split()).casefold() for name, value in sorted(inputs.items())})


def _call_cost(call: LoggedCall, price: ModelPrice) -> float:
    return request_cost_usd(
        price, call.input_tokens, call.output_tokens, cached_input_tokens=min(call.cached_input_tokens, call.input_tokens),
        batch=call.batch and price.has_batch_tier,
    )


def _mismatch_error(call: LoggedCall, spec: TaskSpec) -> DataError:
    return DataError(
        f"{call.where}: messages: the logged prompt does not match the teacher's prompt template of {spec.source} "
        "(teacher.system + teacher.prompt); use the spec whose template rendered these logs, or --skip-mismatched"
    )


def import_logged_calls(
    spec: TaskSpec,
    calls: Iterable[LoggedCall],
    *,
    eval_items: Sequence[Item],
    price: ModelPrice,
    skip_mismatched: bool = False,
) -> LogImport:
    """Recover rows and labels from ``calls``.

    Args:
        spec: the task spec (its teacher templates and output checks).
        calls: the logged calls (``log_formats.read_log_files``).
        eval_items: the eval split; a logged input equal to one of them (``leak_key``) is refused.
        price: the teacher's pricing-table entry, used to price the logged usage.
        skip_mismatched: drop calls whose prompt does not match the template instead of failing.

    Raises:
        DataError: the first call (in file order) whose prompt does not match the template,
            unless ``skip_mismatched``.
    """
    template = teacher_template(spec)
    checker = LabelChecker(spec)
    eval_keys = {leak_key(item.inputs) for item in eval_items}
    result = LogImport(rows=[], dropped=[], calls=0)
    requested: collections.Counter[str] = collections.Counter()
    answering: collections.Counter[str] = collections.Counter()
    candidates: dict[str, list[tuple[ImportedRow, float]]] = collections.defaultdict(list)

    def drop(call: LoggedCall, reason: str, detail: str) -> None:
        result.dropped.append({"where": call.where, "reason": reason, "detail": detail})

    for call in calls:
        result.calls += 1
        requested[call.request_model or "(not logged)"] += 1
        answering[call.response_model or "(not logged)"] += 1
        cost = _call_cost(call, price)
        result.cost_usd += cost
        result.input_tokens += call.input_tokens
        result.output_tokens += call.output_tokens
        recovered = recover_inputs(template, call.messages)
        if recovered is None:
            if not skip_mismatched:
                raise _mismatch_error(call, spec)
            drop(call, "template_mismatch", "the prompt does not match the teacher's template")
            continue
        if recovered.ambiguous:
            drop(call, "ambiguous_prompt", "the prompt splits into the input fields in more than one way")
            continue
        inputs = recovered.values
        if call.answer is None:
            drop(call, "failed_call", call.failure or "no answer")
            continue
        verdict = checker.check(call.answer)
        if not verdict.valid:
            drop(call, "unparseable_answer", f"{verdict.reason}: {verdict.detail}")
            continue
        if leak_key(inputs) in eval_keys:
            drop(call, "eval_leak", "its inputs are an eval item's; never trained on")
            continue
        key = json.dumps(inputs, sort_keys=True, ensure_ascii=False)
        candidates[key].append((ImportedRow(inputs=inputs, label=verdict.label or "", where=call.where), cost))

    for copies in candidates.values():
        labels = {row.label for row, _ in copies}
        if len(labels) > 1:
            for row, _ in copies:
                result.dropped.append({"where": row.where, "reason": "conflicting_labels",
                                       "detail": f"the same inputs were labelled {', '.join(sorted(labels))}"})
            continue
        kept = min(copies, key=lambda copy: copy[0].where)
        result.rows.append(kept[0])
        result.labels_cost_usd += kept[1]
        for row, _ in copies:
            if row is not kept[0]:
                result.dropped.append({"where": row.where, "reason": "duplicate", "detail": f"same inputs as {kept[0].where}"})
    result.rows.sort(key=lambda row: hashlib.sha256(json.dumps(row.inputs, sort_keys=True).encode()).digest())
    result.dropped.sort(key=lambda entry: (DROP_REASONS.index(entry["reason"]), entry["where"]))
    result.requested_models = dict(requested.most_common())
    result.answering_models = dict(answering.most_common())
    return result
