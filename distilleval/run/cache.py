"""The response cache: one SQLite file shared by runs, content-addressed.

A key is the SHA-256 of what decides the output and nothing else: the model id, the messages,
the sampling parameters (max_tokens, temperature, stop) and the repeat index. Timeouts, retry
counts, API bases and keys never enter it, so changing a timeout does not re-pay for calls.
Only successful completions are stored. A hit costs $0 in the run that replays it, but keeps
the tokens, latency and cost measured when the call was made (for projections), and is flagged
so latency statistics can exclude it. The cache is never the only copy of a paid answer (the
run store is written first) and never stops a run: see ``ResponseCache``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from distilleval.backends.base import ChatRequest, Completion
from distilleval.run.schema import add_missing_columns, is_damage

DEFAULT_CACHE_PATH = Path.home() / ".cache" / "distilleval" / "responses.sqlite"


def cache_path_for(explicit: str | Path | None) -> Path:
    """The cache file to use: ``--cache``, else ``$DISTILLEVAL_CACHE``, else ``DEFAULT_CACHE_PATH``."""
    import os

    chosen = explicit or os.environ.get("DISTILLEVAL_CACHE") or DEFAULT_CACHE_PATH
    return Path(chosen)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    cost_usd REAL NOT NULL,
    created_at REAL NOT NULL
)
"""

# Columns added after the first release; older cache files gain them on open.
_LATER_COLUMNS = {
    "cached_input_tokens": "INTEGER NOT NULL DEFAULT 0",
    "cache_write_tokens": "INTEGER NOT NULL DEFAULT 0",
    "finish_reason": "TEXT",
    # 0 for an answer that came through a provider batch: it has no per-request latency.
    "latency_measured": "INTEGER NOT NULL DEFAULT 1",
    "confidence": "REAL",
    "confidence_basis": "TEXT",
}


@dataclass(frozen=True)
class CachedResponse:
    """A stored completion with the figures measured when it was first made."""

    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    cost_usd: float
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None
    confidence: float | None = None
    confidence_basis: str | None = None


def cache_key(model_id: str, request: ChatRequest, repeat: int = 0) -> str:
    """The content address of one call.

    Args:
        model_id: the backend's model id.
        request: messages and sampling parameters.
        repeat: which sample this is when an item is run several times (0 for the first).

    Returns:
        A hex SHA-256 over a canonical JSON of exactly those fields.
    """
    return KeyMaker(model_id, request, repeat).key(request.messages)


# One encoder for every key: json.dumps with options builds a new encoder on each call.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class KeyMaker:
    """``cache_key`` for many requests that differ only in their messages (one model role's calls):
    everything but the messages is encoded once, so a key costs one encoding of the messages and one hash.

    Args:
        model_id: the backend's model id.
        request: any request of the role: its sampling and reasoning settings are used, not its messages.
        repeat: the repeat index.
    """

    def __init__(self, model_id: str, request: ChatRequest, repeat: int = 0):
        material: dict[str, Any] = {
            "model": model_id,
            "messages": None,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop),
            "repeat": repeat,
        }
        # A reasoning setting decides the answer too; left out when unset so older keys still match.
        if request.reasoning_effort is not None or request.thinking_budget_tokens is not None:
            material["reasoning"] = [request.reasoning_effort, request.thinking_budget_tokens]
        # The canonical JSON of an object is its members' in key order, so the messages' JSON slots in
        # where the placeholder's ``null`` is (the only ``"messages":null`` in it: keys are sorted and unique).
        before, after = _CANONICAL.encode(material).split('"messages":null', 1)
        self._before, self._after = before + '"messages":', after

    def key(self, messages: Any) -> str:
        """The key of the request with these ``messages`` (a hex SHA-256, as ``cache_key``)."""
        canonical = self._before + _CANONICAL.encode(messages) + self._after
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def digest(self, messages: Any) -> bytes:
        """The key's 32 bytes (``digest(m).hex() == key(m)``): what a compact array of keys holds."""
        return self.digest_json(_CANONICAL.encode(messages))

    def digest_json(self, messages_json: str) -> bytes:
        """``digest`` of messages already written as canonical JSON (sorted keys, no spaces, not ASCII-escaped)."""
        return hashlib.sha256((self._before + messages_json + self._after).encode("utf-8")).digest()

    def started(self, messages_start: str) -> Any:
        """A SHA-256 that has taken in the key's text up to ``messages_start``, the fixed start of the messages'
        canonical JSON (a rubric sent as the system message): ``digest_rest`` then hashes only what follows it."""
        return hashlib.sha256((self._before + messages_start).encode("utf-8"))

    def digest_rest(self, started: Any, messages_rest: str) -> bytes:
        """``digest_json(messages_start + messages_rest)``, with ``started`` made by ``started(messages_start)``."""
        hasher = started.copy()
        hasher.update((messages_rest + self._after).encode("utf-8"))
        return hasher.digest()


