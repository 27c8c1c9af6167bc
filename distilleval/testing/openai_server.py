"""A scripted chat server on 127.0.0.1 speaking the OpenAI, Anthropic and Gemini APIs, for tests and benchmarks.

It serves ``POST /v1/chat/completions`` (OpenAI), ``POST /v1/messages`` (Anthropic) and
``POST /v1beta/models/{model}:generateContent`` (Gemini) from a background thread, so sync
tests, asyncio tests and subprocesses (``distilleval eval`` in a child process) can all call it
over real HTTP; ``provider_shapes`` holds each API's request and response format. Each model
name gets a script: the answer (fixed text or a function of the prompt), the usage block
(cached and cache-written input tokens included), a delay, and faults. An answer longer than
the request's ``max_tokens`` (one word per token) is cut there and reported with the
provider's "length" finish reason. Every request is logged.

Usage::

    from distilleval.testing.openai_server import OpenAIServer, ModelScript, random_faults

    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer=lambda prompt: "billing", delay_ms=450))
        server.script("student", ModelScript(answer="billing", faults=random_faults(0.2, seed=1)))
        ...  # point a client at server.base_url ("http://127.0.0.1:<port>/v1")
        ok_calls = [r for r in server.log if r.outcome == "ok"]

The model name is the request's ``model`` field (LiteLLM sends ``openai/teacher`` as
``teacher``; Gemini's is in the URL). The prompt a script sees is the text of the system
block and all messages joined by newlines (text parts only). ``server.api_base(provider)`` is the
``api_base`` LiteLLM needs for each route.
Fault kinds (``FAULT_KINDS``): ``rate_limit`` (429 with ``Retry-After``), ``server_error``
(500), ``slow`` (answers only after ``ModelScript.slow_s``, past any sane client timeout),
``malformed`` (200 with a truncated JSON body), ``drop`` (closes the connection unanswered).
Like the real services, a request a model refuses gets 400 ``unsupported_parameter``:
``max_tokens`` or ``temperature`` for the GPT-5 family, sampling parameters for Claude models
that take none, a thinking budget Anthropic would refuse (``provider_shapes.openai_rejection``,
``anthropic_rejection``).
A fault decider is a function ``(prompt, attempt) -> fault kind | None`` where ``attempt``
counts this prompt's earlier requests to this model (0 on the first); ``random_faults(rate)``
and ``fail_first(kind, attempts)`` build the common ones. ``api_key="..."`` makes the server
answer 401 to any other Bearer token; an unscripted model name gets 404.

``server.log`` holds one ``LoggedRequest`` per request: ``outcome == "ok"`` means a
completion was sent (what a provider would bill), anything else names the fault.
``server.counts`` counts requests by ``(model, outcome)`` and ``server.first_received_at`` /
``server.last_finished_at`` stamp the first request and the last answer, whether or not the log is kept.
For a million requests, ``keep_log=False`` keeps memory flat: no log, and attempts are then
counted only for models whose script has a fault decider (the only thing that reads them).
``ServerProcess`` runs fixed scripts in a child process, for timing without sharing a GIL.

Run it standalone (benchmarks run it in its own process)::

    python -m distilleval.testing.openai_server --delay-ms 0 --answer ok
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from distilleval.testing.provider_shapes import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    Shape,
    Usage,
    anthropic_rejection,
    gemini_thinking_tokens,
    openai_rejection,
    prompt_text,
)

__all__ = ["FAULT_KINDS", "NAMED_FAULT_KINDS", "LoggedRequest", "ModelScript", "OpenAIServer", "ServerProcess", "fail_first", "prompt_text",
           "random_faults"]

FAULT_KINDS = ("rate_limit", "server_error", "slow", "malformed", "drop")
# Faults only ever injected by name (never drawn by ``random_faults`` unless listed): an account
# out of quota (OpenAI 429 ``insufficient_quota``, Anthropic 400 credit balance), an answer whose
# content is null, and a refusal (OpenAI: ``content`` null with ``refusal`` set).
NAMED_FAULT_KINDS = ("quota", "null_content", "refusal")

Answer = str | Callable[[str], str]
FaultDecider = Callable[[str, int], str | None]


@dataclass
class ModelScript:
    """How the server answers one model name.

    Attributes:
        answer: the reply text, or a function from the prompt to the reply text.
        delay_ms: time to wait before answering (simulated model latency).
        usage: ``(prompt_tokens, completion_tokens)`` to report, prompt tokens counting every
            input token; default: whitespace word counts of the prompt and the answer.
        cached_tokens: input tokens reported as read from the prompt cache (part of the prompt tokens).
        cache_write_tokens: input tokens reported as written to the cache (Anthropic shape only).
        faults: decides, per request, whether to inject a fault (see module docstring).
        retry_after_s: the ``Retry-After`` header sent with a ``rate_limit`` fault (None: omit it).
        slow_s: how long a ``slow`` fault stalls before answering.
        thinking_tokens: tokens a Gemini-shaped thinking model spends before answering (None: its
            whole ``thinkingBudget``, or ``GEMINI_DEFAULT_THINKING_TOKENS`` when none is set);
            they come out of ``maxOutputTokens``, as Gemini's do.
        served_model: ``(model, system_fingerprint)`` an OpenAI-shaped answer names (None: the
            requested model and no fingerprint).
        logprob: the log-probability of every answer token sent when a request asks for
            ``logprobs`` (OpenAI shape only), or a function from the prompt to it; so an answer's
            confidence, exp(mean token log-probability), is exactly exp(logprob).
    """

    answer: Answer = "ok"
    delay_ms: float = 0.0
    usage: tuple[int, int] | None = None
    faults: FaultDecider | None = None
    retry_after_s: float | None = 0.05
    slow_s: float = 30.0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    thinking_tokens: int | None = None
    served_model: tuple[str, str] | None = None
    logprob: float | Callable[[str], float] = 0.0


@dataclass
class LoggedRequest:
    """One request the server received.

    Attributes:
        model: the ``model`` field of the request body ("" if the body was unreadable).
        prompt: the text of the messages joined by newlines.
        attempt: how many earlier requests carried the same (model, prompt).
        outcome: ``"ok"`` (a completion was sent), a fault kind, or ``"unknown_model"``,
            ``"unauthorized"``, ``"bad_request"``.
        status: HTTP status sent (None for a dropped connection or a client that left).
        body: the parsed request body (the API key is never in it; headers are not logged).
        received_at / finished_at: ``time.monotonic()`` stamps.
    """

    model: str
    prompt: str
    attempt: int
    outcome: str
    status: int | None
    body: dict[str, Any] = field(repr=False, default_factory=dict)
    received_at: float = 0.0
    finished_at: float | None = None


def random_faults(rate: float, kinds: tuple[str, ...] = FAULT_KINDS, *, seed: int = 0) -> FaultDecider:
    """A decider that injects a fault into ``rate`` of requests, drawn from ``kinds``.

    The draw is a seeded function of (prompt, attempt), so a run is reproducible whatever
    order the requests arrive in.
    """
    unknown = set(kinds) - set(FAULT_KINDS) - set(NAMED_FAULT_KINDS)
    if unknown:
        raise ValueError(f"unknown fault kinds {sorted(unknown)}; expected some of {FAULT_KINDS + NAMED_FAULT_KINDS}")

    def decide(prompt: str, attempt: int) -> str | None:
        draw = random.Random(f"{seed}|{attempt}|{prompt}")
        if draw.random() < rate:
            return draw.choice(kinds)
        return None

    return decide


def fail_first(kind: str, attempts: int = 1) -> FaultDecider:
    """A decider that injects ``kind`` into the first ``attempts`` requests of every prompt."""
    if kind not in FAULT_KINDS + NAMED_FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS + NAMED_FAULT_KINDS}")
    return lambda prompt, attempt: kind if attempt < attempts else None


class OpenAIServer:
    """The server. Use as a context manager, or call ``start()`` / ``stop()``.

    Args:
        scripts: model name -> script; more can be added later with ``script()``.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
        default: the script for model names without one (None: unknown models get 404).
        port: 0 picks a free port.
        keep_log: keep ``log`` (one ``LoggedRequest`` per request, body included); ``False``
            keeps only ``counts`` and memory stays flat however many requests come.
    """

    def __init__(
        self,
        scripts: dict[str, ModelScript] | None = None,
        *,
        api_key: str | None = None,
        default: ModelScript | None = None,
        port: int = 0,
        keep_log: bool = True,
    ):
        self._scripts: dict[str, ModelScript] = dict(scripts or {})
        self._default = default
        self._api_key = api_key
        self._requested_port = port
        self._keep_log = keep_log
        self._attempts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.log: list[LoggedRequest] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.first_received_at: float | None = None
        self.last_finished_at: float | None = None
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- scripting -------------------------------------------------------------------------

    def script(self, model: str, script: ModelScript) -> None:
        """Set (or replace) the script of ``model``."""
        self._scripts[model] = script

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: what a client takes as ``api_base``."""
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def api_base(self, provider: str = "openai") -> str:
        """The ``api_base`` a LiteLLM ``openai/``, ``anthropic/`` or ``gemini/`` model takes to reach this server."""
        root = self.base_url.removesuffix("/v1")
        return {"openai": self.base_url, "anthropic": root, "gemini": f"{root}/v1beta"}[provider]

    def requests_for(self, model: str, outcome: str | None = None) -> list[LoggedRequest]:
        """Logged requests for ``model``, optionally only those with ``outcome``."""
        return [r for r in list(self.log) if r.model == model and (outcome is None or r.outcome == outcome)]

    def clear_log(self) -> None:
        """Forget logged requests, outcome counts, the first/last stamps and attempt counts."""
        with self._lock:
            self.log.clear()
            self.counts.clear()
            self.first_received_at = self.last_finished_at = None
            self._attempts.clear()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "OpenAIServer":
        """Start serving in a background thread; returns when the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind())
            except BaseException as err:  # surfaced to the caller of start()
                failure.append(err)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="openai-test-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> "OpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _bind(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._route(OPENAI))
            app.router.add_post(f"{prefix}/messages", self._route(ANTHROPIC))
        for prefix in ("/v1beta", ""):
            app.router.add_post(prefix + "/models/{target}", self._route(GEMINI))
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # -- handling --------------------------------------------------------------------------

    def _record(self, entry: LoggedRequest) -> None:
        if self._keep_log:
            self.log.append(entry)

    def _counts_attempts(self, model: str) -> bool:
        """Whether requests to ``model`` need their attempt number: for the log, or for its fault decider."""
        script = self._scripts.get(model, self._default)
        return self._keep_log or (script is not None and script.faults is not None)

    def _route(self, shape: Shape) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, shape)

        return handle

    async def _handle(self, request: web.Request, shape: Shape) -> web.StreamResponse:
        received = time.monotonic()
        if self.first_received_at is None:
            self.first_received_at = received
        url_model = None
        if shape is GEMINI:
            url_model, _, action = request.match_info["target"].partition(":")
            if action != "generateContent":
                return _error(shape, 404, "not_found", f"no method {action!r}")
        try:
            body = await request.json()
            model, prompt, max_tokens = shape.parse(body, url_model)
        except (ValueError, KeyError, TypeError, AttributeError):
            self._record(LoggedRequest("", "", 0, "bad_request", 400, received_at=received, finished_at=time.monotonic()))
            self.counts["", "bad_request"] += 1
            return _error(shape, 400, "invalid_request_error", "the body needs a model and messages")
        attempt = 0
        if self._counts_attempts(model):
            with self._lock:
                attempt = self._attempts.get((model, prompt), 0)
                self._attempts[(model, prompt)] = attempt + 1
        entry = LoggedRequest(model, prompt, attempt, "ok", None, body=body, received_at=received)
        self._record(entry)
        try:
            return await self._respond(request, entry, shape, max_tokens)
        finally:
            entry.finished_at = self.last_finished_at = time.monotonic()
            self.counts[entry.model, entry.outcome] += 1

    def _authorized(self, request: web.Request) -> bool:
        if self._api_key is None:
            return True
        return self._api_key in (
            request.headers.get("Authorization", "").removeprefix("Bearer "),
            request.headers.get("x-api-key"),
            request.headers.get("x-goog-api-key"),
            request.query.get("key"),
        )

    async def _respond(
        self, request: web.Request, entry: LoggedRequest, shape: Shape, max_tokens: int | None
    ) -> web.StreamResponse:
        if not self._authorized(request):
            entry.outcome, entry.status = "unauthorized", 401
            return _error(shape, 401, "invalid_api_key", "Incorrect API key provided")
        script = self._scripts.get(entry.model, self._default)
        if script is None:
            entry.outcome, entry.status = "unknown_model", 404
            return _error(shape, 404, "model_not_found", f"The model {entry.model!r} does not exist")
        rejection = {"openai": openai_rejection, "anthropic": anthropic_rejection}.get(shape.name, lambda body: None)(entry.body)
        if rejection is not None:
            entry.outcome, entry.status = "unsupported_parameter", 400
            return _error(shape, 400, "unsupported_parameter", rejection)
        fault = script.faults(entry.prompt, entry.attempt) if script.faults else None
        if script.delay_ms:
            await asyncio.sleep(script.delay_ms / 1000)
        if fault == "rate_limit":
            entry.outcome, entry.status = fault, 429
            return _error(shape, 429, "rate_limit_exceeded", "Rate limit reached, try again later", script.retry_after_s)
        if fault == "quota":
            entry.outcome = fault
            if shape is ANTHROPIC:
                entry.status = 400
                return _error(shape, 400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API.")
            entry.status = 429
            return _error(shape, 429, "insufficient_quota", "You exceeded your current quota, please check your plan and billing details.")
        if fault == "server_error":
            entry.outcome, entry.status = fault, 500
            return _error(shape, 500, "server_error", "The server had an error processing your request")
        if fault == "drop":
            entry.outcome = fault
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=200)  # never reaches the client: the socket is gone
        if fault == "slow":
            entry.outcome = fault
            await asyncio.sleep(script.slow_s)
        answer = script.answer(entry.prompt) if callable(script.answer) else script.answer
        words = answer.split()
        thoughts = gemini_thinking_tokens(entry.body, entry.model, script.thinking_tokens) if shape is GEMINI else 0
        if max_tokens is not None and thoughts:
            thoughts = min(thoughts, max_tokens)  # thinking is cut at the limit too
            max_tokens -= thoughts
        truncated = max_tokens is not None and len(words) > max_tokens
        if truncated:
            # One word per token: an answer longer than max_tokens is cut, as a model's would be.
            answer = " ".join(words[:max_tokens])
        if script.usage is not None:
            prompt_tokens, completion_tokens = script.usage
        else:
            prompt_tokens, completion_tokens = len(entry.prompt.split()), max(1, len(answer.split()))
        if thoughts and not answer:
            completion_tokens = 0
        usage = Usage(prompt_tokens, completion_tokens, script.cached_tokens, script.cache_write_tokens, thoughts)
        payload = shape.completion(entry.model, answer, truncated, usage)
        if script.served_model is not None and shape is OPENAI:
            # The provider names the dated version that answered, as OpenAI does ("gpt-4.1-2025-04-14").
            payload["model"], payload["system_fingerprint"] = script.served_model
        if shape is OPENAI and entry.body.get("logprobs") is True:
            logprob = script.logprob(entry.prompt) if callable(script.logprob) else script.logprob
            payload["choices"][0]["logprobs"] = {"content": [
                {"token": word, "logprob": float(logprob), "bytes": list(word.encode("utf-8")), "top_logprobs": []}
                for word in answer.split()
            ], "refusal": None}
        if fault in ("null_content", "refusal"):
            entry.outcome = fault
            _blank_answer(shape, payload, refusal="I can't help with that." if fault == "refusal" else None)
        text = json.dumps(payload)
        if fault == "malformed":
            entry.outcome = fault
            text = text[: len(text) // 2]
        entry.status = 200
        return web.Response(text=text, content_type="application/json")


def _blank_answer(shape: Shape, payload: dict[str, Any], *, refusal: str | None) -> None:
    """Make ``payload`` a response with no answer text, in ``shape``'s form (OpenAI: content null, maybe a refusal)."""
    if shape is OPENAI:
        payload["choices"][0]["message"]["content"] = None
        if refusal is not None:
            payload["choices"][0]["message"]["refusal"] = refusal
    elif shape is ANTHROPIC:
        payload["content"] = []
        if refusal is not None:
            payload["stop_reason"] = "refusal"
    else:
        payload["candidates"][0]["content"] = {"role": "model"}


