"""Ask the teacher for new inputs like the ones a student fails on, and read its reply.

One call per weak class and round: the spec's generation prompt (``iterate.generation_prompt``,
else ``DEFAULT_GENERATION_PROMPT``) filled with the task, the label set, the class, a few
training inputs the student got wrong and how many new inputs to write. The reply is one
input per line (a JSON object per line when the task has several input fields); numbering,
bullets and surrounding quotes are stripped, and lines that cannot be read are counted, never
guessed at. The generated inputs carry no label: the teacher labels them afterwards with its
own rubric, like any pool.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from distilleval.backends.base import ChatRequest
from distilleval.run.runner import Call
from distilleval.spec.data import Item
from distilleval.spec.iterate_settings import IterateSpec
from distilleval.spec.prompts import render_template
from distilleval.spec.task_spec import TaskSpec

TEACHER = "teacher"
_LIST_MARKER = re.compile(r"^\s*(?:[-*\u2022]|\d{1,4}[.):]|\(\d{1,4}\))\s+")
_QUOTES = ('"', "'", "\u201c", "\u201d")


def answer_format(spec: TaskSpec) -> str:
    """The ``{format}`` line: how the teacher must lay its new inputs out."""
    fields = list(spec.data.input)
    if len(fields) == 1:
        return "Write one input per line and nothing else: no numbering, no quotes, no blank lines."
    keys = ", ".join(json.dumps(name) for name in fields)
    return f"Write one JSON object per line with exactly the keys {keys}, and nothing else."


def _one_line(inputs: Mapping[str, str]) -> str:
    if len(inputs) == 1:
        return " ".join(next(iter(inputs.values())).split())
    return json.dumps(dict(inputs), ensure_ascii=False)


def generation_prompt(spec: TaskSpec, settings: IterateSpec, *, label: str, examples: Sequence[Mapping[str, str]],
                      n: int, round_number: int) -> str:
    """The generation prompt for one weak class.

    Args:
        examples: input fields of training items of this class the student got wrong.
        n: how many new inputs to ask for.
        round_number: the round the inputs are for (shown, so each round asks afresh).
    """
    shown = "\n".join(f"- {_one_line(example)}" for example in examples) or "(none: the training data has no input of this class)"
    values = {
        "task": spec.description or spec.name,
        "labels": ", ".join(spec.output.labels or []),
        "label": label,
        "examples": shown,
        "n": str(n),
        "round": str(round_number),
        "format": answer_format(spec),
    }
    return render_template(settings.template, values)


def generation_call(spec: TaskSpec, settings: IterateSpec, prompt: str, *, label: str, n: int,
                    round_number: int) -> Call:
    """The teacher call that asks for ``n`` new inputs of ``label`` in round ``round_number``."""
    teacher = spec.teacher
    return Call(
        item_id=f"round-{round_number}/generate/{label}",
        model=TEACHER,
        request=ChatRequest(
            messages=({"role": "user", "content": prompt},),
            max_tokens=n * settings.max_tokens_per_input,
            temperature=settings.temperature,
            reasoning_effort=teacher.reasoning_effort,
            thinking_budget_tokens=teacher.thinking_budget_tokens,
        ),
    )


@dataclass(frozen=True)
class ParsedReply:
    """The inputs read from one generation reply, and how many lines could not be read."""

    inputs: list[dict[str, str]]
    unreadable: int


def parse_generated(text: str, fields: Sequence[str]) -> ParsedReply:
    """Read a generation reply: one input per line, or one JSON object per line with ``fields``.

    >>> parse_generated('1. my card was charged twice\\n- "refund please"\\n\\n', ["text"]).inputs
    [{'text': 'my card was charged twice'}, {'text': 'refund please'}]
    """
    inputs: list[dict[str, str]] = []
    unreadable = 0
    for raw in text.splitlines():
        line = _LIST_MARKER.sub("", raw.strip(), count=1).strip()
        if not line or line.startswith("```"):
            continue
        if len(fields) == 1:
            if len(line) >= 2 and line[0] in _QUOTES and line[-1] in _QUOTES:
                line = line[1:-1].strip()
            if line:
                inputs.append({fields[0]: line})
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            unreadable += 1
            continue
        if not isinstance(record, dict) or any(not isinstance(record.get(name), str) or not record[name].strip()
                                               for name in fields):
            unreadable += 1
            continue
        inputs.append({name: record[name].strip() for name in fields})
    return ParsedReply(inputs, unreadable)


def generated_item(inputs: Mapping[str, str]) -> Item:
    """A training item for a generated input: its id is a hash of its content (``gen-...``)."""
    digest = hashlib.sha256(json.dumps(dict(inputs), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Item(id=f"gen-{digest[:16]}", inputs=dict(inputs), gold=None, split="train")
