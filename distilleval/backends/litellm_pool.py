"""LiteLLM calls spread over a few worker processes, so the LiteLLM path uses more than one core.

LiteLLM spends milliseconds of CPU per call; in one process, dozens of calls in flight
saturate the event loop, answers wait in the socket, and throughput stops at what one core
can do. ``PooledLiteLLMBackend`` is a ``Backend`` whose calls run in ``workers`` child
processes, each with its own event loop and its own ``LiteLLMBackend``; the parent only
pickles requests and completions over a pipe per worker. Latency is still timed at the
HTTP transport, in the worker that made the call. The parent never imports LiteLLM: the
workers start (and import it) on the first call, so a run served from the cache pays nothing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from distilleval.backends.base import ChatRequest, Completion
from distilleval.errors import BackendError, ConfigurationError, ServiceUnavailableError

_STOP = None
LAG_INTERVAL_S = 0.02


def _error_state(err: BackendError) -> tuple[type, str, dict[str, Any]]:
    return type(err), str(err), dict(err.__dict__)


def _rebuild_error(state: tuple[type, str, dict[str, Any]]) -> BackendError:
    cls, message, attributes = state
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(attributes)
    return err


def _worker_main(fd: int) -> None:
    """A worker process: read its backend settings, then serve (call id, request, timeout) messages until stop."""
    connection = Connection(fd)
    backend_kwargs = connection.recv()
    asyncio.run(_serve(connection, backend_kwargs))


async def _serve(connection: Any, backend_kwargs: dict[str, Any]) -> None:
    from distilleval.backends.litellm_backend import LiteLLMBackend

    backend = LiteLLMBackend(**backend_kwargs)
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()
    tasks: set[asyncio.Task] = set()
    lag_samples_ms: list[float] = []

    async def sample_lag() -> None:
        # The worker's own loop times its calls, so its lag is what says whether they are client-bound.
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            if tasks:
                lag_samples_ms.append(max(0.0, (time.perf_counter() - asked - LAG_INTERVAL_S) * 1000))

    async def call(call_id: int, request: ChatRequest, timeout_s: float) -> None:
        try:
            reply: tuple[Any, ...] = (call_id, True, await backend.complete(request, timeout_s=timeout_s))
        except BackendError as err:
            reply = (call_id, False, _error_state(err))
        except Exception as err:  # never lose a call: the parent is waiting on it
            reply = (call_id, False, _error_state(BackendError(f"{backend.model_id}: worker: {type(err).__name__}: {err}")))
        connection.send((*reply, lag_samples_ms[:]))
        lag_samples_ms.clear()

    sampler = loop.create_task(sample_lag())

    def readable() -> None:
        while connection.poll():
            try:
                message = connection.recv()
            except EOFError:
                message = _STOP
            if message is _STOP:
                if not stopped.done():
                    stopped.set_result(None)
                return
            task = loop.create_task(call(*message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    loop.add_reader(connection.fileno(), readable)
    await stopped
    loop.remove_reader(connection.fileno())
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    sampler.cancel()
    await backend.aclose()


class PooledLiteLLMBackend:
    """A ``LiteLLMBackend`` run in ``workers`` child processes.

    The calls are timed by the workers' event loops, not the caller's, so each worker samples
    its own loop's lag while it has calls in flight (every 20 ms, as ``run.loop_lag`` does in
    the caller) and ``loop_lag_ms`` collects the samples of all workers: the figures that say
    whether this backend's latencies are client-bound.

    Args:
        model_id: the LiteLLM model id (cache and pricing key).
        workers: how many worker processes (2 uses both cores of a 2-core machine).
        **backend_kwargs: passed to each worker's ``LiteLLMBackend`` (price, api_base, api_key,
            batch, prompt_cache); the key travels to the children over the pipe, never in argv
            or the environment.
    """

    def __init__(self, model_id: str, *, workers: int = 2, **backend_kwargs: Any):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if importlib.util.find_spec("litellm") is None:  # found without importing it here
            raise ConfigurationError("LiteLLM is not installed: pip install litellm")
        self.model_id = model_id
        self.api_base = backend_kwargs.get("api_base")
        self._workers = workers
        self._backend_kwargs = {"model_id": model_id, **backend_kwargs}
        self._processes: list[Any] = []
        self._connections: list[Any] = []
        self._in_flight: list[int] = []
        self._dead: set[int] = set()
        self.loop_lag_ms: list[float] = []
        self._pending: dict[int, tuple[asyncio.Future, int]] = {}
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"PooledLiteLLMBackend({self.model_id!r}, workers={self._workers}, api_base={self.api_base!r})"

    def _start(self) -> None:
        # A fresh interpreter per worker (``python -m`` this module) rather than multiprocessing:
        # spawn would re-import the caller's __main__, and fork is unsafe with threads and a loop.
        # The settings, the API key among them, travel over the socket, never in argv or env.
        self._loop = asyncio.get_running_loop()
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        for _ in range(self._workers):
            parent_end, child_end = socket.socketpair()
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child_end.fileno())], pass_fds=(child_end.fileno(),), env=env
            )
            child_end.close()
            connection = Connection(parent_end.detach())
            connection.send(self._backend_kwargs)
            self._processes.append(process)
            self._connections.append(connection)
            self._in_flight.append(0)
            self._loop.add_reader(connection.fileno(), self._readable, len(self._connections) - 1)

    def _readable(self, index: int) -> None:
        connection = self._connections[index]
        while True:
            try:
                if not connection.poll():
                    return
                call_id, ok, payload, lag_samples_ms = connection.recv()
            except (EOFError, OSError):
                self._worker_died(index)
                return
            self.loop_lag_ms.extend(lag_samples_ms)
            future, _ = self._pending.pop(call_id, (None, index))
            self._in_flight[index] -= 1
            if future is None or future.done():
                continue
            if ok:
                future.set_result(replace(payload, extra={**payload.extra, "worker": index}))
            else:
                future.set_exception(_rebuild_error(payload))

    def _worker_died(self, index: int) -> None:
        assert self._loop is not None
        self._dead.add(index)
        self._loop.remove_reader(self._connections[index].fileno())
        for call_id, (future, worker) in list(self._pending.items()):
            if worker == index:
                del self._pending[call_id]
                if not future.done():
                    future.set_exception(ServiceUnavailableError(f"{self.model_id}: LiteLLM worker process {index} exited"))

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Make one call in the least busy worker. Raises what the worker's ``LiteLLMBackend`` raised."""
        if not self._processes:
            self._start()
        alive = [i for i in range(self._workers) if i not in self._dead]
        if not alive:
            raise ServiceUnavailableError(f"{self.model_id}: every LiteLLM worker process has exited")
        index = min(alive, key=self._in_flight.__getitem__)
        call_id = next(self._ids)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[call_id] = (future, index)
        self._in_flight[index] += 1
        try:
            self._connections[index].send((call_id, request, timeout_s))
        except (OSError, EOFError):
            self._pending.pop(call_id, None)
            self._in_flight[index] -= 1
            self._dead.add(index)
            raise ServiceUnavailableError(f"{self.model_id}: LiteLLM worker process {index} is gone") from None
        return await future

    async def aclose(self) -> None:
        """Stop the workers (they finish the calls in flight first)."""
        for index, connection in enumerate(self._connections):
            try:
                if self._loop is not None and index not in self._dead:
                    self._loop.remove_reader(connection.fileno())
                connection.send(_STOP)
            except (OSError, EOFError, ValueError):
                pass
        for process in self._processes:
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
        for connection in self._connections:
            connection.close()
        self._processes, self._connections, self._in_flight, self._dead = [], [], [], set()


if __name__ == "__main__":
    _worker_main(int(sys.argv[1]))
