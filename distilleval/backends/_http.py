"""Small helpers shared by the HTTP backends: the request body, Retry-After parsing, usage counts, finish reasons, cost."""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distilleval.backends.base import ChatRequest
from distilleval.backends.request_params import openai_fields, takes_logprobs
from distilleval.backends.tinker.model_ids import openai_route_fields
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import BackendError, BilledUsage

MAX_RETRY_AFTER_S = 600.0


def chat_body(model: str, request: ChatRequest, *, rules_model: str | None = None) -> dict[str, Any]:
    """The OpenAI chat-completions fields of one request; ``stop`` only when the request has one.

    Args:
        model: the model name the endpoint expects.
        request: the messages and sampling settings.
        rules_model: the spec's model id whose rules decide the fields (default: ``model``),
            for routes that send a bare name (``gpt-5.2`` for ``openai/gpt-5.2``).

    Returns:
        A new dict the caller may extend (LiteLLM adds ``timeout`` and ``num_retries``).
    """
    # The token-limit name, temperature and reasoning fields follow the model's rules (request_params).
    body: dict[str, Any] = {"model": model, "messages": list(request.messages)}
    body.update(openai_fields(rules_model or model, request))
    if request.stop:
        body["stop"] = list(request.stop)
    if takes_logprobs(rules_model or model):
        # Each answer's confidence (``answer_confidence``); asked only where the provider takes it.
        body["logprobs"] = True
    # A Tinker Qwen3 student must see the thinking-off prompt it was trained on.
    body.update(openai_route_fields(model))
    return body


TOKEN_LOGPROBS_BASIS = "token_logprobs:mean"
"""The confidence of an answer from its tokens' log-probabilities: exp(mean log-probability), the
geometric mean of the tokens' probabilities."""


