"""LiteLLM calls spread over a few worker processes, so the LiteLLM path uses more than one core.

LiteLLM spends milliseconds of CPU per call; in one process, dozens of calls in flight
saturate the event loop, answers wait in the socket, and throughput stops at what one core
can do. ``PooledLiteLLMBackend`` is a ``Backend`` whose calls run in worker processes, each
with its own event loop and one ``LiteLLMBackend`` per model; the parent only pickles
requests and completions over a socket per worker. Latency is still timed at the HTTP
transport, in the worker that made the call. Every pooled model of one event loop shares one
set of workers (the teacher and the student do not pay two LiteLLM imports per worker). The
parent never imports LiteLLM: the workers start (and import it) on the first call, so a run
served from the cache pays nothing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import signal
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


def _error_state(err: BaseException) -> tuple[type[BaseException], str, dict[str, Any]]:
    return type(err), str(err), dict(err.__dict__)


def _rebuild_error(state: tuple[type[BaseException], str, dict[str, Any]]) -> BaseException:
    cls, message, attributes = state
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(attributes)
    return err


def _worker_main(fd: int) -> None:
    """A worker process: serve ``register`` and ``call`` messages from its socket until the stop message.

    Ctrl-C and SIGTERM are the parent's business: it finishes or abandons the calls and sends
    the stop message (or its end of the socket closes, which stops the worker the same way).
    A worker ignores SIGINT and exits quietly on SIGTERM, so an interrupted run prints one line,
    never a traceback per worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    asyncio.run(_serve(Connection(fd)))


async def _serve(connection: Any) -> None:
    from distilleval.backends.litellm_backend import LiteLLMBackend

    backends: dict[int, Any] = {}
    broken: dict[int, BaseException] = {}
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

    async def call(call_id: int, key: int, request: ChatRequest, timeout_s: float) -> None:
        try:
            if key in broken:
                raise broken[key]
            reply: tuple[Any, ...] = (call_id, True, await backends[key].complete(request, timeout_s=timeout_s))
        except (BackendError, ConfigurationError) as err:
            reply = (call_id, False, _error_state(err))
        except Exception as err:  # never lose a call: the parent is waiting on it
            reply = (call_id, False, _error_state(BackendError(f"LiteLLM worker: {type(err).__name__}: {err}")))
        connection.send((*reply, lag_samples_ms[:]))
        lag_samples_ms.clear()

    def register(key: int, backend_kwargs: dict[str, Any]) -> None:
        try:
            backends[key] = LiteLLMBackend(**backend_kwargs)
        except Exception as err:  # reported on each of this model's calls
            broken[key] = err

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
            kind, *fields = message
            if kind == "register":
                register(*fields)
                continue
            task = loop.create_task(call(*fields))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    sampler = loop.create_task(sample_lag())
    loop.add_reader(connection.fileno(), readable)
    await stopped
    loop.remove_reader(connection.fileno())
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    sampler.cancel()
    for backend in backends.values():
        await backend.aclose()


class _WorkerGone(ServiceUnavailableError):
    """A worker process exited; the model's name is added where the call was made."""


