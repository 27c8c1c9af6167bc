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
    """What is sent: OpenAI-style messages (content a string or a list of parts) and sampling."""

    messages: tuple[dict[str, Any], ...]
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completion:
    """What came back from one successful call."""

    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost_usd: float
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """A model that can be called. ``model_id`` is what the cache key and pricing use."""

    model_id: str

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Make one call; raise a ``BackendError`` subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
