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
import multiprocessing
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Actions a read-only query may need; everything else is denied.
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
_FETCH_CHUNK_ROWS = 2000

Result = tuple
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
        rows: list[tuple] = []
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
    return getattr(importlib.import_module(module), name)


def _stdout_to_stderr() -> None:
    """A worker's start: anything a target prints goes to stderr, never into the caller's stdout
    (a report or JSON the command is writing there)."""
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def _call(target_ref: str, arguments: tuple) -> Any:
    """Run one job in a worker: a bug in the target becomes an ``("error", ...)`` result, not a crash."""
    try:
        return _resolve(target_ref)(*arguments)
    except Exception as err:
        return ("error", f"worker: {type(err).__name__}: {err}")


class WorkerPool:
    """A fixed number of worker processes with a hard wall-clock limit per job (pebble's ``ProcessPool``).

    A job that does not answer by its timeout plus ``grace_s``, counted from when a worker starts
    it, has its worker killed and replaced; the job's result is ``("timeout", ...)``. A worker
    that dies is replaced and its job reported as ``("error", ...)``. Workers are forked, so
    starting one never re-imports the caller's ``__main__``; they start on the first ``map``.

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
        self._pool: Any = None

    def map(self, jobs: Sequence[tuple[tuple, float]]) -> list[Result]:
        """Run ``(arguments, timeout_s)`` jobs and return their results in order."""
        from pebble import ProcessExpired, ProcessPool

        if self._pool is None:
            self._pool = ProcessPool(self.size, initializer=_stdout_to_stderr, context=multiprocessing.get_context("fork"))
        futures = [self._pool.schedule(_call, args=(self.target, arguments), timeout=timeout_s + self.grace_s)
                   for arguments, timeout_s in jobs]
        results: list[Result] = []
        for (_, timeout_s), future in zip(jobs, futures):
            try:
                results.append(future.result())
            except TimeoutError:
                self.killed += 1
                results.append(("timeout", f"killed after {timeout_s + self.grace_s:g} s"))
            except ProcessExpired:
                results.append(("error", "the worker process died"))
            except Exception as err:  # a result or arguments that would not pickle
                results.append(("error", f"worker: {type(err).__name__}: {err}"))
        return results

    def close(self) -> None:
        """Stop every worker."""
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
