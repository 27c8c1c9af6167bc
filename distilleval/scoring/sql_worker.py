"""Run untrusted SQL read-only in worker processes that are killed at a hard time limit.

Three walls keep a query from changing a database, each enough on its own for the usual
attacks: the connection is opened ``file:...?mode=ro``; ``PRAGMA query_only`` is set; and a
``set_authorizer`` callback denies every action except reading (SELECT, READ, FUNCTION,
RECURSIVE), which also refuses ATTACH and PRAGMA. The static check in ``sql_execution`` runs
before any of them.

Time is limited twice: a progress handler interrupts the query at its deadline (cheap: the
worker survives), and the parent kills the worker process outright when no answer arrives by
the deadline plus a grace period (for anything the handler cannot interrupt). This module
imports nothing heavy so workers start fast.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import IO, Any

# Actions a read-only query may need; everything else is denied.
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
_FETCH_CHUNK_ROWS = 2000
PIPELINE_DEPTH = 2
"""Jobs a worker holds at once: the one running and the next, so it never idles on IPC."""
_PIPELINE_MAX_BYTES = 16_384

Result = tuple[Any, ...]
"""``("ok", columns, rows)`` or ``(status, message)`` with status ``error``, ``unsafe``,
``timeout`` or ``too_large``."""


def read_only_uri(database: str | Path) -> str:
    """The SQLite URI that opens ``database`` read-only."""
    return Path(database).resolve().as_uri() + "?mode=ro"


def run_query(database: str, sql: str, timeout_s: float, max_rows: int) -> Result:
    """Execute one query read-only and fetch its rows (runs inside a worker process).

    Args:
        database: the SQLite file.
        sql: the query (already checked to be a single SELECT/WITH statement).
        timeout_s: deadline for executing and fetching.
        max_rows: more rows than this is reported as ``too_large``.

    Returns:
        A ``Result`` tuple; never raises for problems with the query itself.
    """
    denied: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        connection = sqlite3.connect(read_only_uri(database), uri=True, isolation_level=None,
                                     check_same_thread=False)
    except sqlite3.Error as err:
        return ("error", f"cannot open database: {err}")
    try:
        connection.execute("PRAGMA query_only = ON")
        if hasattr(connection, "setlimit"):
            connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)

        def authorizer(action: int, arg1: Any, arg2: Any, _db: Any, _trigger: Any) -> int:
            if action not in _ALLOWED_ACTIONS:
                denied.append(f"action {action} ({arg1}, {arg2})")
                return sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in _DENIED_FUNCTIONS:
                denied.append(f"function {arg2}")
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        connection.set_authorizer(authorizer)
        connection.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 2000)
        cursor = connection.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        rows: list[tuple[Any, ...]] = []
        while True:
            chunk = cursor.fetchmany(_FETCH_CHUNK_ROWS)
            if not chunk:
                break
            rows.extend(chunk)
            if len(rows) > max_rows:
                return ("too_large", f"more than {max_rows} rows")
            if time.monotonic() > deadline:
                return ("timeout", f"still fetching after {timeout_s:g} s")
        return ("ok", columns, rows)
    except sqlite3.Error as err:
        if denied:
            return ("unsafe", f"refused by the authorizer: {denied[0]}")
        if time.monotonic() > deadline and "interrupt" in str(err).lower():
            return ("timeout", f"interrupted after {timeout_s:g} s")
        if "readonly" in str(err).lower() or "read-only" in str(err).lower():
            return ("unsafe", str(err))
        return ("error", f"{type(err).__name__}: {err}")
    except (MemoryError, OverflowError, ValueError) as err:
        return ("error", f"{type(err).__name__}: {err}")
    finally:
        connection.close()


def _resolve(ref: str) -> Callable[..., Any]:
    module, _, name = ref.partition(":")
    target: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return target


def _read_exact(stream: Any, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream: Any) -> Any:
    size = int.from_bytes(_read_exact(stream, 8), "big")
    return pickle.loads(_read_exact(stream, size))


def _write_frame(stream: Any, value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(payload).to_bytes(8, "big") + payload)
    stream.flush()


def serve(target_ref: str) -> None:
    """The worker's main loop: read jobs from stdin, write results to stdout, until EOF."""
    # Keep the real stdout for results only; anything the target prints goes to stderr.
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    target = _resolve(target_ref)
    while True:
        try:
            job = _read_frame(stdin)
        except (EOFError, KeyboardInterrupt):
            return
        try:
            result = target(*job)
        except Exception as err:  # a bug in the target must not kill the worker silently
            result = ("error", f"worker: {type(err).__name__}: {err}")
        _write_frame(stdout, result)


