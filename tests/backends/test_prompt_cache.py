"""The rubric is marked cacheable for Anthropic only when it is long enough to be cached."""

from distilleval.backends.prompt_cache import anthropic_min_cacheable_tokens, mark_rubric_cacheable

LONG = "Route each support ticket to exactly one queue. " * 200  # ~1,800 cl100k tokens


def test_minimum_cacheable_length_per_model():
    assert anthropic_min_cacheable_tokens("anthropic/claude-sonnet-4-5") == 1024
    assert anthropic_min_cacheable_tokens("anthropic/claude-opus-4-6") == 4096
    assert anthropic_min_cacheable_tokens("anthropic/claude-haiku-4-5") == 4096
    assert anthropic_min_cacheable_tokens("anthropic/claude-3-5-haiku-20241022") == 2048
    assert anthropic_min_cacheable_tokens("anthropic/claude-some-future-model") == 1024


def test_long_string_system_becomes_one_marked_block_and_the_input_is_untouched():
    messages = [{"role": "system", "content": LONG}, {"role": "user", "content": "item"}]
    marked = mark_rubric_cacheable(messages, "anthropic/claude-sonnet-4-5")
    assert marked[0] == {"role": "system", "content": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]}
    assert marked[1] == {"role": "user", "content": "item"}
    assert messages[0]["content"] == LONG


def test_list_system_has_its_last_text_block_marked():
    content = [{"type": "text", "text": LONG}, {"type": "text", "text": "Answer with the queue only."}]
    marked = mark_rubric_cacheable([{"role": "system", "content": content}], "anthropic/claude-sonnet-4-5")
    assert "cache_control" not in marked[0]["content"][0]
    assert marked[0]["content"][1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in content[1]


def test_short_system_or_no_system_is_left_alone():
    short = [{"role": "system", "content": "Route it."}, {"role": "user", "content": "item"}]
    no_system = [{"role": "user", "content": LONG}]
    assert mark_rubric_cacheable(short, "anthropic/claude-sonnet-4-5") is short
    assert mark_rubric_cacheable(no_system, "anthropic/claude-sonnet-4-5") is no_system
