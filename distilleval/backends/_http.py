"""Small helpers shared by the HTTP backends: the request body, Retry-After parsing, usage-based cost."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

from distilleval.backends.base import ChatRequest
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import ModelPrice

MAX_RETRY_AFTER_S = 600.0


def chat_body(model: str, request: ChatRequest) -> dict[str, Any]:
    """The OpenAI chat-completions fields of one request; ``stop`` only when the request has one.

    Args:
        model: the model name the endpoint expects.
        request: the messages and sampling settings.

    Returns:
        A new dict the caller may extend (LiteLLM adds ``timeout`` and ``num_retries``).
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": list(request.messages),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if request.stop:
        body["stop"] = list(request.stop)
    return body


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


def usage_cost_usd(price: ModelPrice | None, input_tokens: int, output_tokens: int, *, batch: bool) -> float:
    """Cost of one call from its usage block and the pricing table (0.0 only when unpriced)."""
    if price is None:
        return 0.0
    return request_cost_usd(price, input_tokens, output_tokens, batch=batch)


def usage_tokens(usage: Any) -> tuple[int, int]:
    """(input, output) tokens from an OpenAI-style usage block (an object or a dict)."""
    if usage is None:
        return 0, 0
    if isinstance(usage, Mapping):
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)