class _Worker:
    """One worker: a plain subprocess speaking length-prefixed pickles over its pipes.

    A subprocess (not multiprocessing) so that starting one never re-imports the caller's
    ``__main__`` and works the same from the CLI, a test or a script.
    """

    def __init__(self, target_ref: str):
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        code = f"from distilleval.scoring.sql_worker import serve; serve({target_ref!r})"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment, bufsize=0,
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both are PIPE
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout

    def alive(self) -> bool:
        return self.process.poll() is None

    def send_payload(self, payload: bytes) -> None:
        self.stdin.write(len(payload).to_bytes(8, "big") + payload)

    def receive(self) -> Any:
        return _read_frame(self.stdout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        self._close_pipes()

    def stop(self) -> None:
        try:
            self.stdin.close()  # EOF ends the worker's loop
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    """A fixed number of worker processes with a hard wall-clock limit per job.

    A job that does not answer by its timeout plus ``grace_s`` has its worker killed
    (SIGKILL) and replaced; the job's result is ``("timeout", ...)``. A worker that dies is
    replaced and its job reported as ``("error", ...)``.

    Args:
        workers: number of processes (default: the CPU count).
        target: ``"module:function"`` each job's arguments are passed to in the worker.
        grace_s: extra time given beyond a job's own timeout before the kill.
    """

    def __init__(self, workers: int | None = None, *, target: str = f"{__name__}:run_query", grace_s: float = 1.0):
        self.size = max(1, workers or os.cpu_count() or 1)
        self.target = target
        self.grace_s = grace_s
        self.killed = 0
        self._workers: list[_Worker | None] = [None] * self.size

    def _worker(self, index: int) -> _Worker:
        worker = self._workers[index]
        if worker is None or not worker.alive():
            worker = _Worker(self.target)
            self._workers[index] = worker
        return worker

    def map(self, jobs: Sequence[tuple[tuple[Any, ...], float]]) -> list[Result]:
        """Run ``(arguments, timeout_s)`` jobs and return their results in order.

        Each worker holds up to ``PIPELINE_DEPTH`` small jobs so it never waits for the next
        one; only the job it is running (the head of its queue) has a kill deadline, which
        starts when the previous job's result arrives.
        """
        results: list[Result | None] = [None] * len(jobs)
        pending = deque(range(len(jobs)))
        queues: dict[int, deque[int]] = {index: deque() for index in range(self.size)}
        deadlines: dict[int, float] = {}  # worker index -> kill deadline of its running job

        def start_clock(index: int) -> None:
            if queues[index]:
                deadlines[index] = time.monotonic() + jobs[queues[index][0]][1] + self.grace_s
            else:
                deadlines.pop(index, None)

        def retire(index: int, head_result: Result) -> None:
            """Kill a worker, give its running job ``head_result``, requeue the others."""
            worker = self._workers[index]
            if worker is not None:
                worker.kill()
            self._workers[index] = None
            queue = queues[index]
            results[queue.popleft()] = head_result
            pending.extendleft(reversed(queue))
            queue.clear()
            deadlines.pop(index, None)

        while pending or any(queues.values()):
            for index in range(self.size):
                queue = queues[index]
                while pending and len(queue) < PIPELINE_DEPTH:
                    arguments, _ = jobs[pending[0]]
                    payload = pickle.dumps(arguments, protocol=pickle.HIGHEST_PROTOCOL)
                    if queue and len(payload) > _PIPELINE_MAX_BYTES:
                        break  # a big job could fill the pipe while the worker writes a big result
                    job_index = pending.popleft()
                    worker = self._worker(index)
                    try:
                        worker.send_payload(payload)
                    except OSError:
                        if queue:  # the worker died mid-job: its running job gets the error
                            pending.appendleft(job_index)
                            retire(index, ("error", "the worker process died"))
                        else:
                            worker.kill()
                            self._workers[index] = None
                            results[job_index] = ("error", "could not send the job to a worker process")
                        break
                    queue.append(job_index)
                    if len(queue) == 1:
                        start_clock(index)
            busy = [index for index in range(self.size) if queues[index]]
            if not busy:
                continue
            by_stream = {self._workers[i].stdout: i for i in busy}  # type: ignore[union-attr]
            next_deadline = min(deadlines[i] for i in busy)
            # wait() takes any object with fileno(); typeshed lists only connections, sockets and ints.
            ready = wait(list(by_stream), timeout=max(0.0, next_deadline - time.monotonic()))  # type: ignore[arg-type]
            for stream in ready:
                index = by_stream[stream]
                try:
                    result = self._workers[index].receive()  # type: ignore[union-attr]
                except (EOFError, OSError, pickle.UnpicklingError):
                    retire(index, ("error", "the worker process died"))
                    continue
                results[queues[index].popleft()] = result
                start_clock(index)
            now = time.monotonic()
            for index in busy:
                if queues[index] and now >= deadlines[index]:
                    timeout_s = jobs[queues[index][0]][1]
                    retire(index, ("timeout", f"killed after {timeout_s + self.grace_s:g} s"))
                    self.killed += 1
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Stop every worker."""
        for index, worker in enumerate(self._workers):
            if worker is not None:
                worker.stop()
                self._workers[index] = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