def _error(shape: Shape, status: int, code: str, message: str, retry_after_s: float | None = None) -> web.Response:
    body, headers = shape.error(status, code, message, retry_after_s)
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def _model_option(value: str) -> tuple[str, float, str]:
    name, _, rest = value.partition("=")
    delay, _, answer = rest.partition(":")
    if not name or not delay:
        raise argparse.ArgumentTypeError(f"expected NAME=DELAY_MS[:ANSWER], got {value!r}")
    return name, float(delay), answer or "ok"


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; print the base URL on the first line of stdout."""
    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--answer", default="ok", help="answer for models without --model")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay for models without --model")
    parser.add_argument("--model", type=_model_option, action="append", default=[], metavar="NAME=DELAY_MS[:ANSWER]")
    args = parser.parse_args(argv)
    scripts = {name: ModelScript(answer=answer, delay_ms=delay) for name, delay, answer in args.model}
    default = ModelScript(answer=args.answer, delay_ms=args.delay_ms)
    server = OpenAIServer(scripts, default=default, port=args.port, keep_log=False)
    server.start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


class ServerProcess:
    """The server in its own process (fixed answers and delays only; no request log).

    Use it where the client's timing must not share a GIL with the server: latency checks
    and benchmarks. ``models`` maps a model name to ``(delay_ms, answer)``.
    """

    def __init__(self, models: dict[str, tuple[float, str]] | None = None, *, delay_ms: float = 0.0, answer: str = "ok"):
        self._argv = [sys.executable, "-m", "distilleval.testing.openai_server", "--delay-ms", str(delay_ms), "--answer", answer]
        for name, (delay, text) in (models or {}).items():
            self._argv += ["--model", f"{name}={delay}:{text}"]
        self._process: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> "ServerProcess":
        # The child must import this very package, wherever the caller's working directory is.
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self._process = subprocess.Popen(self._argv, stdout=subprocess.PIPE, text=True, env=env)
        line = self._process.stdout.readline() if self._process.stdout else ""
        if not line.startswith("http://"):
            self._process.kill()
            raise RuntimeError(f"the test server did not start (printed {line!r})")
        self.base_url = line.strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


if __name__ == "__main__":
    main()
