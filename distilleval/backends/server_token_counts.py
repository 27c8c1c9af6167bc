"""Count a request's input tokens as the model's own server does: its chat template and tokenizer.

A model served on an OpenAI-compatible server the spec points at (``api_base``: llama.cpp,
vLLM) is asked to render and count each request itself, so the count includes whatever the
template adds (a default system prompt, turn markers) and uses the model's tokenizer:

- llama.cpp: ``POST /apply-template`` renders the messages with the template the server was
  started with, then ``POST /tokenize`` counts the rendered prompt (special tokens included,
  as the chat endpoint does);
- vLLM: ``POST /tokenize`` with the messages renders and counts in one call.

A server that offers neither (Ollama, a hosted API) gets no counter here; the caller falls back
to the local tokenizer and names that basis, with the reason this module gives.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distilleval.costs.tokens import TokenCounter
from distilleval.errors import ServiceUnavailableError
from distilleval.spec.task_spec import ModelSpec

PROBE_TIMEOUT_S = 5.0


class _NoAnswer(Exception):
    """The server did not answer a request with a usable JSON body."""


@dataclass
class _ServerClient:
    """One keep-alive HTTP connection to the server's root (the ``api_base`` without ``/v1``)."""

    root: str
    timeout_s: float = PROBE_TIMEOUT_S

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.root)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise _NoAnswer(f"not an http(s) URL: {self.root}")
        connection_type = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        self._connection = connection_type(parsed.hostname, parsed.port, timeout=self.timeout_s)
        self._prefix = parsed.path.rstrip("/")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path``; the JSON object answered with status 200."""
        payload = json.dumps(body).encode()
        try:
            self._connection.request("POST", self._prefix + path, body=payload,
                                     headers={"Content-Type": "application/json"})
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as err:
            self._connection.close()
            raise _NoAnswer(f"{path}: {err.__class__.__name__}") from None
        if response.status != 200:
            raise _NoAnswer(f"{path}: HTTP {response.status}")
        try:
            answer = json.loads(data)
        except ValueError:
            raise _NoAnswer(f"{path}: not JSON") from None
        if not isinstance(answer, dict):
            raise _NoAnswer(f"{path}: not a JSON object")
        return answer


def server_root(api_base: str) -> str:
    """The server's root URL: ``api_base`` without a trailing ``/v1`` (where the template endpoints live)."""
    root = api_base.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _plain_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _llama_cpp_counter(client: _ServerClient, where: str) -> TokenCounter:
    def count_text(text: str, *, add_special: bool) -> int:
        answer = client.post("/tokenize", {"content": text, "add_special": add_special})
        tokens = answer.get("tokens")
        if not isinstance(tokens, list):
            raise _NoAnswer("/tokenize: no tokens in the answer")
        return len(tokens)

    def count_request(messages: Sequence[dict[str, Any]]) -> int:
        prompt = client.post("/apply-template", {"messages": _plain_messages(messages)}).get("prompt")
        if not isinstance(prompt, str):
            raise _NoAnswer("/apply-template: no prompt in the answer")
        return count_text(prompt, add_special=True)

    return TokenCounter(f"the chat template and tokenizer of the llama.cpp server at {where}", count_request,
                        lambda text: count_text(text, add_special=False))


def _vllm_counter(client: _ServerClient, model_name: str, where: str) -> TokenCounter:
    def count(body: dict[str, Any]) -> int:
        value = client.post("/tokenize", {"model": model_name, **body}).get("count")
        if not isinstance(value, int):
            raise _NoAnswer("/tokenize: no count in the answer")
        return value

    return TokenCounter(
        f"the chat template and tokenizer of the vLLM server at {where}",
        lambda messages: count({"messages": _plain_messages(messages), "add_generation_prompt": True}),
        lambda text: count({"prompt": text, "add_special_tokens": False}),
    )


@dataclass(frozen=True)
class ServerCounting:
    """The outcome of asking a model's server to count: a counter, or why there is none."""

    counter: TokenCounter | None
    reason: str | None = None


def server_token_counter(model: ModelSpec, *, image_inputs: bool = False) -> ServerCounting:
    """A counter that asks ``model``'s own server (its ``api_base``) to render and count each request.

    Tries llama.cpp's ``/apply-template`` + ``/tokenize``, then vLLM's ``/tokenize`` with
    messages, on a one-message conversation first. Only text requests are counted this way.

    Returns:
        ``ServerCounting(counter)``, or ``ServerCounting(None, reason)`` when the model has no
        ``api_base``, the spec sends images, or the server offers neither endpoint.
    """
    if not model.api_base:
        return ServerCounting(None, "no api_base")
    if image_inputs:
        return ServerCounting(None, "image inputs are not counted through a server's template endpoints")
    try:
        client = _ServerClient(server_root(model.api_base))
    except _NoAnswer as err:
        return ServerCounting(None, str(err))
    trial = [{"role": "user", "content": "x"}]
    candidates = (
        _llama_cpp_counter(client, model.api_base),
        _vllm_counter(client, model.model.split("/", 1)[-1], model.api_base),
    )
    failures = []
    for counter in candidates:
        try:
            counter.count_request(trial)
            counter.count_answer("x")
        except _NoAnswer as err:
            failures.append(str(err))
            continue
        return ServerCounting(_failing_loudly(counter))
    return ServerCounting(None, f"the server at {model.api_base} counts no chat request "
                                f"(llama.cpp /apply-template, vLLM /tokenize: {'; '.join(failures)})")


class ServerCountingError(ServiceUnavailableError):
    """The server answered the trial count, then stopped answering in the middle of a count (exit 2)."""


def _failing_loudly(counter: TokenCounter) -> TokenCounter:
    """The same counter, raising ``ServerCountingError`` (with the server's reason) instead of ``_NoAnswer``."""
    def guard(count):
        def counted(value):
            try:
                return count(value)
            except _NoAnswer as err:
                raise ServerCountingError(f"{counter.name}: {err}") from None
        return counted

    return TokenCounter(counter.name, guard(counter.count_request), guard(counter.count_answer))
