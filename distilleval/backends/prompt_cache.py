"""Marking the rubric cacheable on Anthropic, which caches a prefix only where a request says so.

OpenAI and Gemini cache a long repeated prefix on their own; Anthropic caches only up to a
block carrying ``cache_control``, and only when the prefix up to it reaches the model's
minimum cacheable length (a shorter marked block is simply not cached). The teacher's rubric,
sent as the leading ``system`` message, is that block. The table of minimums lives in
``costs/prompt_caching``, which every cost projection reads too.
"""

from __future__ import annotations

from typing import Any

from distilleval.costs.prompt_caching import (
    anthropic_min_cacheable_range,
    anthropic_min_cacheable_tokens,
    is_anthropic_model,
)
from distilleval.costs.tokens import count_tokens

__all__ = ["EPHEMERAL", "anthropic_min_cacheable_tokens", "is_anthropic_model", "mark_rubric_cacheable"]

EPHEMERAL = {"type": "ephemeral"}


def _system_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text")
    return ""


def mark_rubric_cacheable(messages: list[dict[str, Any]], model_id: str) -> list[dict[str, Any]]:
    """``messages`` with the leading system message's last text block marked ``cache_control: ephemeral``.

    Only when the system text reaches the smaller of the model's documented and LiteLLM-mapped
    minimum cacheable lengths (``anthropic_min_cacheable_range``; a marker on a block the
    provider then does not cache costs nothing, a missing one loses the saving), counted with
    the local tokenizer (``costs.tokens``; an approximation of Anthropic's). Messages without a
    leading system message, or with one too short, come back unchanged; the input is never
    modified.
    """
    if not messages or messages[0].get("role") != "system":
        return messages
    system = messages[0]
    if count_tokens(_system_text(system.get("content"))) < anthropic_min_cacheable_range(model_id)[0]:
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
