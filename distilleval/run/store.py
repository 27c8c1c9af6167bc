"""The run store: ``runs/<id>/records.sqlite``, one row per item x model x repeat.

Each final result of a call made in this run is committed the moment it is known (WAL mode, so a
SIGKILL loses at most the calls still in flight). Cache hits cost nothing to replay, so they are
committed in batches (``HIT_BATCH`` rows per transaction, ``BULK_HIT_BATCH`` for hits replayed in bulk, and
before any other read or write):
a fully cached re-run of thousands of items does not pay one commit per row. Resuming a run asks ``finished_keys()`` and calls only what is missing:
items with an ``ok`` row are never called again; items whose last attempt ended in an error
are tried again (errors are not paid-for answers) and their row is replaced.

The run store holds the only sure copy of a run's paid answers, so it is written before the
response cache, and a problem with it stops the command with one line (``RunStoreError``):
a damaged file is left exactly as it is, an unwritable folder is named.
"""

from __future__ import annotations

import json
import sqlite3
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distilleval.errors import DistillevalError
from distilleval.run.identity import IDENTITY_META, identity_change
from distilleval.run.runner import CallResult
from distilleval.run.schema import add_missing_columns, is_damage

RECORDS_FILE = "records.sqlite"
HIT_BATCH = 500
# Hits replayed in bulk (``run.replay``) come a chunk at a time: fewer, larger transactions.
BULK_HIT_BATCH = 20_000

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS records (
        item_id TEXT NOT NULL,
        model TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        status TEXT NOT NULL,
        text TEXT,
        error_kind TEXT,
        error_message TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        latency_ms REAL,
        cost_usd REAL NOT NULL,
        cache_hit INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        finished_at REAL NOT NULL,
        PRIMARY KEY (item_id, model, repeat)
    )
    """,
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

# Columns added after the first release; older run stores gain them on open.
_LATER_COLUMNS = {
    "cached_input_tokens": "INTEGER NOT NULL DEFAULT 0",
    "cache_write_tokens": "INTEGER NOT NULL DEFAULT 0",
    "finish_reason": "TEXT",
    "served_model": "TEXT",
    # How sure the model was of the answer, where its route says (None: it did not), and how that was computed.
    "confidence": "REAL",
    "confidence_basis": "TEXT",
}

_COLUMNS = (
    "item_id, model, repeat, status, text, error_kind, error_message, input_tokens, "
    "output_tokens, latency_ms, cost_usd, cache_hit, attempts, cached_input_tokens, cache_write_tokens, finish_reason, "
    "served_model, confidence, confidence_basis"
)


_INSERT = f"INSERT OR REPLACE INTO records ({_COLUMNS}, finished_at) VALUES ({', '.join('?' * 20)})"


def _row(result: CallResult) -> tuple[Any, ...]:
    return (
        result.item_id,
        result.model,
        result.repeat,
        result.status,
        result.text,
        result.error_kind,
        result.error_message,
        result.input_tokens,
        result.output_tokens,
        result.latency_ms,
        result.cost_usd,
        int(result.cache_hit),
        result.attempts,
        result.cached_input_tokens,
        result.cache_write_tokens,
        result.finish_reason,
        result.served_model,
        result.confidence,
        result.confidence_basis,
        time.time(),
    )


def _result(row: Sequence[Any]) -> CallResult:
    """A ``CallResult`` from a row of ``_COLUMNS``, built positionally (``_COLUMNS`` is ``CallResult``'s
    field order): a million rows read in half the time keywords take."""
    (item_id, model, repeat, status, text, error_kind, error_message, input_tokens, output_tokens, latency_ms,
     cost_usd, cache_hit, attempts, cached, written, finish, served, sure, basis) = row
    return CallResult(item_id, model, repeat, status, text, error_kind, error_message, input_tokens, output_tokens,
                      latency_ms, cost_usd, bool(cache_hit), attempts, cached, written, finish, served, sure, basis)


class RunStoreError(DistillevalError):
    """The run store cannot be used: the file is damaged, or its folder cannot be written."""


def store_error(path: Path, err: BaseException) -> RunStoreError:
    """The one-line error for a run store operation that failed with ``err`` (SQLite or OS)."""
    reason = err.strerror if isinstance(err, OSError) and err.strerror else (str(err) or type(err).__name__)
    if is_damage(err):
        return RunStoreError(
            f"{path}: the run store is damaged ({reason}); it was left as it is: start a new run (answers it "
            "holds may still be in the response cache), or put back a sound copy of the file"
        )
    return RunStoreError(
        f"{path}: cannot write the run store ({reason}); make its folder writable (and the disk not full), "
        "or choose another place with --runs-dir / --out"
    )


class RunStore:
    """One run's records file.

    Args:
        run_dir: the run directory (created with its parents).

    Raises:
        RunStoreError: the folder cannot be made or written, or the file is damaged (here or
            in any later operation).
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / RECORDS_FILE
        self._pending_hits: list[tuple[Any, ...]] = []
        self._db: sqlite3.Connection | None = None
        try:
            with self._guard():
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                for statement in _SCHEMA:
                    self._db.execute(statement)
                add_missing_columns(self._db, "records", _LATER_COLUMNS)
        except RunStoreError:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        assert self._db is not None, "the run store is closed"
        return self._db

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a SQLite or file-system failure into ``RunStoreError`` (one line, exit 2)."""
        try:
            yield
        except (sqlite3.Error, OSError) as err:
            raise store_error(self.path, err) from None

    def add(self, result: CallResult) -> None:
        """Commit one final result (replacing an earlier error row for the same call).

        A cache hit is queued and committed with the next batch; anything else is committed now,
        after the queued hits.
        """
        row = _row(result)
        if result.cache_hit:
            self._pending_hits.append(row)
            if len(self._pending_hits) >= HIT_BATCH:
                self.flush()
            return
        self.flush()
        with self._guard():
            self.db.execute(_INSERT, row)

    def add_many(self, results: list[CallResult]) -> None:
        """Commit several final results in one transaction (a provider batch's results, written back)."""
        self.flush()
        if not results:
            return
        with self._guard(), self.db:
            self.db.execute("BEGIN")
            self.db.executemany(_INSERT, [_row(result) for result in results])

    def add_hits(self, hits: Iterable[tuple[str, str, int, tuple]]) -> int:
        """Queue replayed cache hits, without a ``CallResult`` per hit; committed ``BULK_HIT_BATCH``
        rows per transaction, and like every queued hit before any other read or write.

        Args:
            hits: ``(item_id, model, repeat, fields)`` with ``fields`` a cached response as
                ``ResponseCache.get_many`` returns it (``CachedResponse`` field order).

        Returns:
            How many rows were queued: the rows ``add`` writes for the same hits.
        """
        now = time.time()
        rows = [
            (item_id, model, repeat, "ok", text, None, None, input_tokens, output_tokens, latency_ms, 0.0, 1, 0,
             cached, written, finish, None, sure, basis, now)
            for item_id, model, repeat, (text, input_tokens, output_tokens, latency_ms, _, cached, written, finish, sure,
                                         basis) in hits
        ]
        self._pending_hits += rows
        if len(self._pending_hits) >= BULK_HIT_BATCH:
            self.flush()
        return len(rows)

    def flush(self) -> None:
        """Commit the queued cache hits in one transaction."""
        if not self._pending_hits:
            return
        rows, self._pending_hits = self._pending_hits, []
        with self._guard(), self.db:
            self.db.execute("BEGIN")
            self.db.executemany(_INSERT, rows)

    def finished_keys(self, model: str | None = None) -> set[tuple[str, str, int]]:
        """(item_id, model, repeat) of every call that ended ``ok``: these are never re-called.
        ``model``: of that model role only (a batch role's check need not hold every other role's)."""
        self.flush()
        query = "SELECT item_id, model, repeat FROM records WHERE status = 'ok'"
        params: tuple[Any, ...] = ()
        if model is not None:
            query += " AND model = ?"
            params = (model,)
        with self._guard():
            return {(item_id, model, repeat) for item_id, model, repeat in self.db.execute(query, params)}

    def results(self, model: str | None = None) -> list[CallResult]:
        """Stored results, optionally for one model role, in insertion order."""
        self.flush()
        query = f"SELECT {_COLUMNS} FROM records"
        params: tuple[Any, ...] = ()
        if model is not None:
            query += " WHERE model = ?"
            params = (model,)
        with self._guard():
            rows = self.db.execute(query + " ORDER BY rowid", params).fetchall()
        return [_result(row) for row in rows]

    def answer_latencies(self, model: str) -> array[float]:
        """The latency (ms) of every answered call of ``model`` that was made, not a cache hit, in
        insertion order: what ``results`` would give, filtered, without a ``CallResult`` per row
        (a million of them were most of a large run's peak when only these numbers were needed)."""
        self.flush()
        with self._guard():
            cursor = self.db.execute(
                "SELECT latency_ms FROM records WHERE model = ? AND status = 'ok' AND cache_hit = 0 "
                "AND latency_ms IS NOT NULL ORDER BY rowid", (model,))
            return array("d", (latency for (latency,) in cursor))

    def first_results(self, model: str, item_ids: Sequence[str]) -> list[CallResult]:
        """The stored results of ``model``'s first call (repeat 0) on each of ``item_ids`` that has one,
        in the order of ``item_ids``: one chunk of a run read back without reading the whole run."""
        return [_result(row) for row in self.first_rows(model, item_ids)]

    def first_rows(self, model: str, item_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """``first_results`` as plain rows, each in ``CallResult``'s field order (``cache_hit`` 0 or 1):
        a chunk's calls read without building an object per call."""
        self.flush()
        columns = ", ".join("r." + column for column in _COLUMNS.split(", "))
        with self._guard():
            return self.db.execute(
                f"SELECT {columns} FROM json_each(?) AS wanted JOIN records r ON r.item_id = wanted.value "
                "AND r.model = ? AND r.repeat = 0 ORDER BY wanted.key",
                (json.dumps(list(item_ids)), model)).fetchall()

    def first_calls_final(self, model: str, item_ids: Sequence[str], since: float) -> int:
        """How many of ``item_ids`` have ``model``'s first call (repeat 0) settled for this run: answered
        (never called again), or ended at or after ``since`` (the run's start: an error row from before is
        called again and replaced). A reader in another connection sees what the writer has committed."""
        self.flush()
        with self._guard():
            (count,) = self.db.execute(
                "SELECT count(*) FROM json_each(?) AS wanted JOIN records r ON r.item_id = wanted.value "
                "AND r.model = ? AND r.repeat = 0 WHERE r.status = 'ok' OR r.finished_at >= ?",
                (json.dumps(list(item_ids)), model, since)).fetchone()
        return int(count)

    def last_finished_at(self) -> float | None:
        """The latest ``finished_at`` of any row (None: no rows)."""
        self.flush()
        with self._guard():
            (latest,) = self.db.execute("SELECT max(finished_at) FROM records").fetchone()
        return latest

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable run attribute (never a secret)."""
        with self._guard():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """A run attribute stored with ``set_meta``."""
        with self._guard():
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def check_identity(self, identity: dict[str, Any]) -> str | None:
        """Compare this run's recorded identity (``run.identity``) with ``identity``.

        The first time (a new run), ``identity`` is recorded. Afterwards, returns what changed
        in one phrase (``the data file x changed since this run started (sha256 ...)``), or None
        when nothing did; parts new to this run (a role not called before) are then recorded too.
        """
        recorded = self.get_meta(IDENTITY_META)
        if recorded is None:
            self.set_meta(IDENTITY_META, identity)
            return None
        change = identity_change(recorded, identity)
        if change is None and set(identity) - set(recorded):
            self.set_meta(IDENTITY_META, {**recorded, **identity})
        return change

    def close(self) -> None:
        """Commit queued cache hits and close the connection."""
        if self._db is None:
            return
        try:
            self.flush()
        finally:
            self._db.close()
            self._db = None

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
