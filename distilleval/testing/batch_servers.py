"""A local batch server on 127.0.0.1 speaking OpenAI's Batch API and Anthropic's Message Batches.

For tests and benchmarks of ``distilleval.run.batch``. One aiohttp server in a background
thread serves both shapes:

- OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``,
  ``GET /v1/batches`` (newest first, with ``metadata``), ``GET /v1/batches/{id}``,
  ``GET /v1/files/{id}/content`` (output file; error file for failed and expired requests);
  status ``validating`` -> ``in_progress`` -> ``completed`` (``expired`` when some request expired),
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches`` (newest first),
  ``GET /v1/messages/batches/{id}`` and its ``results_url``; ``processing_status`` ``in_progress`` -> ``ended``; result types
  ``succeeded`` / ``errored`` / ``expired``.

A batch stays in progress for ``polls_to_finish`` status checks, then ends. What happens to
each request is decided by its prompt (the text of all its messages joined by newlines):
``answer(prompt)`` is the text, ``fails(prompt)`` makes it an error (HTTP 400 / ``errored``),
``expires(prompt)`` makes it expire, ``drops(prompt)`` leaves it out of the results
altogether. Usage: one token per word of the prompt and of the answer. ``submissions`` lists
``(provider, batch id, request count)`` of every batch created. ``kill_while_polling`` runs a
``distilleval`` command in a child process and SIGKILLs it while it polls. Uploaded files,
request lists and result files are kept in a temporary folder and served from disk, so the
server's memory stays flat however many requests go through it.

Run it standalone (the benchmark runs it in its own process)::

    python -m distilleval.testing.batch_servers --polls 1 --answer billing
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import BodyPartReader, web

from distilleval.testing.provider_shapes import anthropic_rejection, openai_rejection, prompt_text

Decider = Callable[[str], bool]

OPENAI_MAX_REQUESTS = 50_000
ANTHROPIC_MAX_REQUESTS = 100_000


def _never(prompt: str) -> bool:
    return False


@dataclass
class _Batch:
    """One batch: its counts and where its request and result files lie; no request is held in memory."""

    provider: str
    batch_id: str
    total: int
    requests_path: Path
    metadata: dict[str, Any]
    created_at: int
    polls: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    results_path: Path | None = None
    input_file_id: str | None = None
    failed_with: list[dict[str, Any]] | None = None
    ended: bool = False
    expired_any: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)


class _BadBatch(ValueError):
    """A batch the service refuses at creation (HTTP 400)."""


class BatchServer:
    """The server. Use as a context manager, or ``start()`` / ``stop()``.

    Args:
        answer: the answer text for a prompt.
        polls_to_finish: status checks a batch answers "in progress" before it ends.
        fails / expires / drops: which prompts fail, expire, or get no result at all.
        api_key: when set, requests must carry it (OpenAI ``Bearer``, Anthropic ``x-api-key``), else 401.
        fail_batch: an OpenAI batch ends ``failed`` as a whole, with no output file, and these
            ``errors.data`` entries (``{"code", "message", "line"}``), e.g. ``token_limit_exceeded``.

    A request the real model would refuse (``max_tokens`` or ``temperature`` for the GPT-5 family,
    sampling parameters for a Claude model that takes none) fails with 400 / ``errored``, as it would there.

    Memory stays flat however many requests go through: uploaded files, request lists and result
    files live in a temporary folder (removed by ``stop()``) and are streamed from there line by
    line; in memory are only each batch's counts (and, while one is created, the custom ids
    of that one batch, at most 50,000 / 100,000).
    """

    def __init__(
        self,
        *,
        answer: Callable[[str], str] = lambda prompt: "ok",
        polls_to_finish: int = 2,
        fails: Decider = _never,
        expires: Decider = _never,
        drops: Decider = _never,
        api_key: str | None = None,
        fail_batch: list[dict[str, Any]] | None = None,
    ):
        self.fail_batch = fail_batch
        self.answer = answer
        self.polls_to_finish = polls_to_finish
        self.fails = fails
        self.expires = expires
        self.drops = drops
        self.api_key = api_key
        self.submissions: list[tuple[str, str, int]] = []
        self.status_checks = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._files: dict[str, Path] = {}
        self._batches: dict[str, _Batch] = {}
        self._counter = 0
        self._lock = threading.Lock()
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def openai_base(self) -> str:
        """The ``api_base`` of an ``openai/`` model: ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base(self) -> str:
        """The ``api_base`` of an ``anthropic/`` model: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "BatchServer":
        """Serve in a background thread; returns once the port is bound."""
        self._folder = tempfile.TemporaryDirectory(prefix="distilleval-batch-server-")
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._bind())
            ready.set()
            loop.run_forever()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="batch-test-server", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        return self

    def stop(self) -> None:
        """Stop serving and delete the files the server kept."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = self._thread = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> "BatchServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _bind(self, port: int = 0) -> None:
        app = web.Application(client_max_size=1024 * 1024 * 1024)
        app.router.add_post("/v1/files", self._openai_upload)
        app.router.add_post("/v1/batches", self._openai_create)
        app.router.add_get("/v1/batches", self._openai_list)
        app.router.add_get("/v1/batches/{batch_id}", self._openai_get)
        app.router.add_get("/v1/files/{file_id}/content", self._openai_content)
        app.router.add_post("/v1/messages/batches", self._anthropic_create)
        app.router.add_get("/v1/messages/batches", self._anthropic_list)
        app.router.add_get("/v1/messages/batches/{batch_id}", self._anthropic_get)
        app.router.add_get("/v1/messages/batches/{batch_id}/results", self._anthropic_results)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # -- shared ----------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter:06d}"

    def _path(self, name: str) -> Path:
        if self._folder is None:
            raise RuntimeError("the batch server is not started")
        return Path(self._folder.name) / name

    def _authorized(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        return request.headers.get("Authorization") == f"Bearer {self.api_key}" or request.headers.get(
            "x-api-key"
        ) == self.api_key

    def _new_batch(self, provider: str, total: int, requests_path: Path, metadata: dict[str, Any], batch_id: str) -> _Batch:
        batch = _Batch(provider, batch_id, total, requests_path, metadata, int(time.time()))
        self._batches[batch.batch_id] = batch
        self.submissions.append((provider, batch.batch_id, total))
        return batch

    def _poll(self, batch: _Batch) -> None:
        """One status check: the batch ends (its results are made) after ``polls_to_finish`` of them."""
        self.status_checks += 1
        batch.polls += 1
        if not batch.ended and batch.polls > self.polls_to_finish:
            self._finish(batch)

    def _finish(self, batch: _Batch) -> None:
        """Decide every request, streaming the request file into result files one line at a time."""
        batch.ended = True
        if batch.provider == "openai" and self.fail_batch is not None:
            batch.failed_with = list(self.fail_batch)
            return
        outputs_path = self._path(self._next_id("file-") if batch.provider == "openai" else f"{batch.batch_id}.results")
        errors_path = self._path(self._next_id("file-") if batch.provider == "openai" else f"{batch.batch_id}.errors")
        with outputs_path.open("w", encoding="utf-8") as outputs, errors_path.open("w", encoding="utf-8") as errors:
            for entry in _jsonl(batch.requests_path):
                self._decide(batch, entry, outputs, errors)
        if batch.provider == "openai":
            batch.output_file_id = outputs_path.name
            self._files[outputs_path.name] = outputs_path
            if batch.outcomes["errored"] + batch.outcomes["expired"]:
                batch.error_file_id = errors_path.name
                self._files[errors_path.name] = errors_path
            else:
                errors_path.unlink()
        else:
            # Anthropic's results: the successes, then the errors, in one file.
            with errors_path.open("rb") as source, outputs_path.open("ab") as target:
                shutil.copyfileobj(source, target)
            errors_path.unlink()
            batch.results_path = outputs_path

    def _decide(self, batch: _Batch, entry: dict[str, Any], outputs: IO[str], errors: IO[str]) -> None:
        params = entry["body"] if batch.provider == "openai" else entry["params"]
        messages = list(params["messages"])
        if "system" in params:
            messages.insert(0, {"role": "system", "content": params["system"]})
        prompt = prompt_text(messages)
        if self.drops(prompt):
            return
        rejection = (openai_rejection if batch.provider == "openai" else anthropic_rejection)(params)
        if rejection is not None:
            kind, line = "errored", self._failed(batch.provider, entry["custom_id"], rejection)
        elif self.expires(prompt):
            batch.expired_any = True
            kind, line = "expired", self._expired(batch.provider, entry["custom_id"])
        elif self.fails(prompt):
            kind, line = "errored", self._failed(batch.provider, entry["custom_id"])
        else:
            kind, line = "succeeded", self._succeeded(batch.provider, entry["custom_id"], params, prompt)
        batch.outcomes[kind] += 1
        (outputs if kind == "succeeded" else errors).write(json.dumps(line) + "\n")

    def _succeeded(self, provider: str, custom_id: str, params: dict[str, Any], prompt: str) -> dict[str, Any]:
        text = self.answer(prompt)
        prompt_tokens, output_tokens = len(prompt.split()), len(text.split())
        if provider == "openai":
            body = {
                "id": f"chatcmpl-{custom_id}", "object": "chat.completion", "model": params["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": output_tokens,
                          "total_tokens": prompt_tokens + output_tokens},
            }
            return {"id": f"batch_req_{custom_id}", "custom_id": custom_id,
                    "response": {"status_code": 200, "request_id": custom_id, "body": body}, "error": None}
        message = {
            "id": f"msg_{custom_id}", "type": "message", "role": "assistant", "model": params["model"],
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": output_tokens},
        }
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}

    @staticmethod
    def _failed(provider: str, custom_id: str, message: str = "invalid request (scripted failure)") -> dict[str, Any]:
        if provider == "openai":
            body = {"error": {"message": message, "type": "invalid_request_error",
                              "code": "invalid_value"}}
            return {"id": f"batch_req_{custom_id}", "custom_id": custom_id,
                    "response": {"status_code": 400, "request_id": custom_id, "body": body}, "error": None}
        return {"custom_id": custom_id, "result": {"type": "errored", "error": {
            "type": "error", "error": {"type": "invalid_request_error", "message": message}}}}

    @staticmethod
    def _expired(provider: str, custom_id: str) -> dict[str, Any]:
        if provider == "openai":
            return {"id": f"batch_req_{custom_id}", "custom_id": custom_id, "response": None,
                    "error": {"code": "batch_expired", "message": "This request could not be executed before the "
                              "completion window expired."}}
        return {"custom_id": custom_id, "result": {"type": "expired"}}

    # -- OpenAI ----------------------------------------------------------------------------

    async def _openai_upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        if not request.content_type.startswith("multipart/"):
            return web.json_response({"error": {"message": "expected a multipart/form-data upload"}}, status=400)
        purpose, filename, path, size = None, None, None, 0
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "purpose":
                purpose = await part.text()
            elif part.name == "file" and path is None:
                filename, path = part.filename, self._path(self._next_id("file-"))
                with path.open("wb") as handle:  # streamed to disk, a chunk at a time
                    while chunk := await part.read_chunk(1 << 20):
                        handle.write(chunk)
                        size += len(chunk)
        if path is None or purpose != "batch":
            if path is not None:
                path.unlink()
            message = "purpose must be batch" if path is not None else "the upload has no file"
            return web.json_response({"error": {"message": message}}, status=400)
        self._files[path.name] = path
        return web.json_response({"id": path.name, "object": "file", "bytes": size, "purpose": "batch",
                                  "filename": filename})

    async def _openai_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        body = await request.json()
        path = self._files.get(body.get("input_file_id", ""))
        if path is None or body.get("endpoint") != "/v1/chat/completions":
            return web.json_response({"error": {"message": "unknown input file or endpoint"}}, status=400)
        try:
            total = _count_unique_requests(_jsonl(path), OPENAI_MAX_REQUESTS)
        except _BadBatch as err:
            return web.json_response({"error": {"message": str(err)}}, status=400)
        batch = self._new_batch("openai", total, path, body.get("metadata") or {}, self._next_id("batch_"))
        batch.input_file_id = body["input_file_id"]
        return web.json_response(self._openai_view(batch))

    def _openai_view(self, batch: _Batch) -> dict[str, Any]:
        total = batch.total
        if batch.ended and batch.failed_with is not None:
            return {"id": batch.batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "status": "failed",
                    "created_at": batch.created_at, "input_file_id": batch.input_file_id,
                    "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": batch.metadata,
                    "output_file_id": None, "error_file_id": None,
                    "errors": {"object": "list", "data": batch.failed_with}}
        if batch.ended:
            status = "expired" if batch.expired_any else "completed"
            failed = batch.outcomes["errored"] + batch.outcomes["expired"]
            counts = {"total": total, "completed": total - failed, "failed": failed}
        else:
            status = "validating" if batch.polls == 0 else "in_progress"
            done = total * batch.polls // (self.polls_to_finish + 1)
            counts = {"total": total, "completed": done, "failed": 0}
        return {"id": batch.batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "status": status,
                "created_at": batch.created_at, "input_file_id": batch.input_file_id, "request_counts": counts,
                "metadata": batch.metadata,
                "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id}

    async def _openai_list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        batches = [b for b in reversed(list(self._batches.values())) if b.provider == "openai"]
        after = request.query.get("after")
        if after:
            ids = [b.batch_id for b in batches]
            batches = batches[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query.get("limit", "20"))
        page = batches[:limit]
        return web.json_response({"object": "list", "data": [self._openai_view(b) for b in page],
                                  "has_more": len(batches) > limit})

    async def _openai_get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        batch = self._batches.get(request.match_info["batch_id"])
        if batch is None or batch.provider != "openai":
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        self._poll(batch)
        return web.json_response(self._openai_view(batch))

    async def _openai_content(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        path = self._files.get(request.match_info["file_id"])
        if path is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.FileResponse(path, headers={"Content-Type": "application/jsonl"})

    # -- Anthropic -------------------------------------------------------------------------

    async def _anthropic_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request) or request.headers.get("anthropic-version") is None:
            return web.json_response({"type": "error", "error": {"type": "authentication_error"}}, status=401)
        body = await request.json()
        requests = body.get("requests") or []
        batch_id = self._next_id("msgbatch_")
        try:
            if not requests:
                raise _BadBatch("requests: at least one request")
            total = _count_unique_requests(iter(requests), ANTHROPIC_MAX_REQUESTS)
        except _BadBatch as err:
            return web.json_response({"type": "error", "error": {"type": "invalid_request_error", "message": str(err)}},
                                     status=400)
        path = self._path(f"{batch_id}.requests.jsonl")
        with path.open("w", encoding="utf-8") as handle:
            for entry in requests:
                handle.write(json.dumps(entry) + "\n")
        del body, requests  # the batch is on disk now; only its counts stay in memory
        batch = self._new_batch("anthropic", total, path, {}, batch_id)
        return web.json_response(self._anthropic_view(batch))

    def _anthropic_view(self, batch: _Batch) -> dict[str, Any]:
        total = batch.total
        if batch.ended:
            counts = {"processing": 0, "succeeded": batch.outcomes["succeeded"], "errored": batch.outcomes["errored"],
                      "canceled": 0, "expired": batch.outcomes["expired"]}
        else:
            done = total * batch.polls // (self.polls_to_finish + 1)
            counts = {"processing": total - done, "succeeded": done, "errored": 0, "canceled": 0, "expired": 0}
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch.created_at))
        return {
            "id": batch.batch_id, "type": "message_batch", "created_at": created,
            "processing_status": "ended" if batch.ended else "in_progress", "request_counts": counts,
            "results_url": f"{self.anthropic_base}/v1/messages/batches/{batch.batch_id}/results" if batch.ended else None,
        }

    async def _anthropic_list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"type": "error", "error": {"type": "authentication_error"}}, status=401)
        batches = [b for b in reversed(list(self._batches.values())) if b.provider == "anthropic"]
        after = request.query.get("after_id")
        if after:
            ids = [b.batch_id for b in batches]
            batches = batches[ids.index(after) + 1:] if after in ids else []
        page = batches[:int(request.query.get("limit", "20"))]
        return web.json_response({"data": [self._anthropic_view(b) for b in page], "has_more": len(batches) > len(page),
                                  "first_id": page[0].batch_id if page else None,
                                  "last_id": page[-1].batch_id if page else None})

    async def _anthropic_get(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"type": "error", "error": {"type": "authentication_error"}}, status=401)
        batch = self._batches.get(request.match_info["batch_id"])
        if batch is None or batch.provider != "anthropic":
            return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
        self._poll(batch)
        return web.json_response(self._anthropic_view(batch))

    async def _anthropic_results(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"type": "error", "error": {"type": "authentication_error"}}, status=401)
        batch = self._batches.get(request.match_info["batch_id"])
        if batch is None or not batch.ended or batch.results_path is None:
            return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
        return web.FileResponse(batch.results_path, headers={"Content-Type": "application/binary"})


