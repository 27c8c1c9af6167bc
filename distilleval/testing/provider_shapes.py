"""The wire shapes of the three provider APIs the scripted test server speaks.

Each shape reads a request body (model, prompt text, ``max_tokens``) and writes a completion,
a usage block and an error the way its provider does:

- ``OPENAI``: ``POST /v1/chat/completions``; ``usage.prompt_tokens`` counts every input token,
  ``usage.prompt_tokens_details.cached_tokens`` those read from the prompt cache;
  ``finish_reason`` ``stop`` / ``length``.
- ``ANTHROPIC``: ``POST /v1/messages``; ``usage.input_tokens`` EXCLUDES the cached
  (``cache_read_input_tokens``) and cache-written (``cache_creation_input_tokens``) tokens;
  ``stop_reason`` ``end_turn`` / ``max_tokens``; errors are ``{"type": "error", "error": {...}}``.
- ``GEMINI``: ``POST /v1beta/models/{model}:generateContent``; ``usageMetadata.promptTokenCount``
  includes ``cachedContentTokenCount``; ``finishReason`` ``STOP`` / ``MAX_TOKENS``; a thinking model
  (2.5 and later) spends ``thoughtsTokenCount`` out of ``maxOutputTokens`` first, and when thinking
  fills it the candidate comes back with no ``parts`` at all; a 429 says
  when to come back only in the body (``google.rpc.RetryInfo`` ``retryDelay``), not in a header.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    """What one answer cost, in the server's terms: every count is of input tokens except ``output``.

    ``prompt`` counts every input token, ``cached`` and ``cache_write`` included.
    """

    prompt: int
    output: int
    cached: int = 0
    cache_write: int = 0
    thoughts: int = 0


@dataclass(frozen=True)
class Shape:
    """One provider's wire format.

    Attributes:
        name: ``openai`` / ``anthropic`` / ``gemini``.
        parse: request body (and the model named in the URL, for Gemini) -> (model, prompt, max_tokens).
        completion: (model, answer, truncated, usage) -> the JSON body of a successful answer.
        error: (status, code, message, retry_after_s) -> (JSON body, extra headers).
    """

    name: str
    parse: Callable[[dict[str, Any], str | None], tuple[str, str, int | None]]
    completion: Callable[[str, str, bool, Usage], dict[str, Any]]
    error: Callable[[int, str, str, float | None], tuple[dict[str, Any], dict[str, str]]]


def _texts(content: Any, *, key: str = "text") -> list[str]:
    """Text of a string content or of a list of parts (OpenAI / Anthropic ``text`` parts, Gemini parts)."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [str(part.get(key, "")) for part in content if isinstance(part, dict) and key in part]
    return []


def prompt_text(messages: Any) -> str:
    """The text of OpenAI- or Anthropic-style messages (string contents and text parts), joined by newlines."""
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            texts.extend(_texts(message.get("content")))
    return "\n".join(texts)


def _retry_after_header(retry_after_s: float | None) -> dict[str, str]:
    return {} if retry_after_s is None else {"Retry-After": f"{retry_after_s:g}"}


# -- OpenAI -------------------------------------------------------------------------------


def _openai_parse(body: dict[str, Any], _: str | None) -> tuple[str, str, int | None]:
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    return str(body["model"]), prompt_text(body["messages"]), max_tokens


def _openai_completion(model: str, answer: str, truncated: bool, usage: Usage) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-test-{time.monotonic_ns():x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "length" if truncated else "stop"}
        ],
        "usage": {
            "prompt_tokens": usage.prompt,
            "completion_tokens": usage.output,
            "total_tokens": usage.prompt + usage.output,
            "prompt_tokens_details": {"cached_tokens": usage.cached},
        },
    }


def _openai_error(status: int, code: str, message: str, retry_after_s: float | None) -> tuple[dict[str, Any], dict[str, str]]:
    headers = _retry_after_header(retry_after_s) if status == 429 else {}
    return {"error": {"message": message, "type": code, "code": code}}, headers


OPENAI = Shape("openai", _openai_parse, _openai_completion, _openai_error)


# -- Anthropic ----------------------------------------------------------------------------


def _anthropic_parse(body: dict[str, Any], _: str | None) -> tuple[str, str, int | None]:
    system = body.get("system")
    texts = _texts(system) if system is not None else []
    messages = prompt_text(body["messages"])
    return str(body["model"]), "\n".join([*texts, messages] if texts else [messages]), body.get("max_tokens")


def _anthropic_completion(model: str, answer: str, truncated: bool, usage: Usage) -> dict[str, Any]:
    return {
        "id": f"msg_test_{time.monotonic_ns():x}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "max_tokens" if truncated else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.prompt - usage.cached - usage.cache_write,
            "cache_read_input_tokens": usage.cached,
            "cache_creation_input_tokens": usage.cache_write,
            "output_tokens": usage.output,
        },
    }


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
}


def _anthropic_error(status: int, code: str, message: str, retry_after_s: float | None) -> tuple[dict[str, Any], dict[str, str]]:
    headers = _retry_after_header(retry_after_s) if status == 429 else {}
    kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}, headers


ANTHROPIC = Shape("anthropic", _anthropic_parse, _anthropic_completion, _anthropic_error)


# -- Gemini -------------------------------------------------------------------------------


def _gemini_parse(body: dict[str, Any], url_model: str | None) -> tuple[str, str, int | None]:
    texts: list[str] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        texts.extend(_texts(system.get("parts")))
    for content in body["contents"]:
        texts.extend(_texts(content.get("parts")))
    config = body.get("generationConfig") or body.get("generation_config") or {}
    max_tokens = config.get("maxOutputTokens", config.get("max_output_tokens"))
    return str(url_model), "\n".join(texts), max_tokens


