"""The LiteLLM backend: any provider LiteLLM supports (OpenAI, Anthropic, Gemini, vLLM via api_base).

LiteLLM is imported lazily, on the first backend built, with ``LITELLM_OFFLINE_MODE=true`` set
first (unless the user set it) so the import fetches no cost map or tokenizer. Every call
passes ``timeout`` and ``num_retries=0``: the runner does the retrying, because LiteLLM's own
defaults (a 6,000 s timeout, hidden SDK retries) would multiply attempts and hide latency.
Cost comes from the usage block times distilleval's pricing table, never from LiteLLM's cost
map (which silently returns 0 or None for models it does not know).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from distilleval.backends._http import (
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
    retry_delay_seconds,
    served_model,
)
from distilleval.backends._timing import EVENT_HOOKS, HttpTimer
from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.prompt_cache import is_anthropic_model, mark_rubric_cacheable
from distilleval.backends.request_checks import check_prompt_fits
from distilleval.costs.pricing import ModelPrice
from distilleval.errors import (
    AuthenticationError,
    BackendError,
    CallTimeoutError,
    ConfigurationError,
    RateLimitedError,
    ServiceUnavailableError,
)

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "openai")


def import_litellm() -> Any:
    """Import LiteLLM offline and quiet; returns the module.

    Raises:
        ConfigurationError: LiteLLM is not installed.
    """
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    try:
        import litellm
    except ImportError:
        raise ConfigurationError("LiteLLM is not installed: pip install litellm") from None
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.telemetry = False
    for name in _LITELLM_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


# What LiteLLM says when a provider's 200 body is not the JSON it expects (checked on 1.110).
_MALFORMED_BODY_MARKERS = ("Unable to get json response", "Error converting to valid response")


def translate_litellm_error(err: BaseException, model_id: str) -> BackendError:
    """Map a LiteLLM / OpenAI-SDK exception to distilleval's tree (one place, by class name).

    Classes are matched by name along the MRO so this needs no LiteLLM import and keeps
    working when LiteLLM adds subclasses.
    """
    names = {cls.__name__ for cls in type(err).__mro__}
    detail = " ".join(str(err).split())[:300]
    message = f"{model_id}: {detail}"
    if is_quota_error(str(err)):
        # Out of quota or credit: a 429 (OpenAI insufficient_quota) or 400 (Anthropic credit) no wait will fix.
        return quota_error(model_id, detail)
    if "RateLimitError" in names:
        headers = getattr(err, "litellm_response_headers", None)
        response = getattr(err, "response", None)
        if headers is None and response is not None:
            headers = getattr(response, "headers", None)
        # Gemini says when to come back only in the body's RetryInfo, which LiteLLM keeps in the message.
        retry_after = retry_after_seconds(headers)
        if retry_after is None:
            retry_after = retry_delay_seconds(str(err))
        return RateLimitedError(message, retry_after_s=retry_after)
    if any(marker in str(err) for marker in _MALFORMED_BODY_MARKERS):
        # A 200 whose body LiteLLM could not parse; Gemini's arrives as a BadRequestError.
        return BackendError(message, kind="bad_response", retryable=True)
    if "Timeout" in names or "APITimeoutError" in names or isinstance(err, TimeoutError):
        return CallTimeoutError(message)
    if "AuthenticationError" in names or "PermissionDeniedError" in names:
        return AuthenticationError(message)
    if "ContextWindowExceededError" in names or "ContentPolicyViolationError" in names:
        return BackendError(message, kind="rejected", retryable=False)
    if "NotFoundError" in names:
        return BackendError(message, kind="not_found", retryable=False)
    if "BadRequestError" in names or "UnprocessableEntityError" in names or "UnsupportedParamsError" in names:
        return BackendError(message, kind="bad_request", retryable=False)
    if (
        "APIConnectionError" in names
        or "InternalServerError" in names
        or "ServiceUnavailableError" in names
        or "BadGatewayError" in names
        or "APIError" in names
        or isinstance(err, (ConnectionError, OSError))
    ):
        return ServiceUnavailableError(message)
    return BackendError(message, kind="error", retryable=False)


class LiteLLMBackend:
    """Calls one model through ``litellm.acompletion``.

    Latency is timed at the HTTP transport: ``openai/`` models go through our own OpenAI SDK
    client, ``anthropic/`` and ``gemini/`` through our own LiteLLM HTTP handler, both carrying
    the httpx hooks of ``_timing``; other providers are timed around the call
    (``extra["latency_basis"] == "call"``).

    Args:
        model_id: the LiteLLM model id (also the cache key's model and the pricing key's default).
        price: the model's pricing-table entry (None: cost is recorded as 0).
        api_base: a custom endpoint (vLLM, llama.cpp, a test server).
        api_key: the key read from the environment; kept in memory only.
        batch: price at the batch tier.
        prompt_cache: ``auto`` marks an Anthropic model's leading system message cacheable
            when it is long enough (``prompt_cache.mark_rubric_cacheable``); ``off`` never does.
    """

    _warmed = False
    _warm_lock: asyncio.Lock | None = None

    def __init__(
        self,
        model_id: str,
        *,
        price: ModelPrice | None,
        api_base: str | None = None,
        api_key: str | None = None,
        batch: bool = False,
        prompt_cache: str = "auto",
    ):
        self.model_id = model_id
        self.api_base = api_base
        self._price = price
        self._api_key = api_key
        self._batch = batch
        self._mark_cacheable = prompt_cache == "auto" and is_anthropic_model(model_id)
        self._litellm = import_litellm()
        self._client = self._make_client()

    def _make_client(self) -> Any:
        # Our own clients carry the httpx hooks that time the HTTP exchange, so a call's latency
        # leaves out LiteLLM's per-call CPU work. Both use LiteLLM's aiohttp-backed transport:
        # httpx's native pool is many times slower with dozens of calls in flight.
        if self.model_id.startswith("openai/"):
            return self._make_openai_client()
        if self.model_id.startswith(("anthropic/", "gemini/")):
            from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

            return AsyncHTTPHandler(event_hooks=EVENT_HOOKS, transport=_aiohttp_transport())
        return None

    def _make_openai_client(self) -> Any:
        import httpx
        import openai

        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        http_client = httpx.AsyncClient(limits=limits, event_hooks=EVENT_HOOKS, trust_env=False, transport=_aiohttp_transport())
        return openai.AsyncOpenAI(
            base_url=self.api_base, api_key=self._api_key or "no-key", http_client=http_client, max_retries=0
        )

    def __repr__(self) -> str:  # never shows the key
        return f"LiteLLMBackend({self.model_id!r}, api_base={self.api_base!r})"

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Make one call. Raises a ``BackendError`` subclass on failure (see ``translate_litellm_error``)."""
        check_prompt_fits(self.model_id, request)
        kwargs = chat_body(self.model_id, request)
        if "chat_template_kwargs" in kwargs:  # not an OpenAI field: LiteLLM passes it through extra_body
            kwargs["extra_body"] = {"chat_template_kwargs": kwargs.pop("chat_template_kwargs")}
        if self._mark_cacheable:
            kwargs["messages"] = mark_rubric_cacheable(kwargs["messages"], self.model_id)
        kwargs["timeout"] = timeout_s
        kwargs["num_retries"] = 0
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        elif self.api_base:
            kwargs["api_key"] = "no-key"  # OpenAI-compatible servers often need none, but the SDK wants one
        await self._warm_up(kwargs)
        if self._client is not None:
            kwargs["client"] = self._client
        try:
            with HttpTimer() as timer:
                response = await self._litellm.acompletion(**kwargs)
        except Exception as err:  # translated at this one choke point
            raise translate_litellm_error(err, self.model_id) from None
        try:
            choice = response.choices[0]
            message = choice.message
        except (AttributeError, IndexError, TypeError):
            raise BackendError(f"{self.model_id}: response has no choices[0].message", kind="bad_response", retryable=True) from None
        usage = read_usage(getattr(response, "usage", None))
        finish_reason = normalise_finish_reason(getattr(choice, "finish_reason", None))
        confidence = answer_confidence(getattr(choice, "logprobs", None)) if "logprobs" in kwargs else None
        cost_usd = call_cost_usd(self._price, usage, batch=self._batch)
        text = checked_answer(
            self.model_id, getattr(message, "content", None), refusal=getattr(message, "refusal", None),
            finish_reason=finish_reason, usage=usage, cost_usd=cost_usd,
        )
        return Completion(
            text=text,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_ms=timer.latency_ms(),
            cost_usd=cost_usd,
            extra={"latency_basis": timer.basis},
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            finish_reason=finish_reason,
            reasoning_tokens=usage.reasoning_tokens,
            served_model=served_model(getattr(response, "model", None), getattr(response, "system_fingerprint", None)),
            confidence=confidence,
            confidence_basis=TOKEN_LOGPROBS_BASIS if confidence is not None else None,
        )

    async def _warm_up(self, kwargs: dict[str, Any]) -> None:
        # LiteLLM builds much of itself lazily on the first call (~0.4 s, blocking the event
        # loop); one local mock call pays that before any call starts its latency clock.
        if LiteLLMBackend._warm_lock is None:
            LiteLLMBackend._warm_lock = asyncio.Lock()
        if LiteLLMBackend._warmed:
            return
        async with LiteLLMBackend._warm_lock:
            if LiteLLMBackend._warmed:
                return
            mock = {k: v for k, v in kwargs.items() if k in ("model", "messages", "max_tokens")}
            try:
                await self._litellm.acompletion(**mock, mock_response="", api_key="no-key")
            except Exception:  # a failed warm-up only costs the accuracy of one latency sample
                pass
            LiteLLMBackend._warmed = True

    async def aclose(self) -> None:
        """Close our own client (LiteLLM's shared clients stay LiteLLM's)."""
        if self._client is None:
            return
        close = getattr(self._client, "close", None)
        if close is not None:
            await close()


def _aiohttp_transport() -> Any:
    """LiteLLM's aiohttp-backed httpx transport; None (httpx's own) when this LiteLLM has none."""
    try:
        from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

        return AsyncHTTPHandler.create_aiohttp_transport()
    except (ImportError, AttributeError):
        return None
