"""Anthropic's Message Batches over aiohttp: submit the requests, poll, stream the results.

Endpoints (relative to the ``api_base``, ``https://api.anthropic.com`` by default):
``POST /v1/messages/batches`` (every request in one body), ``GET /v1/messages/batches/{id}``
and the batch's ``results_url`` (JSONL: ``succeeded``, ``errored``, ``canceled`` or
``expired`` per request). A batch holds at most 100,000 requests and 256 MB.
The OpenAI-style messages the online path sends are turned into Anthropic's shape here:
system messages become ``system``, image parts become ``image`` blocks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from distilleval.backends._http import checked_answer, is_quota_error, normalise_finish_reason, quota_error
from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.batch_api import BatchHTTP, BatchOutcome, BatchStatus, wire_model_name
from distilleval.backends.prompt_cache import mark_rubric_cacheable
from distilleval.backends.request_params import sent_settings
from distilleval.errors import BackendError

DEFAULT_API_BASE = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
# Anthropic's error types -> the run store's error kinds.
_ERROR_KINDS = {
    "invalid_request_error": "bad_request",
    "authentication_error": "auth",
    "permission_error": "auth",
    "not_found_error": "not_found",
    "rate_limit_error": "rate_limited",
    "api_error": "unavailable",
    "overloaded_error": "unavailable",
}


def _content_blocks(content: Any) -> Any:
    """An OpenAI message content (a string or parts) as Anthropic content."""
    if isinstance(content, str):
        return content
    blocks = []
    for part in content:
        if part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if url.startswith("data:"):
                header, _, data = url.partition(",")
                media_type = header.removeprefix("data:").split(";")[0]
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
        else:
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
    return blocks


def anthropic_params(
    model: str, request: ChatRequest, *, messages: list[dict[str, Any]] | None = None, rules_model: str | None = None
) -> dict[str, Any]:
    """The Messages API parameters of one request (system messages lifted into ``system``).

    ``messages`` replaces ``request.messages`` (the rubric already marked cacheable);
    ``rules_model`` is the spec's model id whose rules decide the sampling fields. System
    blocks marked ``cache_control`` stay blocks; otherwise the system text is one string.
    """
    system: list[dict[str, Any]] = []
    turns = []
    for message in request.messages if messages is None else messages:
        content = message.get("content", "")
        if message.get("role") == "system":
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            system.extend(dict(part) for part in parts if part.get("type") == "text")
        else:
            turns.append({"role": message["role"], "content": _content_blocks(content)})
    # The token limit, temperature and thinking follow the model's rules (request_params).
    settings = sent_settings(rules_model or (model if "/" in model else f"anthropic/{model}"), request)
    params: dict[str, Any] = {"model": model, "max_tokens": settings.token_limit, "messages": turns}
    if settings.temperature is not None:
        params["temperature"] = settings.temperature
    if settings.thinking_budget:
        params["thinking"] = {"type": "enabled", "budget_tokens": settings.thinking_budget}
    elif settings.thinking_budget == 0:
        params["thinking"] = {"type": "disabled"}
    elif settings.reasoning_effort is not None:
        # Adaptive thinking (Claude models without a budget): Anthropic's levels start at 'low'.
        params["thinking"] = {"type": "adaptive"}
        params["output_config"] = {"effort": "low" if settings.reasoning_effort == "minimal" else settings.reasoning_effort}
    if any("cache_control" in block for block in system):
        params["system"] = system
    elif system:
        params["system"] = "\n\n".join(block.get("text", "") for block in system)
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    return params


class AnthropicBatchClient(BatchHTTP):
    """The Message Batches endpoints of Anthropic (or a server with its shape), for one model."""

    provider = "anthropic"
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, model_id: str, *, api_base: str | None, api_key: str | None, prompt_cache: str = "auto"):
        super().__init__(model_id, {"anthropic-version": ANTHROPIC_VERSION} | ({"x-api-key": api_key} if api_key else {}))
        self.prompt_cache = prompt_cache
        self._marked_system: dict[str, dict[str, Any]] = {}
        root = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.batches_url = root + ("/messages/batches" if root.endswith("/v1") else "/v1/messages/batches")

    def request_line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        """One request of the batch: ``custom_id`` and the Messages API ``params``.

        With ``prompt_cache="auto"`` the rubric is marked cacheable exactly as the online path
        marks it (``prompt_cache.mark_rubric_cacheable``): batches read and write Anthropic's
        prompt cache too.
        """
        messages = list(request.messages)
        if self.prompt_cache == "auto" and messages and messages[0].get("role") == "system":
            # One tokenizer count per distinct rubric, not per request: a pool shares one rubric.
            key = json.dumps(messages[0], sort_keys=True)
            if key not in self._marked_system:
                self._marked_system[key] = mark_rubric_cacheable([messages[0]], self.model_id)[0]
            messages[0] = self._marked_system[key]
        return {"custom_id": custom_id, "params": anthropic_params(
            wire_model_name(self.model_id), request, messages=messages, rules_model=self.model_id
        )}

    async def submit(self, requests_file: Path, *, job_token: str) -> str:
        """POST every line of ``requests_file`` as one batch; returns its id.

        Message Batches take no metadata, so ``job_token`` cannot be attached.
        """
        lines = [line for line in requests_file.read_bytes().split(b"\n") if line.strip()]
        body = b'{"requests":[' + b",".join(lines) + b"]}"
        del lines
        created = await self._json("POST", self.batches_url, data=body, headers={"content-type": "application/json"})
        return str(created["id"])

    async def find_submitted(self, job_token: str, *, requests: int, not_before: float, known: set[str]) -> str | None:
        """The one batch created since ``not_before`` with ``requests`` requests and not in ``known``.

        Message Batches take no metadata, so a batch is recognised by when it was made and its
        size; the newest 1,000 batches are searched.

        Raises:
            ConfigurationError: more than one batch matches (which one is ours cannot be told).
        """
        import datetime as dt

        from distilleval.errors import ConfigurationError

        matches: list[str] = []
        after: str | None = None
        for _ in range(10):
            params = {"limit": "100"} | ({"after_id": after} if after else {})
            page = await self._json("GET", self.batches_url, params=params)
            batches = page.get("data") or []
            for batch in batches:
                created = dt.datetime.fromisoformat(str(batch.get("created_at")).replace("Z", "+00:00")).timestamp()
                counts = batch.get("request_counts") or {}
                if created >= not_before and sum(int(v or 0) for v in counts.values()) == requests and batch["id"] not in known:
                    matches.append(str(batch["id"]))
            oldest = batches[-1].get("created_at") if batches else None
            if not page.get("has_more") or not batches or (
                oldest and dt.datetime.fromisoformat(str(oldest).replace("Z", "+00:00")).timestamp() < not_before
            ):
                break
            after = page.get("last_id") or batches[-1]["id"]
        if len(matches) > 1:
            raise ConfigurationError(
                f"{self.model_id}: a submission of {requests} requests was interrupted before its batch id came back, "
                f"and {len(matches)} batches ({', '.join(matches)}) could be it; cancel the extra ones in Anthropic's "
                "console, then run again"
            )
        return matches[0] if matches else None

    async def status(self, batch_id: str) -> BatchStatus:
        """``GET /v1/messages/batches/{id}``: processing status and request counts."""
        batch = await self._json("GET", f"{self.batches_url}/{batch_id}")
        counts = {key: int(value or 0) for key, value in (batch.get("request_counts") or {}).items()}
        state = str(batch.get("processing_status"))
        done = sum(counts.get(key, 0) for key in ("succeeded", "errored", "canceled", "expired"))
        return BatchStatus(ended=state == "ended", state=state, done=done, total=done + counts.get("processing", 0))

    async def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """The results file's lines, streamed."""
        batch = await self._json("GET", f"{self.batches_url}/{batch_id}")
        url = batch.get("results_url")
        if not url:
            return
        async for line in self._jsonl(url):
            yield self._outcome(line)

    def _outcome(self, line: dict[str, Any]) -> BatchOutcome:
        custom_id = str(line.get("custom_id"))
        result = line.get("result") or {}
        kind = result.get("type")
        if kind == "succeeded":
            message = result.get("message") or {}
            usage = message.get("usage") or {}
            cached = int(usage.get("cache_read_input_tokens") or 0)
            written = int(usage.get("cache_creation_input_tokens") or 0)
            texts = [block.get("text", "") for block in message.get("content") or [] if block.get("type") == "text"]
            try:
                text = checked_answer(
                    self.model_id, "".join(texts) if texts else None,
                    finish_reason=normalise_finish_reason(message.get("stop_reason")),
                )
            except BackendError as err:
                return BatchOutcome(custom_id, error=err)
            completion = Completion(
                text=text,
                input_tokens=int(usage.get("input_tokens") or 0) + cached + written,
                output_tokens=int(usage.get("output_tokens") or 0),
                latency_ms=None,
                cost_usd=0.0,
                cached_input_tokens=cached,
                cache_write_tokens=written,
                finish_reason=normalise_finish_reason(message.get("stop_reason")),
            )
            return BatchOutcome(custom_id, completion=completion)
        if kind == "errored":
            detail = ((result.get("error") or {}).get("error")) or result.get("error") or {}
            error_kind = _ERROR_KINDS.get(str(detail.get("type")), "error")
            message = str(detail.get("message") or detail.get("type") or "errored")
            if is_quota_error(message):
                return BatchOutcome(custom_id, error=quota_error(self.model_id, message))
            return BatchOutcome(custom_id, error=BackendError(f"{self.model_id}: {message}", kind=error_kind))
        label = {"expired": "expired", "canceled": "canceled"}.get(str(kind), "error")
        return BatchOutcome(
            custom_id, error=BackendError(f"{self.model_id}: the batch request was {kind or 'not answered'}", kind=label)
        )
