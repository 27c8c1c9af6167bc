"""The cache share a provider would really give: Anthropic caches only a marked rubric of its minimum length."""

from __future__ import annotations

import pytest

from distilleval.costs.prompt_caching import anthropic_min_cacheable_tokens, teacher_cache_share
from distilleval.costs.tokens import count_tokens
from distilleval.spec.task_spec import load_spec


def _with(spec, *, fraction=0.6, **teacher):
    return spec.model_copy(update={
        "teacher": spec.teacher.model_copy(update=teacher),
        "traffic": spec.traffic.model_copy(update={"cached_input_fraction": fraction}),
    })


def test_minimum_cacheable_lengths_per_model():
    assert anthropic_min_cacheable_tokens("anthropic/claude-sonnet-4-5") == 1024
    assert anthropic_min_cacheable_tokens("anthropic/claude-opus-4-6") == 4096
    assert anthropic_min_cacheable_tokens("anthropic/claude-3-5-haiku-20241022") == 2048


def test_other_providers_keep_the_spec_share(tiny_spec_path):
    spec = _with(load_spec(tiny_spec_path), model="openai/gpt-5.2")
    assert teacher_cache_share(spec).share == 0.6 and teacher_cache_share(spec).dropped is None


def test_a_rubric_below_the_minimum_is_not_cached(tiny_spec_path):
    spec = _with(load_spec(tiny_spec_path), system_text="Route the ticket. " * 100)
    tokens = count_tokens("Route the ticket. " * 100)
    assert tokens < 4096
    cache = teacher_cache_share(spec)
    assert cache.share == 0.0
    assert cache.dropped == (
        "the spec's traffic.cached_input_fraction (60%) is not applied to anthropic/claude-opus-4-6: the teacher's "
        f"system rubric ({tokens:,} tokens, local count) is below the model's minimum cacheable prefix (4,096 tokens), "
        "so Anthropic would not cache it"
    )
    # The same rubric reaches a model with a lower minimum (1,024 tokens).
    assert teacher_cache_share(spec, "anthropic/claude-sonnet-4-5").share == (0.6 if tokens >= 1024 else 0.0)


def test_a_long_enough_rubric_keeps_the_share(tiny_spec_path):
    spec = _with(load_spec(tiny_spec_path), system_text="Route the ticket by its topic. " * 800)
    assert count_tokens("Route the ticket by its topic. " * 800) >= 4096
    assert teacher_cache_share(spec) == teacher_cache_share(spec, "anthropic/claude-opus-4-6")
    assert teacher_cache_share(spec).share == 0.6 and teacher_cache_share(spec).dropped is None


@pytest.mark.parametrize("teacher, reason", [
    ({"system_text": "", "system": None}, "the teacher has no system rubric"),
    ({"system_text": "Route the ticket by its topic. " * 800, "prompt_cache": "off"}, "teacher.prompt_cache is off"),
])
def test_an_unmarked_rubric_is_not_cached(tiny_spec_path, teacher, reason):
    cache = teacher_cache_share(_with(load_spec(tiny_spec_path), **teacher))
    assert cache.share == 0.0 and reason in cache.dropped


def test_no_spec_share_means_nothing_to_drop(tiny_spec_path):
    assert teacher_cache_share(_with(load_spec(tiny_spec_path), fraction=0.0)).dropped is None


def test_where_the_docs_and_litellms_map_disagree_projections_take_the_larger_minimum():
    from distilleval.costs.prompt_caching import anthropic_min_cacheable_range, anthropic_min_cacheable_tokens

    # claude-sonnet-4-6: 2,048 in Anthropic's documentation, 1,024 in LiteLLM's map.
    assert anthropic_min_cacheable_range("anthropic/claude-sonnet-4-6") == (1024, 2048)
    assert anthropic_min_cacheable_tokens("anthropic/claude-sonnet-4-6") == 2048
    # claude-opus-4-7 is not in the documented table (1,024 default); the map says 2,048.
    assert anthropic_min_cacheable_tokens("anthropic/claude-opus-4-7") == 2048


def test_requests_are_marked_at_the_smaller_minimum():
    from distilleval.backends.prompt_cache import mark_rubric_cacheable
    from distilleval.costs.tokens import count_tokens

    rubric = "Route each ticket by the rules below. " * 200
    assert 1024 <= count_tokens(rubric) < 2048
    marked = mark_rubric_cacheable([{"role": "system", "content": rubric}], "anthropic/claude-sonnet-4-6")
    assert marked[0]["content"][0]["cache_control"] == {"type": "ephemeral"}
