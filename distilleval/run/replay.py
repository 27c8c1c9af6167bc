"""Serve cache hits in bulk: one look-up and one insert per chunk of calls, inside SQLite, no object per hit.

A fully cached re-run of a million items is two million hits. Served one by one through the
runner, each cost a key, a look-up, a ``CallResult``, a trip through the event loop and a queued
row. Here the run store's connection attaches the response cache file, and a chunk of calls is
written to the store in one ``INSERT ... SELECT`` that joins the chunk's keys with the cache's
rows (by the row where the backend scan found each key, when it did: see ``Planned``): a hit's row goes from one file to the other without becoming Python objects, and only the
misses go on to the runner. The rows are those ``RunStore.add`` writes for a hit the runner
serves itself: $0, flagged as a hit, with the tokens, latency and cost measured when the call
was made.

Hits are committed ``BULK_HIT_BATCH`` rows a transaction, and always before a miss is handed on
(the runner's next write then follows them). Where the cache cannot be attached (refreshing, a
read-only or unusable cache) or a statement fails (a damaged page), the chunks not yet committed
and the rest take the plain way: ``ResponseCache.get_many`` then ``RunStore.add_hits``, which set
a damaged cache aside or raise the store's one-line error, as every other cache or store
operation does.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from distilleval.run import store as run_store
from distilleval.run.cache import ResponseCache
from distilleval.run.store import RunStore

Planned = tuple[str, str, int, str, int | None, Any]
"""One call to serve: ``(item_id, model role, repeat, cache key, cache row, payload)``. The cache
row is where an earlier look-up found the key (None: unknown), a hint checked against the key:
reading rows in run order is cheap, searching a large cache's key index at random is not. The
payload is the caller's own (what it needs to build the call if it misses)."""

_ATTACHED = "replay_cache"
# The run store's page cache while hits are written (KiB, negative as SQLite takes it): each row also goes
# into the (item, model, repeat) key index, whose pages the default 2 MiB keeps evicting. A fixed bound,
# whatever the run's size; a quarter less CPU per row at 600,000 rows.
_STORE_PAGE_CACHE = -32 * 1024
_PLAN_NAME = "replay_plan"
_PLAN = f"temp.{_PLAN_NAME}"
_INSERT = """
INSERT OR REPLACE INTO main.records (
    item_id, model, repeat, status, text, error_kind, error_message, input_tokens, output_tokens, latency_ms, cost_usd,
    cache_hit, attempts, cached_input_tokens, cache_write_tokens, finish_reason, served_model, confidence,
    confidence_basis, finished_at)
SELECT p.item_id, p.model, p.repeat, 'ok', r.text, NULL, NULL, r.input_tokens, r.output_tokens,
    CASE WHEN r.latency_measured THEN r.latency_ms END, 0.0, 1, 0, r.cached_input_tokens, r.cache_write_tokens,
    r.finish_reason, NULL, r.confidence, r.confidence_basis, ?
"""
# The calls whose cache row still holds their key, read by row id; then the others, searched by key.
_INSERT_BY_ROW = _INSERT + f"""FROM {_PLAN} AS p JOIN {_ATTACHED}.responses AS r ON r.rowid = p.cache_row
WHERE r.key = p.key ORDER BY p.rowid"""
_INSERT_BY_KEY = _INSERT + f"""FROM {_PLAN} AS p JOIN {_ATTACHED}.responses AS r ON r.key = p.key
WHERE NOT EXISTS (SELECT 1 FROM {_ATTACHED}.responses AS h WHERE h.rowid = p.cache_row AND h.key = p.key) ORDER BY p.rowid"""
_MISSED = f"SELECT p.key FROM {_PLAN} AS p WHERE NOT EXISTS (SELECT 1 FROM {_ATTACHED}.responses AS r WHERE r.key = p.key)"


def replay_hits(
    chunks: Iterable[Sequence[Planned]],
    cache: ResponseCache,
    store: RunStore,
    *,
    on_hits: Callable[[str, int], None] | None = None,
) -> Iterator[Planned]:
    """For each chunk: look its keys up at once, write its hits to ``store``, then yield its misses.

    Args:
        chunks: the calls, chunk by chunk, in run order; drawn one chunk at a time.
        cache: the response cache (a refreshing or unusable cache answers nothing: all miss).
        store: where the hits' rows go.
        on_hits: told ``(role, count)`` for each chunk's hits of a role once they are committed,
            chunk by chunk and role by role in the order of their first hit.

    Yields:
        The misses, in order, as they were given.
    """
    chunks = iter(chunks)
    joined = _JoinedReplay.attach(cache, store) if cache.writable and not cache.refresh else None
    if joined is None:
        yield from _replay_plainly(chunks, cache, store, on_hits)
        return
    try:
        for chunk in chunks:
            if not chunk:
                continue
            missed = joined.add(chunk)
            written = missed is not None
            if written and (missed or joined.rows >= run_store.BULK_HIT_BATCH):
                written = joined.commit(on_hits)
            if not written:  # what is not committed, and the rest, go the plain way
                redo = joined.take_uncommitted()
                if missed is None:
                    redo.append(chunk)
                yield from _replay_plainly(itertools.chain(redo, chunks), cache, store, on_hits)
                return
            if missed:
                yield from (planned for planned in chunk if planned[3] in missed)
        if not joined.commit(on_hits):
            yield from _replay_plainly(joined.take_uncommitted(), cache, store, on_hits)
    finally:
        joined.detach()


