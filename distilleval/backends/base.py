"""The one interface every model backend implements.

A backend takes rendered chat messages and sampling parameters and returns the text, the
token counts from the provider's usage block, the measured latency and the cost. Provider
exceptions are translated to ``distilleval.errors.BackendError`` subclasses inside each backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    """What is asked: OpenAI-style messages (content a string or a list of parts), sampling and reasoning.

    ``max_tokens`` is the answer's room; what each model is actually sent (token-limit field
    name, whether ``temperature`` goes, the reasoning field) is decided by
    ``request_params.sent_settings``. ``reasoning_effort`` (``none`` ... ``high``) and
    ``thinking_budget_tokens`` are the spec's ``reasoning`` setting (None: not set).
    """

    messages: tuple[dict[str, Any], ...]
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None
    thinking_budget_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    """What came back from one successful call.

    ``input_tokens`` counts every prompt token, including those the provider served from its
    prompt cache (``cached_input_tokens``) and those it wrote to the cache
    (``cache_write_tokens``, Anthropic only); each backend normalises its provider's usage block
    to this. ``latency_ms`` is request sent to response received, at the transport (None for an
    answer that came through a provider batch: it has no per-request latency).
    ``finish_reason`` is the provider's reason normalised to ``stop``, ``length`` (cut at
    ``max_tokens``), ``content_filter`` or ``tool_calls``; other values pass through; None when
    the provider gave none. ``reasoning_tokens`` are the thinking tokens the provider reported
    (already part of ``output_tokens`` and priced as output). ``served_model`` is the model
    version the provider says answered (its response ``model``, with its ``system_fingerprint``
    when it sends one), so ``drift`` can tell that the provider changed what stands behind an id.
    """

    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    cost_usd: float
    extra: dict[str, Any] = field(default_factory=dict)
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None
    reasoning_tokens: int = 0
    served_model: str | None = None


class Backend(Protocol):
    """A model that can be called. ``model_id`` is what the cache key and pricing use."""

    model_id: str

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Make one call; raise a ``BackendError`` subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
