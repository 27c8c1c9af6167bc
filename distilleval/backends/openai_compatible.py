"""The fast path: OpenAI-compatible ``/chat/completions`` over aiohttp, bypassing LiteLLM.

LiteLLM spends several milliseconds of CPU per call, which caps one process at a few hundred
calls per second; a fast local student server (vLLM, llama.cpp) can answer far more. A spec
asks for this path with ``fast_path: true`` on a model with an ``api_base``. The request and
the usage block are plain OpenAI chat-completions JSON; anything else is a ``bad_response``.

aiohttp rather than httpx: on this kind of load (64 calls in flight to one host) httpx's
connection pool managed ~130 requests/s on a 2-core machine where aiohttp managed several
thousand (bench/bench_runner.py prints both).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from distilleval.backends._http import (
    MAX_RESPONSE_BYTES,
    TOKEN_LOGPROBS_BASIS,
    answer_confidence,
    call_cost_usd,
    chat_body,
    checked_answer,
    is_quota_error,
    normalise_finish_reason,
    quota_error,
    read_usage,
    retry_after_seconds,
    served_model,
    too_large_error,
)
from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.request_checks import check_prompt_fits
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import (
    AuthenticationError,
    BackendError,
    CallTimeoutError,
    RateLimitedError,
    ServiceUnavailableError,
)


def served_model_name(model_id: str) -> str:
    """The ``model`` field sent to the server: the LiteLLM id without its ``openai/`` prefix."""
    for prefix in ("openai/", "hosted_vllm/", "text-completion-openai/"):
        if model_id.startswith(prefix):
            return model_id[len(prefix):]
    return model_id


def _error_detail(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        message = parsed.get("error", {}).get("message") if isinstance(parsed, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = message if isinstance(message, str) else body.decode("utf-8", "replace")
    return " ".join(text.split())[:300]


def translate_status(status: int, headers: Mapping[str, str], body: bytes, model_id: str) -> BackendError:
    """The distilleval error for a non-2xx response."""
    message = f"{model_id}: HTTP {status}: {_error_detail(body)}"
    if status in (402, 429) and is_quota_error(body.decode("utf-8", "replace")):
        return quota_error(model_id, _error_detail(body))
    if status == 429:
        return RateLimitedError(message, retry_after_s=retry_after_seconds(headers))
    if status in (401, 403):
        return AuthenticationError(message)
    if status == 408:
        return CallTimeoutError(message)
    if status >= 500:
        return ServiceUnavailableError(message)
    if status == 404:
        return BackendError(message, kind="not_found", retryable=False)
    return BackendError(message, kind="bad_request", retryable=False)


async def read_bounded(response: Any, model_id: str, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The response body, read in chunks and given up past ``limit`` bytes (never held whole).

    Raises:
        BackendError: ``response_too_large``.
    """
    declared = response.content_length
    if declared is not None and declared > limit:
        raise too_large_error(model_id, declared, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise too_large_error(model_id, size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def translate_transport_error(err: BaseException, model_id: str) -> BackendError:
    """The distilleval error for a transport failure (timeout, refused, reset)."""
    message = f"{model_id}: {type(err).__name__}: {err or 'no detail'}"
    if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
        return CallTimeoutError(message)
    return ServiceUnavailableError(message)


class OpenAICompatibleBackend:
    """Calls ``{api_base}/chat/completions`` directly with one pooled ``aiohttp.ClientSession``.

    Args:
        model_id: the spec's model id (cache and pricing key); ``openai/`` is stripped for the wire.
        api_base: the server's base URL, e.g. ``http://127.0.0.1:8000/v1``.
        price: the pricing-table entry (None: cost recorded as 0).
        api_key: sent as a Bearer token when set; kept in memory only.
        batch: price at the batch tier.
        max_connections: the connection pool size (the runner's concurrency is the real limit).
    """

    def __init__(
        self,
        model_id: str,
        *,
        api_base: str,
        price: ModelPrice | None,
        api_key: str | None = None,
        batch: bool = False,
        max_connections: int = 256,
    ):
        self.model_id = model_id
        self.api_base = api_base.rstrip("/")
        self._url = f"{self.api_base}/chat/completions"
        self._wire_model = served_model_name(model_id)
        self._price = price
        self._batch = batch
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._max_connections = max_connections
        self._session: Any = None

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAICompatibleBackend({self.model_id!r}, api_base={self.api_base!r})"

    def _open_session(self) -> Any:
        # Created on first use: an aiohttp session belongs to the running event loop.
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Make one call. Raises a ``BackendError`` subclass on failure."""
        import aiohttp

        check_prompt_fits(self.model_id, request)
        body = chat_body(self._wire_model, request, rules_model=self.model_id)
        session = self._open_session()
        try:
            started = time.perf_counter()
            async with session.post(self._url, data=json.dumps(body), timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                # Headers in: the model has answered (the body of a chat completion is small).
                latency_ms = (time.perf_counter() - started) * 1000
                raw = await read_bounded(response, self.model_id)
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            raise translate_transport_error(err, self.model_id) from None
        if status >= 300:
            raise translate_status(status, headers, raw, self.model_id)
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            message = choice["message"]
            usage = read_usage(payload.get("usage"))
            finish_reason = normalise_finish_reason(choice.get("finish_reason"))
            confidence = answer_confidence(choice.get("logprobs"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
            raise BackendError(
                f"{self.model_id}: malformed response body ({type(err).__name__})", kind="bad_response", retryable=True
            ) from None
        cost_usd = call_cost_usd(self._price, usage, batch=self._batch)
        text = checked_answer(
            self.model_id, message.get("content"), refusal=message.get("refusal"), finish_reason=finish_reason, usage=usage,
            cost_usd=cost_usd,
        )
        return Completion(
            text=text,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_ms=latency_ms,
            cost_usd=cost_usd,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            finish_reason=finish_reason,
            reasoning_tokens=usage.reasoning_tokens,
            served_model=served_model(payload.get("model"), payload.get("system_fingerprint")),
            confidence=confidence,
            confidence_basis=TOKEN_LOGPROBS_BASIS if confidence is not None else None,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