class _JoinedReplay:
    """The run store's connection with the response cache attached, and the transaction of hits it has open."""

    def __init__(self, db: sqlite3.Connection, page_cache: int):
        self._db = db
        self._page_cache = page_cache  # the store's own page cache setting, put back on detach
        self._uncommitted: list[tuple[Sequence[Planned], Counter[str]]] = []
        self.rows = 0

    @classmethod
    def attach(cls, cache: ResponseCache, store: RunStore) -> "_JoinedReplay | None":
        """Attach ``cache``'s file to ``store``'s connection (None where it cannot be)."""
        store.flush()  # hits the runner queued go first, as they came
        db = store.db
        try:
            db.execute(f"ATTACH DATABASE ? AS {_ATTACHED}", (str(cache.path),))
        except sqlite3.Error:
            return None
        try:
            db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_PLAN_NAME} (item_id TEXT, model TEXT, repeat INTEGER, key TEXT, cache_row INTEGER)")
            db.execute(f"SELECT key FROM {_ATTACHED}.responses LIMIT 1").fetchall()
            page_cache = db.execute("PRAGMA main.cache_size").fetchone()[0]
            db.execute(f"PRAGMA main.cache_size = {_STORE_PAGE_CACHE}")
        except sqlite3.Error:
            _quietly(db, f"DETACH DATABASE {_ATTACHED}")
            return None
        return cls(db, page_cache)

    def add(self, chunk: Sequence[Planned]) -> set[str] | None:
        """Write ``chunk``'s hits in the open transaction; the keys that missed (None: a statement failed)."""
        db = self._db
        try:
            if not db.in_transaction:
                db.execute("BEGIN")
            db.execute(f"DELETE FROM {_PLAN}")
            db.executemany(f"INSERT INTO {_PLAN} VALUES (?, ?, ?, ?, ?)", [planned[:5] for planned in chunk])
            now = time.time()
            hits = db.execute(_INSERT_BY_ROW, (now,)).rowcount
            if hits < len(chunk):
                hits += db.execute(_INSERT_BY_KEY, (now,)).rowcount
            missed = {key for (key,) in db.execute(_MISSED)} if hits < len(chunk) else set()
        except sqlite3.Error:
            return None
        self._uncommitted.append((chunk, Counter(planned[1] for planned in chunk if planned[3] not in missed)))
        self.rows += hits
        return missed

    def commit(self, on_hits: Callable[[str, int], None] | None) -> bool:
        """Commit the open transaction, then count its hits (False: the commit failed)."""
        try:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        except sqlite3.Error:
            return False
        done, self._uncommitted, self.rows = self._uncommitted, [], 0
        if on_hits is not None:
            for _, counts in done:
                for role, count in counts.items():
                    on_hits(role, count)
        return True

    def take_uncommitted(self) -> list[Sequence[Planned]]:
        """Roll the open transaction back; the chunks it held (hits and misses), to be served again."""
        _quietly(self._db, "ROLLBACK")
        chunks, self._uncommitted, self.rows = [chunk for chunk, _ in self._uncommitted], [], 0
        return chunks

    def detach(self) -> None:
        """Commit what is still open (only when the replay was cut short: Ctrl-C while drawing a chunk; every row
        written is a whole hit's), drop the plan, detach the cache."""
        try:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        except sqlite3.Error:
            _quietly(self._db, "ROLLBACK")
        _quietly(self._db, f"DROP TABLE IF EXISTS {_PLAN}")
        _quietly(self._db, f"DETACH DATABASE {_ATTACHED}")
        _quietly(self._db, f"PRAGMA main.cache_size = {int(self._page_cache)}")


def _quietly(db: sqlite3.Connection, statement: str) -> None:
    try:
        db.execute(statement)
    except sqlite3.Error:
        pass


def _replay_plainly(
    chunks: Iterable[Sequence[Planned]],
    cache: ResponseCache,
    store: RunStore,
    on_hits: Callable[[str, int], None] | None,
) -> Iterator[Planned]:
    """The plain way: each chunk looked up with ``ResponseCache.get_many``, its hits queued with ``RunStore.add_hits``."""
    for chunk in chunks:
        found = cache.get_many([planned[3] for planned in chunk]) if chunk else {}
        if not found:
            yield from chunk
            continue
        hits = [(item_id, role, repeat, found[key]) for item_id, role, repeat, key, _, _ in chunk if key in found]
        store.add_hits(hits)
        if on_hits is not None:
            for role, count in Counter(hit[1] for hit in hits).items():
                on_hits(role, count)
        if len(hits) < len(chunk):
            yield from (planned for planned in chunk if planned[3] not in found)
