"""OpenAI's Batch API over aiohttp: upload a JSONL file, create a batch over it, poll, download.

Endpoints (relative to the ``api_base``, ``https://api.openai.com/v1`` by default):
``POST /files`` (multipart, ``purpose=batch``), ``POST /batches``, ``GET /batches/{id}``,
``GET /batches`` (to find a batch by its metadata after an interrupted submission) and
``GET /files/{id}/content`` for the output and error files. A batch holds at most 50,000
requests and a 200 MB file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from distilleval.backends._http import (
    TOKEN_LOGPROBS_BASIS,
    answer_confidence,
    chat_body,
    checked_answer,
    is_quota_error,
    normalise_finish_reason,
    quota_error,
    read_usage,
    served_model,
)
from distilleval.backends.base import ChatRequest, Completion
from distilleval.backends.batch_api import BatchHTTP, BatchOutcome, BatchStatus, error_kind_for_status, wire_model_name
from distilleval.errors import BackendError

DEFAULT_API_BASE = "https://api.openai.com/v1"
CHAT_ENDPOINT = "/v1/chat/completions"
ENDED_STATES = ("completed", "failed", "expired", "cancelled")
JOB_METADATA_KEY = "distilleval_job"


class OpenAIBatchClient(BatchHTTP):
    """The batch endpoints of one OpenAI (or OpenAI-shaped) service, for one model."""

    provider = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, model_id: str, *, api_base: str | None, api_key: str | None):
        super().__init__(model_id, {"Authorization": f"Bearer {api_key}"} if api_key else {})
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")

    def request_line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        """One line of the batch input file: the same chat body the online path sends."""
        return {
            "custom_id": custom_id,
            "method": "POST",
            "url": CHAT_ENDPOINT,
            "body": chat_body(wire_model_name(self.model_id), request, rules_model=self.model_id),
        }

    async def submit(self, requests_file: Path, *, job_token: str) -> str:
        """Upload ``requests_file`` and create a batch over it, tagged with ``job_token``; returns its id."""
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        with open(requests_file, "rb") as handle:
            form.add_field("file", handle, filename=requests_file.name, content_type="application/jsonl")
            uploaded = await self._json("POST", f"{self.api_base}/files", data=form)
        created = await self._json(
            "POST",
            f"{self.api_base}/batches",
            json={
                "input_file_id": uploaded["id"],
                "endpoint": CHAT_ENDPOINT,
                "completion_window": "24h",
                "metadata": {JOB_METADATA_KEY: job_token},
            },
        )
        return str(created["id"])

    async def find_submitted(self, job_token: str, *, requests: int, not_before: float, known: set[str]) -> str | None:
        """The batch created with ``job_token`` in its metadata, searching the newest 1,000 batches."""
        after: str | None = None
        for _ in range(10):
            params = {"limit": "100"} | ({"after": after} if after else {})
            page = await self._json("GET", f"{self.api_base}/batches", params=params)
            for batch in page.get("data", []):
                if (batch.get("metadata") or {}).get(JOB_METADATA_KEY) == job_token:
                    return str(batch["id"])
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1]["id"]
        return None

    async def status(self, batch_id: str) -> BatchStatus:
        """``GET /batches/{id}``: status word and request counts."""
        batch = await self._json("GET", f"{self.api_base}/batches/{batch_id}")
        counts = batch.get("request_counts") or {}
        state = str(batch.get("status"))
        done = int(counts.get("completed") or 0) + int(counts.get("failed") or 0)
        return BatchStatus(ended=state in ENDED_STATES, state=state, done=done, total=int(counts.get("total") or 0))

    async def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """The output file's lines, then the error file's; for a batch that failed as a whole
        (``status: failed``, no output), one ``batch_failed`` error per request of its input file,
        carrying the reason from ``errors.data`` (the entry naming the request's line, else the
        batch's own reason, e.g. ``token_limit_exceeded``)."""
        batch = await self._json("GET", f"{self.api_base}/batches/{batch_id}")
        for file_key in ("output_file_id", "error_file_id"):
            file_id = batch.get(file_key)
            if not file_id:
                continue
            async for line in self._jsonl(f"{self.api_base}/files/{file_id}/content"):
                yield self._outcome(line)
        reasons = (batch.get("errors") or {}).get("data") or []
        if batch.get("status") == "failed" and not batch.get("output_file_id") and batch.get("input_file_id"):
            number = 0
            async for line in self._jsonl(f"{self.api_base}/files/{batch['input_file_id']}/content"):
                number += 1
                reason = batch_failure_reason(reasons, number)
                yield BatchOutcome(
                    str(line.get("custom_id")),
                    error=BackendError(f"{self.model_id}: the batch {batch_id} failed: {reason}", kind="batch_failed"),
                )

    def _outcome(self, line: dict[str, Any]) -> BatchOutcome:
        custom_id = str(line.get("custom_id"))
        response = line.get("response") or {}
        error = line.get("error")
        status = int(response.get("status_code") or 0)
        if error or status != 200:
            body = response.get("body") or {}
            detail = error or body.get("error") or {}
            code = str(detail.get("code") or detail.get("type") or "")
            message = str(detail.get("message") or f"HTTP {status}")
            if is_quota_error(f"{code} {message}"):
                return BatchOutcome(custom_id, error=quota_error(self.model_id, f"{code}: {message}"))
            kind = "expired" if code == "batch_expired" else error_kind_for_status(status) if status else code or "error"
            return BatchOutcome(custom_id, error=BackendError(f"{self.model_id}: {message}", kind=kind))
        body = response.get("body") or {}
        choice = (body.get("choices") or [{}])[0]
        message_body = choice.get("message") or {}
        usage = read_usage(body.get("usage"))
        finish_reason = normalise_finish_reason(choice.get("finish_reason"))
        confidence = answer_confidence(choice.get("logprobs"))
        try:
            text = checked_answer(
                self.model_id, message_body.get("content"), refusal=message_body.get("refusal"),
                finish_reason=finish_reason, usage=usage,
            )
        except BackendError as err:
            return BatchOutcome(custom_id, error=err)
        completion = Completion(
            text=text,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_ms=None,
            cost_usd=0.0,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            finish_reason=finish_reason,
            reasoning_tokens=usage.reasoning_tokens,
            served_model=served_model(body.get("model"), body.get("system_fingerprint")),
            confidence=confidence,
            confidence_basis=TOKEN_LOGPROBS_BASIS if confidence is not None else None,
        )
        return BatchOutcome(custom_id, completion=completion)


def batch_failure_reason(reasons: list[dict[str, Any]], line_number: int) -> str:
    """``code: message`` of the ``errors.data`` entry for input line ``line_number``, else of the
    entries that name no line (the batch's own reason), joined; "no reason given" when there is none."""
    def text(entry: dict[str, Any]) -> str:
        return f"{entry.get('code') or 'error'}: {' '.join(str(entry.get('message') or '').split())[:200]}"

    for entry in reasons:
        if entry.get("line") == line_number:
            return text(entry)
    general = [text(entry) for entry in reasons if not entry.get("line")]
    return "; ".join(general) if general else "no reason given"