def answer_confidence(logprobs: Any) -> float | None:
    """The confidence of an answer from a chat choice's ``logprobs`` block (OpenAI shape, a dict
    or LiteLLM's object): exp of the mean of ``content[*].logprob``; None when there is none."""
    content = _field(logprobs, "content") if logprobs is not None else None
    if not content:
        return None
    values = []
    for token in content:
        value = _field(token, "logprob")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value > 0:
            return None
        values.append(float(value))
    return math.exp(sum(values) / len(values))


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` (or ``retry-after-ms``) header, capped at 10 min.

    Returns None when the header is missing or unreadable.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    if "retry-after-ms" in lowered:
        try:
            return min(max(float(lowered["retry-after-ms"]) / 1000, 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return min(max(parsed.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER_S)


_RETRY_DELAY = re.compile(r'"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"')


def retry_delay_seconds(body: str | bytes | None) -> float | None:
    """Seconds to wait from a Google ``RetryInfo`` in an error body (``"retryDelay": "20s"``), capped at 10 min.

    Gemini says when to come back only there, never in a ``Retry-After`` header. None when absent.
    """
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    match = _RETRY_DELAY.search(text)
    if match is None:
        return None
    return min(float(match.group(1)), MAX_RETRY_AFTER_S)


def call_cost_usd(price: ModelPrice | None, usage: Usage, *, batch: bool) -> float:
    """Cost of one call from its usage counts and the pricing table (0.0 only when unpriced).

    The call's counts are priced by ``costs.cost_model.request_cost_usd``, the one request formula
    (``costs.cost_model.usage_cost_usd`` prices a mean request with it, from shares of input).
    Cached input tokens are priced at the table's cached-input rate and cache writes at its
    cache-write rate (``costs.cost_model.request_cost_usd``).
    """
    if price is None:
        return 0.0
    return request_cost_usd(
        price,
        usage.input_tokens,
        usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        batch=batch,
    )


@dataclass(frozen=True)
class Usage:
    """One call's token counts, normalised: ``input_tokens`` includes the cached and cache-written ones."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def _field(block: Any, name: str) -> Any:
    if block is None:
        return None
    if isinstance(block, Mapping):
        return block.get(name)
    return getattr(block, name, None)


def _count(block: Any, *names: str) -> int:
    """The first of ``names`` that ``block`` has as a positive number (0 when none has)."""
    for name in names:
        value = _field(block, name)
        if isinstance(value, (int, float)) and value > 0:
            return int(value)
    return 0


def served_model(model: Any, fingerprint: Any = None) -> str | None:
    """The model version a response names: ``model``, with `` (fingerprint)`` when the provider sent one."""
    if not isinstance(model, str) or not model:
        return None
    return f"{model} ({fingerprint})" if isinstance(fingerprint, str) and fingerprint else model


def read_usage(usage: Any) -> Usage:
    """Token counts from an OpenAI-style usage block (an object or a dict), as LiteLLM returns every provider's.

    Cached input tokens are OpenAI's ``prompt_tokens_details.cached_tokens`` (where LiteLLM also
    puts Anthropic's ``cache_read_input_tokens`` and Gemini's ``cachedContentTokenCount``);
    cache writes are Anthropic's ``cache_creation_input_tokens``. Both are part of
    ``prompt_tokens`` in this shape (LiteLLM adds Anthropic's to its ``input_tokens``); a block
    whose prompt count is smaller than its cached and written counts is read as Anthropic's
    raw shape, where they are not included, and normalised.
    """
    if usage is None:
        return Usage()
    details = _field(usage, "prompt_tokens_details")
    cached = _count(details, "cached_tokens") or _count(usage, "cache_read_input_tokens")
    written = _count(usage, "cache_creation_input_tokens") or _count(details, "cache_write_tokens", "cache_creation_tokens")
    prompt = _count(usage, "prompt_tokens")
    if prompt < cached + written:
        prompt += cached + written
    # Thinking tokens are part of completion_tokens (LiteLLM adds Gemini's thoughtsTokenCount), priced as output.
    reasoning = _count(_field(usage, "completion_tokens_details"), "reasoning_tokens")
    output = max(_count(usage, "completion_tokens"), reasoning)
    return Usage(prompt, output, cached, written, reasoning)


_FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "eos": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "refusal": "content_filter",
    "tool_calls": "tool_calls",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
}


def normalise_finish_reason(raw: Any) -> str | None:
    """``stop`` / ``length`` / ``content_filter`` / ``tool_calls`` from any provider's finish reason.

    OpenAI's, Anthropic's (``end_turn``, ``max_tokens``, ``tool_use``) and Gemini's (``STOP``,
    ``MAX_TOKENS``, ``SAFETY``) names are mapped; other values pass through lower-cased; None
    (or an empty string) when the provider gave none.
    """
    if raw is None:
        return None
    text = str(raw).strip().lower()
    if not text:
        return None
    return _FINISH_REASONS.get(text, text)


MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""Largest response body (or answer text) one call may return; larger is a ``response_too_large`` error.

No answer distilleval scores is anywhere near this, and a runaway body would otherwise be stored
whole in the run store, the cache, ``summary.json`` and the report."""

# Phrases of the errors that no wait will fix: the account is out of quota or credit.
_QUOTA_MARKERS = ("insufficient_quota", "exceeded your current quota", "credit balance is too low", "billing_hard_limit")


def is_quota_error(text: str) -> bool:
    """Whether an error body or message says the account is out of quota or credit (not a rate limit)."""
    lowered = text.lower()
    return any(marker in lowered for marker in _QUOTA_MARKERS)


def quota_error(model_id: str, detail: str) -> BackendError:
    """The error that stops a run at once: out of quota or credit; retrying cannot help."""
    return BackendError(
        f"{model_id}: the account is out of quota or credit ({' '.join(detail.split())[:200]}); "
        "add credit or raise the limit with the provider, then run again",
        kind="quota",
        retryable=False,
    )


def too_large_error(model_id: str, size: int, limit: int = MAX_RESPONSE_BYTES) -> BackendError:
    """The error for a response over ``limit`` bytes (never stored)."""
    return BackendError(
        f"{model_id}: the response is larger than {limit:,} bytes ({size:,}+); not kept", kind="response_too_large",
        retryable=False,
    )


# Failures of a call the provider answered with 200 and billed: the error carries the usage and cost.
BILLED_KINDS = ("refusal", "thinking_exhausted", "empty_answer", "response_too_large")


def checked_answer(
    model_id: str, content: Any, *, refusal: Any = None, finish_reason: str | None = None, usage: Usage | None = None,
    cost_usd: float = 0.0,
) -> str:
    """The answer text of a successful response, or the error that says why there is none.

    Args:
        cost_usd: what the response costs (its ``usage`` priced); carried by a billed error.

    Raises:
        BackendError: ``refusal`` (the model refused; OpenAI's ``refusal`` field),
            ``thinking_exhausted`` (thinking filled the token limit and no answer was left),
            ``empty_answer`` (the content was null), ``response_too_large`` (an answer over
            ``MAX_RESPONSE_BYTES``). None of these is retried or cached; each was billed, so
            it carries ``billed`` (the usage, thinking counted as output, and ``cost_usd``).
    """
    try:
        return _answer_text(model_id, content, refusal=refusal, finish_reason=finish_reason, usage=usage)
    except BackendError as err:
        if err.kind in BILLED_KINDS and usage is not None and (usage.input_tokens or usage.output_tokens):
            err.billed = BilledUsage(
                usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.cache_write_tokens, cost_usd
            )
        raise


def _answer_text(model_id: str, content: Any, *, refusal: Any, finish_reason: str | None, usage: Usage | None) -> str:
    if isinstance(refusal, str) and refusal.strip():
        raise BackendError(f"{model_id}: the model refused: {' '.join(refusal.split())[:200]}", kind="refusal", retryable=False)
    text = content if isinstance(content, str) else None
    if not text and finish_reason == "content_filter":
        # Anthropic's stop_reason "refusal" (and a provider's content filter) with no answer text.
        raise BackendError(f"{model_id}: the model refused (finish reason content_filter, no answer)", kind="refusal", retryable=False)
    if not text and finish_reason == "length" and usage is not None and usage.reasoning_tokens:
        raise BackendError(
            f"{model_id}: no answer: {usage.reasoning_tokens:,} thinking tokens filled the token limit; "
            "give the model a smaller reasoning budget or effort, or a larger max_tokens",
            kind="thinking_exhausted",
            retryable=False,
        )
    if content is None:
        raise BackendError(f"{model_id}: the response has no answer (content null)", kind="empty_answer", retryable=False)
    if text is None:
        raise BackendError(f"{model_id}: the answer is not text ({type(content).__name__})", kind="bad_response", retryable=True)
    if len(text) > MAX_RESPONSE_BYTES:
        raise too_large_error(model_id, len(text.encode("utf-8")))
    return text