_ROW = (
    "key, model_id, text, input_tokens, output_tokens, latency_ms, cost_usd, created_at, cached_input_tokens,"
    " cache_write_tokens, finish_reason, latency_measured, confidence, confidence_basis"
)
# A hit's fields in ``CachedResponse`` order, after its key; latency NULL where none was measured.
_HIT_FIELDS = (
    "key, text, input_tokens, output_tokens, CASE WHEN latency_measured THEN latency_ms END, cost_usd,"
    " cached_input_tokens, cache_write_tokens, finish_reason, confidence, confidence_basis"
)
# Keys per bulk look-up: under SQLite's smallest limit on bound parameters (999).
LOOKUP_CHUNK = 900
_PUT = f"INSERT OR REPLACE INTO responses ({_ROW}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _put_row(key: str, model_id: str, completion: Completion) -> tuple:
    measured = completion.latency_ms is not None
    return (
        key,
        model_id,
        completion.text,
        completion.input_tokens,
        completion.output_tokens,
        completion.latency_ms if measured else 0.0,
        completion.cost_usd,
        time.time(),
        completion.cached_input_tokens,
        completion.cache_write_tokens,
        completion.finish_reason,
        int(measured),
        completion.confidence,
        completion.confidence_basis,
    )


class ResponseCache:
    """The SQLite cache file. Safe to share between runs and processes (WAL mode).

    The cache only saves money: a run never fails because of it. The run store is written
    first, the cache after (``Runner``), so a paid answer is never lost to a cache failure. A
    cache file that is damaged (not SQLite, a corrupt page) is moved aside to
    ``<name>.damaged-<UTC time>`` (never deleted) with a one-line warning, and a new one takes
    its place, holding every answer that can still be read from the old one (only those on a
    damaged page are lost). A cache that cannot be written (read-only folder, full disk) is
    still read when it can be, and this run's new answers are kept in the run store only, again
    with one warning line.

    Args:
        path: the SQLite file; its folder is created.
        refresh: when True lookups always miss (but new results are
            written), which is what ``--refresh`` means.
        warn: where the one-line warnings go (default: stderr).
    """

    def __init__(self, path: str | Path, *, refresh: bool = False, warn: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.refresh = refresh
        self._warn = warn or _warn_once
        self._db: sqlite3.Connection | None = None
        self.writable = False
        self._open()

    # -- opening and setting aside ---------------------------------------------------------

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                add_missing_columns(db, "responses", _LATER_COLUMNS)
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError) as err:
            if is_damage(err):
                self._set_aside(err)
            else:
                self._open_read_only(err)
            return
        self._db, self.writable = db, True

    def _open_read_only(self, why: BaseException) -> None:
        """The file cannot be written: read it if it exists (a cached replay still works), write nothing."""
        self._db, self.writable = None, False
        if self.path.is_file():
            uri = f"file:{quote(str(self.path.resolve()))}"
            # immutable=1: a WAL file in a read-only folder cannot get its -shm; read the file alone.
            for flags in ("?mode=ro", "?mode=ro&immutable=1"):
                db = None
                try:
                    db = sqlite3.connect(uri + flags, uri=True, timeout=30.0, isolation_level=None)
                    db.execute("SELECT key FROM responses LIMIT 1").fetchall()
                    self._db = db
                    break
                except sqlite3.Error:
                    if db is not None:
                        db.close()
        reading = "reading it, " if self._db is not None else ""
        self._warn(
            f"distilleval: warning: cannot write the response cache {self.path} ({_reason(why)}): "
            f"{reading}this run's new answers are kept in the run store only (make it writable, or pass --cache FILE)"
        )

    def _set_aside(self, why: BaseException) -> None:
        """Move a damaged file (and its -wal/-shm) aside and start a new one in its place."""
        if self._db is not None:
            self._db.close()
        self._db, self.writable = None, False
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    companion.replace(aside.with_name(aside.name + suffix))
        except OSError as err:
            self._warn(
                f"distilleval: warning: the response cache {self.path} is damaged ({_reason(why)}) and cannot be "
                f"moved aside ({_reason(err)}): running without a cache; move or remove it, or pass --cache FILE"
            )
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
            add_missing_columns(db, "responses", _LATER_COLUMNS)
            copied = 0
            for rows in _batched(_readable_rows(aside), 1000):
                with db:
                    db.execute("BEGIN")
                    db.executemany(_PUT, rows)
                copied += len(rows)
        except (sqlite3.Error, OSError) as err:
            self._warn(
                f"distilleval: warning: the response cache {self.path} is damaged ({_reason(why)}): moved aside to "
                f"{aside.name} (not deleted); cannot start a new one ({_reason(err)}): running without a cache"
            )
            return
        self._warn(
            f"distilleval: warning: the response cache {self.path} is damaged ({_reason(why)}): moved aside to "
            f"{aside.name} (not deleted); its {copied:,} readable answers were copied to a new cache"
        )
        self._db, self.writable = db, True

    def _failed(self, err: BaseException, *, writing: bool) -> None:
        """An operation failed: set a damaged file aside, or stop writing (or reading) a file that cannot take it."""
        if is_damage(err):
            self._set_aside(err)
            return
        if writing:
            self.writable = False
            self._warn(
                f"distilleval: warning: cannot write the response cache {self.path} ({_reason(err)}): "
                "this run's new answers are kept in the run store only"
            )
            return
        if self._db is not None:
            self._db.close()
        self._db, self.writable = None, False
        self._warn(f"distilleval: warning: cannot read the response cache {self.path} ({_reason(err)}): running without it")

    # -- reading and writing ---------------------------------------------------------------

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for ``key``; None on a miss, when refreshing, or when the cache is unusable."""
        if self.refresh or self._db is None:
            return None
        try:
            row = self._db.execute(f"SELECT {_ROW} FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as err:
            self._failed(err, writing=False)
            return None
        if row is None:
            return None
        _, _, text, input_tokens, output_tokens, latency_ms, cost_usd, _, cached, written, finish, measured, sure, basis = row
        response = CachedResponse(text, input_tokens, output_tokens, latency_ms, cost_usd, cached, written, finish, sure, basis)
        return response if measured else dataclasses.replace(response, latency_ms=None)

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple]:
        """The stored responses of those ``keys`` that have one, in a few queries (``LOOKUP_CHUNK`` keys each).

        Returns:
            key -> the ``CachedResponse`` fields as a plain tuple, in field order (``CachedResponse(*row)``
            makes one; ``latency_ms`` is None for an answer without a measured latency). Plain
            tuples, so replaying a million hits makes no object per hit. Empty when refreshing or
            when the cache is unusable, like ``get``; a damaged file is set aside and the look-up
            made again in the new one, which holds every answer that could still be read.
        """
        return {key: tuple(fields) for key, *fields in self._select_many(_HIT_FIELDS, keys)}

    def rows_of(self, keys: Sequence[str]) -> dict[str, int]:
        """Key -> its row id, for those of ``keys`` that have a stored response (none when refreshing or
        unusable, like ``present``). A hint only: a row id can change when an answer is replaced."""
        return dict(self._select_many("key, rowid", keys))

    def present(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` that have a stored response (none when refreshing or unusable, like ``contains``)."""
        return {key for (key,) in self._select_many("key", keys)}

    def _select_many(self, columns: str, keys: Sequence[str]) -> list[tuple]:
        """Rows of ``columns`` (the key first) for those of ``keys`` that are stored."""
        for _ in range(2):  # once more in the new file when the old one was set aside
            if self.refresh or self._db is None or not keys:
                return []
            rows: list[tuple] = []
            try:
                for start in range(0, len(keys), LOOKUP_CHUNK):
                    chunk = keys[start:start + LOOKUP_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows += self._db.execute(f"SELECT {columns} FROM responses WHERE key IN ({marks})", chunk).fetchall()
                return rows
            except sqlite3.Error as err:
                self._failed(err, writing=False)
        return []

    def contains(self, key: str) -> bool:
        """True when ``key`` has a stored response (False when refreshing or unusable, like ``get``)."""
        if self.refresh or self._db is None:
            return False
        try:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None
        except sqlite3.Error as err:
            self._failed(err, writing=False)
            return False

    def put(self, key: str, model_id: str, completion: Completion) -> None:
        """Store a successful completion (replacing an older one under ``--refresh``).

        A completion without a latency (answered through a provider batch) is stored as such:
        its hits replay ``latency_ms`` None. Never raises: a failed write is warned about once.
        """
        self.put_many(model_id, [(key, completion)])

    def put_many(self, model_id: str, entries: list[tuple[str, Completion]]) -> None:
        """Store several ``(key, completion)`` pairs of one model in one transaction (never raises)."""
        rows = [_put_row(key, model_id, completion) for key, completion in entries]
        for _ in range(2):  # once more into the new file when the old one was set aside
            if not self.writable or self._db is None or not rows:
                return
            try:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany(_PUT, rows)
                return
            except sqlite3.Error as err:
                self._failed(err, writing=True)

    def __len__(self) -> int:
        if self._db is None:
            return 0
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _readable_rows(path: Path) -> Iterator[tuple]:
    """Every row of a damaged cache file that can still be read, in ``_PUT`` order.

    Rows are read by rowid in ranges; a range that runs into a damaged page is read one row at
    a time, so only the rows on that page are lost. Nothing is yielded from a file that is not
    SQLite at all, or whose table is unreadable.
    """
    try:
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error:
        return
    try:
        try:
            present = {row[1] for row in db.execute("PRAGMA table_info(responses)")}
            if not set(_ROW.replace(" ", "").split(",")) <= present:
                return
            page_size, pages = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_size", "page_count"))
        except sqlite3.Error:
            return
        try:
            last = db.execute("SELECT MAX(rowid) FROM responses").fetchone()[0] or 0
        except sqlite3.Error:
            last = pages * page_size // 16  # no row is smaller than this: an upper bound on the rowids
        step = 256
        for start in range(1, last + 1, step):
            try:
                yield from db.execute(f"SELECT {_ROW} FROM responses WHERE rowid BETWEEN ? AND ?",
                                      (start, start + step - 1)).fetchall()
            except sqlite3.Error:
                # One row at a time, by equality: a range scan steps onto the next cell, which may
                # be on the damaged page even when the row itself is not.
                for rowid in range(start, start + step):
                    try:
                        yield from db.execute(f"SELECT {_ROW} FROM responses WHERE rowid = ?", (rowid,)).fetchall()
                    except sqlite3.Error:
                        continue
    finally:
        db.close()


def _batched(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_warned: set[str] = set()


def _warn_once(line: str) -> None:
    """Print a warning on stderr unless this process printed the very same line already (the
    cache is opened twice per run: once to see which roles need a backend, once to run)."""
    if line not in _warned:
        _warned.add(line)
        print(line, file=sys.stderr, flush=True)


def _reason(err: BaseException) -> str:
    """An error's own words, without a traceback: ``database disk image is malformed``."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__