class _WorkerPool:
    """The worker processes of one event loop, shared by every pooled model using it."""

    def __init__(self, workers: int):
        self.workers = workers
        self.loop = asyncio.get_running_loop()
        self.processes: list[Any] = []
        self.connections: list[Any] = []
        self.in_flight: list[int] = []
        self.dead: set[int] = set()
        self.loop_lag_ms: list[float] = []
        self.users = 0
        self._pending: dict[int, tuple[asyncio.Future, int]] = {}
        self._ids = itertools.count()
        self._start()

    def _start(self) -> None:
        # A fresh interpreter per worker (``python -m`` this module) rather than multiprocessing:
        # spawn would re-import the caller's __main__, and fork is unsafe with threads and a loop.
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        for index in range(self.workers):
            parent_end, child_end = socket.socketpair()
            # Its own session: a Ctrl-C at the terminal reaches the parent only, which stops the workers.
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child_end.fileno())], pass_fds=(child_end.fileno(),), env=env,
                start_new_session=True,
            )
            child_end.close()
            connection = Connection(parent_end.detach())
            self.processes.append(process)
            self.connections.append(connection)
            self.in_flight.append(0)
            self.loop.add_reader(connection.fileno(), self._readable, index)

    def register(self, key: int, backend_kwargs: dict[str, Any]) -> None:
        """Build one model's ``LiteLLMBackend`` in every worker; its settings (the key too) go over the socket."""
        for index, connection in enumerate(self.connections):
            if index not in self.dead:
                try:
                    connection.send(("register", key, backend_kwargs))
                except OSError:
                    self._worker_died(index)

    def _readable(self, index: int) -> None:
        connection = self.connections[index]
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
            self.in_flight[index] -= 1
            if future is None or future.done():
                continue
            if ok:
                future.set_result(replace(payload, extra={**payload.extra, "worker": index}))
            else:
                future.set_exception(_rebuild_error(payload))

    def _worker_died(self, index: int) -> None:
        if index in self.dead:
            return
        self.dead.add(index)
        self.loop.remove_reader(self.connections[index].fileno())
        for call_id, (future, worker) in list(self._pending.items()):
            if worker == index:
                del self._pending[call_id]
                if not future.done():
                    future.set_exception(_WorkerGone(f"LiteLLM worker process {index} exited"))

    async def call(self, key: int, request: ChatRequest, timeout_s: float) -> Completion:
        """One call in the least busy live worker."""
        alive = [i for i in range(self.workers) if i not in self.dead]
        if not alive:
            raise _WorkerGone("every LiteLLM worker process has exited")
        index = min(alive, key=self.in_flight.__getitem__)
        call_id = next(self._ids)
        future: asyncio.Future = self.loop.create_future()
        self._pending[call_id] = (future, index)
        self.in_flight[index] += 1
        try:
            self.connections[index].send(("call", call_id, key, request, timeout_s))
        except OSError:
            self._pending.pop(call_id, None)
            self.in_flight[index] -= 1
            self._worker_died(index)
            raise _WorkerGone(f"LiteLLM worker process {index} is gone") from None
        return await future

    async def close(self) -> None:
        """Stop the workers (they finish the calls in flight first)."""
        for index, connection in enumerate(self.connections):
            if index not in self.dead:
                self.loop.remove_reader(connection.fileno())
                try:
                    connection.send(_STOP)
                except OSError:
                    pass
        for process in self.processes:
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
        for connection in self.connections:
            connection.close()


# One pool per (event loop, worker count): loops do not share sockets' readers.
_pools: dict[tuple[int, int], _WorkerPool] = {}
_keys = itertools.count()


class PooledLiteLLMBackend:
    """A ``LiteLLMBackend`` run in worker processes shared with the other pooled models of the loop.

    The calls are timed by the workers' event loops, not the caller's, so each worker samples
    its own loop's lag while it has calls in flight (every 20 ms, as ``run.loop_lag`` does in
    the caller) and ``loop_lag_ms`` holds the samples of all workers since this backend's first
    call: the figures that say whether latencies timed there are client-bound.

    Args:
        model_id: the LiteLLM model id (cache and pricing key).
        workers: how many worker processes (2 uses both cores of a 2-core machine).
        **backend_kwargs: passed to each worker's ``LiteLLMBackend`` (price, api_base, api_key,
            batch, prompt_cache); the key travels to the children over the socket, never in
            argv or the environment.

    Raises:
        ConfigurationError: LiteLLM is not installed.
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
        self._key = next(_keys)
        self._pool: _WorkerPool | None = None
        self._lag_from = 0

    def __repr__(self) -> str:  # never shows the key
        return f"PooledLiteLLMBackend({self.model_id!r}, workers={self._workers}, api_base={self.api_base!r})"

    @property
    def loop_lag_ms(self) -> list[float]:
        """The workers' event-loop lag samples (ms) since this backend's first call."""
        return self._pool.loop_lag_ms[self._lag_from:] if self._pool is not None else []

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        """Make one call in the least busy worker. Raises what the worker's ``LiteLLMBackend`` raised."""
        if self._pool is None:
            loop = asyncio.get_running_loop()
            loop_key = (id(loop), self._workers)
            pool = _pools.get(loop_key)
            if pool is None or pool.loop is not loop:  # none yet, or one left by a finished loop
                pool = _pools[loop_key] = _WorkerPool(self._workers)
            pool.users += 1
            pool.register(self._key, self._backend_kwargs)
            self._pool, self._lag_from = pool, len(pool.loop_lag_ms)
        try:
            return await self._pool.call(self._key, request, timeout_s)
        except _WorkerGone as err:
            raise ServiceUnavailableError(f"{self.model_id}: {err}") from None

    async def aclose(self) -> None:
        """Leave the shared workers; the last model to leave stops them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.users -= 1
        if pool.users == 0:
            for key, value in list(_pools.items()):
                if value is pool:
                    del _pools[key]
            await pool.close()


if __name__ == "__main__":
    try:
        _worker_main(int(sys.argv[1]))
    except KeyboardInterrupt:  # a SIGINT before the handler was set (while importing): no traceback
        sys.exit(0)