# What Gemini 2.5 spends on thinking when a request sets no thinkingConfig (dynamic thinking).
GEMINI_DEFAULT_THINKING_TOKENS = 2048
# What the double spends at each Gemini 3 thinkingLevel (the real model decides per prompt; these are the double's).
GEMINI_LEVEL_THINKING_TOKENS = {"minimal": 128, "low": 1024, "medium": 4096, "high": 16384}
_GEMINI_THINKING_MODEL = re.compile(r"gemini-(2\.5|[3-9])")


def gemini_thinking_tokens(body: dict[str, Any], model: str, scripted: int | None) -> int:
    """Tokens a Gemini-shaped model thinks before answering ``body``, as the real one counts them.

    ``scripted`` (a script's ``thinking_tokens``) wins, capped by the request's
    ``thinkingBudget``; otherwise a thinking model spends its whole budget, its
    ``thinkingLevel``'s tokens (``GEMINI_LEVEL_THINKING_TOKENS``), or
    ``GEMINI_DEFAULT_THINKING_TOKENS`` when the request sets neither. Non-thinking models: 0.
    """
    config = body.get("generationConfig") or body.get("generation_config") or {}
    thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
    budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
    level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
    if not _GEMINI_THINKING_MODEL.search(model):
        return 0
    if scripted is not None:  # a level is no cap (the model decides); a budget is
        return scripted if budget is None or budget < 0 else min(scripted, budget)
    if budget is None and level is not None:
        return GEMINI_LEVEL_THINKING_TOKENS.get(str(level).lower(), GEMINI_DEFAULT_THINKING_TOKENS)
    if budget is None or budget < 0:
        return GEMINI_DEFAULT_THINKING_TOKENS
    return int(budget)


def _gemini_completion(model: str, answer: str, truncated: bool, usage: Usage) -> dict[str, Any]:
    metadata = {"promptTokenCount": usage.prompt}
    if answer or not usage.thoughts:
        metadata["candidatesTokenCount"] = usage.output
    if usage.thoughts:
        metadata["thoughtsTokenCount"] = usage.thoughts
    metadata["totalTokenCount"] = usage.prompt + (usage.output if answer or not usage.thoughts else 0) + usage.thoughts
    if usage.cached:
        metadata["cachedContentTokenCount"] = usage.cached
    # An answer lost to thinking: the candidate has no parts at all, only its role (as Gemini sends it).
    content: dict[str, Any] = {"parts": [{"text": answer}], "role": "model"} if answer or not usage.thoughts else {"role": "model"}
    return {
        "candidates": [
            {
                "content": content,
                "finishReason": "MAX_TOKENS" if truncated else "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": metadata,
        "modelVersion": model,
    }


_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


def _gemini_error(status: int, code: str, message: str, retry_after_s: float | None) -> tuple[dict[str, Any], dict[str, str]]:
    error: dict[str, Any] = {"code": status, "message": message, "status": _GEMINI_STATUS.get(status, "UNKNOWN")}
    if status == 429 and retry_after_s is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s:g}s"}]
    return {"error": error}, {}


GEMINI = Shape("gemini", _gemini_parse, _gemini_completion, _gemini_error)


# -- What the real services refuse (checked 2026-12-07; docs/providers.md) ------------------

_OPENAI_REASONING = re.compile(r"^(gpt-5(?!-chat)|gpt-6|o[1-9])")
# GPT-5.1 and 5.2 default to reasoning effort 'none', where they still take temperature and top_p.
_OPENAI_SAMPLES_AT_DEFAULT_EFFORT = re.compile(r"^gpt-5\.[12](\b|-|$)")
_ANTHROPIC_NO_SAMPLING = re.compile(r"^claude-(opus-4-7|sonnet-5)")


def openai_rejection(body: dict[str, Any]) -> str | None:
    """The 400 message OpenAI sends for this chat body, or None when it would be taken.

    The GPT-5 family and o-series refuse ``max_tokens`` (``max_completion_tokens`` only) and
    refuse ``temperature`` / ``top_p`` other than 1 unless the reasoning effort is ``none``.
    """
    model = str(body.get("model", ""))
    if "logprobs" in body and not isinstance(body["logprobs"], bool):
        return f"Invalid type for 'logprobs': expected a boolean, but got {type(body['logprobs']).__name__} instead."
    if not _OPENAI_REASONING.match(model):
        return None
    if body.get("logprobs"):
        return "Unsupported parameter: 'logprobs' is not supported with this model."
    if "max_tokens" in body:
        return "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
    effort = body.get("reasoning_effort")
    samples = effort == "none" or (effort is None and _OPENAI_SAMPLES_AT_DEFAULT_EFFORT.match(model))
    for name in ("temperature", "top_p"):
        if name in body and body[name] != 1 and not samples:
            return f"Unsupported value: '{name}' does not support {body[name]} with this model. Only the default (1) value is supported."
    return None


def anthropic_rejection(body: dict[str, Any]) -> str | None:
    """The 400 message Anthropic sends for this Messages body, or None when it would be taken."""
    model = str(body.get("model", ""))
    thinking = body.get("thinking") or {}
    if "logprobs" in body:  # the Messages API has no such field, and refuses unknown ones
        return "logprobs: Extra inputs are not permitted"
    if _ANTHROPIC_NO_SAMPLING.match(model) and ("temperature" in body or "top_p" in body):
        return f"temperature and top_p are not supported for {model}"
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.budget_tokens: must be at least 1024"
        if budget >= int(body.get("max_tokens") or 0):
            return "max_tokens must be greater than thinking.budget_tokens"
        if "temperature" in body and body["temperature"] != 1:
            return "temperature may only be set to 1 when thinking is enabled"
    return None