def _jsonl(path: Path) -> Iterator[Any]:
    """The JSON values of a JSONL file, one line at a time (blank lines skipped)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as err:
                    raise _BadBatch(f"line {number}: not JSON ({err})") from err


def _count_unique_requests(entries: Iterator[Any], limit: int) -> int:
    """How many requests ``entries`` holds; refuses a request without a ``custom_id``, a repeated one, or too many."""
    seen: set[str] = set()
    for entry in entries:
        custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
        if not isinstance(custom_id, str):
            raise _BadBatch(f"request {len(seen) + 1}: no custom_id")
        if custom_id in seen:
            raise _BadBatch(f"duplicate custom_id {custom_id!r}")
        seen.add(custom_id)
        if len(seen) > limit:
            raise _BadBatch(f"too many requests: at most {limit:,} in a batch")
    return len(seen)


def kill_while_polling(argv: list[str], server: BatchServer, *, status_checks: int = 3, timeout_s: float = 60.0) -> None:
    """Run ``python -m distilleval ARGV`` in a child process and SIGKILL it once ``server`` has
    answered ``status_checks`` status checks (the child is polling its batch).

    Raises:
        AssertionError: the child never got to polling within ``timeout_s``.
    """
    import os
    import signal
    import subprocess
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    before = server.status_checks
    child = subprocess.Popen([sys.executable, "-m", "distilleval", *argv], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout_s
        while server.status_checks - before < status_checks and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        if server.status_checks - before < status_checks:
            raise AssertionError(f"the child never got to polling (exit status {child.poll()})")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    """Serve until killed, answering ``--answer`` to every request; prints the port on stdout once bound."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=1, help="status checks before a batch ends")
    parser.add_argument("--answer", default="ok", help="the answer to every request")
    args = parser.parse_args(argv)
    server = BatchServer(polls_to_finish=args.polls, answer=lambda prompt: args.answer).start()
    print(server.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
