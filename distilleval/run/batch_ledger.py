"""The batch ledger: which provider batches a run submitted, and which request is which item.

Two tables in the run's ``records.sqlite`` (its own connection, WAL like the run store):
``batch_jobs`` (one row per submitted batch: role, chunk number, provider, the token it was
tagged with, the batch id once the provider returned it, when it was submitted, whether its
results were written back) and ``batch_requests`` (``custom_id`` -> item, repeat and cache
key). A job and its requests are written in one transaction *before* the submission, and the
batch id the moment it comes back, so a process killed at any point can find its batch again
and never submits the same requests twice.

Each of those writes is checkpointed into ``records.sqlite`` itself before the call returns
(``PRAGMA wal_checkpoint``): WAL mode would otherwise leave it only in ``records.sqlite-wal``
until the last connection closes, and a run folder copied or moved without its ``-wal`` file
after a kill would forget its batches and submit them again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS batch_jobs (
        role TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        provider TEXT NOT NULL,
        job_token TEXT NOT NULL,
        batch_id TEXT,
        requests INTEGER NOT NULL,
        created_at REAL NOT NULL,
        collected INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (role, chunk)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS batch_requests (
        role TEXT NOT NULL,
        custom_id TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        cache_key TEXT NOT NULL,
        PRIMARY KEY (role, custom_id)
    )
    """,
)


@dataclass(frozen=True)
class BatchJob:
    """One submitted (or being submitted) provider batch."""

    role: str
    chunk: int
    provider: str
    job_token: str
    batch_id: str | None
    requests: int
    created_at: float
    collected: bool


@dataclass(frozen=True)
class BatchRequestRow:
    """What one ``custom_id`` of a batch stands for."""

    custom_id: str
    item_id: str
    repeat: int
    cache_key: str


class BatchLedger:
    """The batch tables of one run store file.

    Args:
        records_path: the run's ``records.sqlite``.
    """

    def __init__(self, records_path: str | Path):
        self._db = sqlite3.connect(records_path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def jobs(self, role: str) -> list[BatchJob]:
        """Every job of ``role``, in submission order."""
        rows = self._db.execute(
            "SELECT role, chunk, provider, job_token, batch_id, requests, created_at, collected FROM batch_jobs"
            " WHERE role = ? ORDER BY chunk",
            (role,),
        )
        return [BatchJob(job_role, chunk, provider, token, batch_id, requests, created_at, bool(collected))
                for job_role, chunk, provider, token, batch_id, requests, created_at, collected in rows]

    def add_job(self, role: str, provider: str, job_token: str, requests: Iterable[BatchRequestRow]) -> BatchJob:
        """Record a job about to be submitted, with its requests, in one transaction.

        The caller numbers ``custom_id``s itself; the chunk is the next free number of ``role``.
        """
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            chunk = self._db.execute(
                "SELECT COALESCE(MAX(chunk), -1) + 1 FROM batch_jobs WHERE role = ?", (role,)
            ).fetchone()[0]
            rows = [(role, r.custom_id, chunk, r.item_id, r.repeat, r.cache_key) for r in requests]
            self._db.executemany("INSERT INTO batch_requests VALUES (?, ?, ?, ?, ?, ?)", rows)
            created_at = time.time()
            self._db.execute(
                "INSERT INTO batch_jobs (role, chunk, provider, job_token, batch_id, requests, created_at)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?)",
                (role, chunk, provider, job_token, len(rows), created_at),
            )
        self._checkpoint()
        return BatchJob(role, chunk, provider, job_token, None, len(rows), created_at, False)

    def next_chunk(self, role: str) -> int:
        """The chunk number the next ``add_job`` of ``role`` will get."""
        return self._db.execute("SELECT COALESCE(MAX(chunk), -1) + 1 FROM batch_jobs WHERE role = ?", (role,)).fetchone()[0]

    def set_batch_id(self, job: BatchJob, batch_id: str) -> BatchJob:
        """Persist the provider's batch id of ``job`` (committed at once)."""
        self._db.execute("UPDATE batch_jobs SET batch_id = ? WHERE role = ? AND chunk = ?", (batch_id, job.role, job.chunk))
        self._checkpoint()
        return BatchJob(job.role, job.chunk, job.provider, job.job_token, batch_id, job.requests, job.created_at, False)

    def mark_collected(self, job: BatchJob) -> None:
        """Every result of ``job`` is in the run store."""
        self._db.execute("UPDATE batch_jobs SET collected = 1 WHERE role = ? AND chunk = ?", (job.role, job.chunk))
        self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy every committed page from the ``-wal`` file into ``records.sqlite`` itself.

        FULL waits (up to the busy timeout) for readers of this file to let go; the run store's
        connection in this process holds no read open between calls.
        """
        busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        if busy:  # a reader in another process: try once more, then go on (the WAL still holds it)
            self._db.execute("PRAGMA wal_checkpoint(FULL)")

    def requests(self, job: BatchJob) -> dict[str, BatchRequestRow]:
        """``custom_id`` -> request row, for one job."""
        rows = self._db.execute(
            "SELECT custom_id, item_id, repeat, cache_key FROM batch_requests WHERE role = ? AND chunk = ?",
            (job.role, job.chunk),
        )
        return {row[0]: BatchRequestRow(*row) for row in rows}

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> "BatchLedger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_only(records_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(records_path).resolve()}?mode=ro", uri=True, timeout=30.0)


def has_open_jobs(records_path: str | Path) -> bool:
    """Whether a run store holds a batch submitted (or being submitted) and not yet collected; reads only."""
    db = _read_only(Path(records_path))
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'batch_jobs'").fetchone() is None:
            return False
        return db.execute("SELECT 1 FROM batch_jobs WHERE collected = 0 LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        db.close()


def recorded_meta(records_path: str | Path, key: str) -> object:
    """A run attribute of a run store (``RunStore.get_meta``), read without writing; None when absent."""
    import json

    db = _read_only(Path(records_path))
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None
    except sqlite3.Error:
        return None
    finally:
        db.close()
