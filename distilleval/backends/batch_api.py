"""Provider batch APIs, the provider-neutral part: what a batch job is, and which models have one.

OpenAI's Batch API (a JSONL file of requests, then a batch over it) and Anthropic's Message
Batches (the requests in one POST) both take a whole pool as one job, run it within 24 hours
and bill at the batch tier. ``batch_openai`` and ``batch_anthropic`` speak their HTTP shapes
with aiohttp; ``batch_factory.batch_client_for`` picks one for a model, and ``check_batch_capable``
says clearly when a model has none.
The job orchestration (submit once, persist, poll, map back) is ``distilleval.run.batch``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from distilleval.backends.base import ChatRequest, Completion
from distilleval.errors import BackendError, ConfigurationError

BATCH_PROVIDERS = ("openai", "anthropic")


@dataclass(frozen=True)
class BatchStatus:
    """Where a submitted batch stands.

    Attributes:
        ended: the provider will process nothing more (completed, expired, failed, cancelled).
        state: the provider's own status word (``in_progress``, ``completed``, ``ended``, ...).
        done: requests finished so far (succeeded or failed).
        total: requests in the batch.
    """

    ended: bool
    state: str
    done: int
    total: int


@dataclass(frozen=True)
class BatchOutcome:
    """One request's result as the provider returned it: a completion or an error."""

    custom_id: str
    completion: Completion | None = None
    error: BackendError | None = None


class BatchClient(Protocol):
    """One provider's batch endpoints. ``max_requests`` / ``max_bytes`` bound one batch."""

    provider: str
    max_requests: int
    max_bytes: int

    def request_line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        """The JSON object that asks for ``request`` under ``custom_id`` in a batch."""
        ...

    async def submit(self, requests_file: Path, *, job_token: str) -> str:
        """Submit the JSONL file of request lines as one batch; returns the batch id."""
        ...

    async def find_submitted(self, job_token: str, *, requests: int, not_before: float, known: set[str]) -> str | None:
        """The id of the batch a submission interrupted before its id came back made, if it made one.

        Args:
            job_token: the token the submission was tagged with (where the provider keeps one).
            requests: how many requests it held.
            not_before: a Unix time before the submission started.
            known: batch ids already recorded (never the answer).

        Returns:
            The batch id; None when no such batch exists.

        Raises:
            ConfigurationError: the provider's batches cannot be told apart safely.
        """
        ...

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's current status."""
        ...

    def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """Every result the provider returns for an ended batch (expired and failed requests included)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class BatchHTTP:
    """The HTTP plumbing both batch clients share: one aiohttp session, JSON calls, JSONL downloads.

    Args:
        model_id: the spec's model id, for error messages.
        headers: sent with every request (the key lives only here; never logged).
    """

    def __init__(self, model_id: str, headers: dict[str, str]):
        self.model_id = model_id
        self._headers = headers
        self._session: Any = None

    def _http(self) -> Any:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=1800, sock_connect=30)
            )
        return self._session

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One call whose answer is JSON; an HTTP error becomes a ``BackendError``."""
        import json

        async with self._http().request(method, url, **kwargs) as response:
            text = await response.text()
            if response.status >= 400:
                raise http_error(response.status, text, f"{self.model_id}: {method} {url}")
            return json.loads(text)

    async def _jsonl(self, url: str) -> AsyncIterator[dict[str, Any]]:
        """The objects of a JSONL download, read in chunks (no line-length limit, never the whole file in memory)."""
        import json

        async with self._http().get(url) as response:
            if response.status >= 400:
                raise http_error(response.status, await response.text(), f"{self.model_id}: GET {url}")
            pending = b""
            async for chunk in response.content.iter_chunked(1 << 16):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    if line.strip():
                        yield json.loads(line)
            if pending.strip():
                yield json.loads(pending)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def provider_name(model_id: str) -> str:
    """The provider prefix of a model id (``openai`` for a bare name such as ``gpt-4.1``)."""
    return model_id.split("/", 1)[0] if "/" in model_id else "openai"


def wire_model_name(model_id: str) -> str:
    """The model name the provider's own API expects: the id without its provider prefix."""
    return model_id.split("/", 1)[1] if "/" in model_id else model_id


def check_batch_capable(role: str, model_id: str) -> None:
    """Raise a one-line ``ConfigurationError`` naming the model when its provider has no batch API here."""
    provider = provider_name(model_id)
    if model_id.startswith("tinker://") or provider not in BATCH_PROVIDERS:
        raise ConfigurationError(
            f"--batch: the {role} model {model_id!r} has no provider batch API in distilleval "
            f"(supported: {', '.join(p + '/' for p in BATCH_PROVIDERS)} models); leave --batch off for it "
            "(e.g. --models to run only the batch-capable roles)"
        )


def http_error(status: int, body: str, where: str) -> BackendError:
    """A ``BackendError`` for a failed batch-endpoint HTTP call, its kind from the status code."""
    from distilleval.errors import AuthenticationError, RateLimitedError, ServiceUnavailableError

    message = f"{where}: HTTP {status}: {body[:300]}"
    if status in (401, 403):
        return AuthenticationError(message)
    if status == 429:
        return RateLimitedError(message)
    if status >= 500:
        return ServiceUnavailableError(message)
    return BackendError(message, kind="not_found" if status == 404 else "bad_request")


def error_kind_for_status(status: int) -> str:
    """The run-store error kind of one batch request that came back with HTTP ``status``."""
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "unavailable"
    return "bad_request"
