"""Latency measured at the HTTP layer: request sent -> response headers received.

A call's wall time around LiteLLM includes several milliseconds of LiteLLM's own CPU work per
call, which would bias a fast student's latency far more than a slow teacher's. httpx event
hooks stamp the moment the request goes out and the moment the response arrives; a context
variable ties the stamps to the call that made them (hooks run in the calling task).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

_current: contextvars.ContextVar[list[float | None] | None] = contextvars.ContextVar("distilleval_http_timing", default=None)


async def _on_request(request: Any) -> None:
    stamps = _current.get()
    if stamps is not None:
        stamps[0] = time.perf_counter()
        stamps[1] = None


async def _on_response(response: Any) -> None:
    stamps = _current.get()
    if stamps is not None:
        stamps[1] = time.perf_counter()


EVENT_HOOKS: dict[str, list[Callable[..., Any]]] = {"request": [_on_request], "response": [_on_response]}


class HttpTimer:
    """Times one call: ``with HttpTimer() as timer: ...; timer.latency_ms(fallback_start)``."""

    def __enter__(self) -> "HttpTimer":
        self.started = time.perf_counter()
        self._stamps: list[float | None] = [None, None]
        self._token = _current.set(self._stamps)
        return self

    def __exit__(self, *exc: object) -> None:
        self.ended = time.perf_counter()
        _current.reset(self._token)

    def latency_ms(self) -> float:
        """HTTP-level latency of the last request the call sent; wall time when no hook fired."""
        sent, received = self._stamps
        if sent is not None and received is not None:
            return (received - sent) * 1000
        return (self.ended - self.started) * 1000

    @property
    def basis(self) -> str:
        """``http`` when the hooks timed the call, else ``call`` (wall time around the client)."""
        return "http" if self._stamps[1] is not None else "call"
