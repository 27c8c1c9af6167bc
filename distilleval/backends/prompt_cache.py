"""Marking the rubric cacheable on Anthropic, which caches a prefix only where a request says so.

OpenAI and Gemini cache a long repeated prefix on their own; Anthropic caches only up to a
block carrying ``cache_control``, and only when the prefix up to it reaches the model's
minimum cacheable length (a shorter marked block is simply not cached). The teacher's rubric,
sent as the leading ``system`` message, is that block.
"""

from __future__ import annotations

from typing import Any

from distilleval.costs.tokens import count_tokens

# Minimum cacheable prompt length in tokens, from Anthropic's prompt-caching documentation
# (checked 2026-12): the first pattern found in the model id wins.
_ANTHROPIC_MIN_CACHEABLE = (
    ("opus-4-6", 4096),
    ("opus-4-5", 4096),
    ("haiku-4-5", 4096),
    ("sonnet-4-6", 2048),
    ("haiku-3", 2048),
    ("3-5-haiku", 2048),
    ("3-haiku", 2048),
)
_ANTHROPIC_DEFAULT_MIN_CACHEABLE = 1024

EPHEMERAL = {"type": "ephemeral"}


def is_anthropic_model(model_id: str) -> bool:
    """True for a LiteLLM id routed to Anthropic's Messages API."""
    return model_id.startswith("anthropic/")


def anthropic_min_cacheable_tokens(model_id: str) -> int:
    """The shortest prefix, in tokens, Anthropic caches for ``model_id`` (1,024 for models not listed)."""
    name = model_id.lower()
    for pattern, tokens in _ANTHROPIC_MIN_CACHEABLE:
        if pattern in name:
            return tokens
    return _ANTHROPIC_DEFAULT_MIN_CACHEABLE


def _system_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def mark_rubric_cacheable(messages: list[dict[str, Any]], model_id: str) -> list[dict[str, Any]]:
    """``messages`` with the leading system message's last text block marked ``cache_control: ephemeral``.

    Only when the system text reaches ``anthropic_min_cacheable_tokens(model_id)``, counted with
    the local tokenizer (``costs.tokens``; an approximation of Anthropic's). Messages without a
    leading system message, or with one too short, come back unchanged; the input is never
    modified.
    """
    if not messages or messages[0].get("role") != "system":
        return messages
    system = messages[0]
    if count_tokens(_system_text(system.get("content"))) < anthropic_min_cacheable_tokens(model_id):
        return messages
    content = system.get("content")
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content, "cache_control": EPHEMERAL}]
    elif isinstance(content, list):
        blocks = [dict(part) if isinstance(part, dict) else part for part in content]
        last_text = max(i for i, part in enumerate(blocks) if isinstance(part, dict) and part.get("type") == "text")
        blocks[last_text]["cache_control"] = EPHEMERAL
    else:
        return messages
    return [{**system, "content": blocks}, *messages[1:]]
