"""Per-item results of a summary, kept in SQLite beside ``summary.json`` rather than inside it.

A summary of a million items would be hundreds of MiB of JSON that ``report`` and ``gate`` load
whole; the per-item rows (gold, input preview, each model's score, output, error, latency,
reason, confidence and truncation) live here instead, and ``summary.json`` keeps a pointer
(``Summary.item_store``). In a run folder the rows go into the run store (``records.sqlite``,
tables ``item_sets``, ``item_rows`` and ``item_model_rows``); a summary written where there is no
run store gets a sibling file ``<summary stem>.items.sqlite`` with the same tables.

Each write is a new *set* (one transaction, all rows or none; or, written while the run's calls go
on, a chunk per transaction: ``ChunkedSetWriter``, whose unfinished set no summary names and the
next write drops); the summary then names the set,
and only after the summary is in place are the older sets of the same summary file deleted. So a
reader always finds the rows its summary names, whether or not a re-score was interrupted.

This module is the storage layer only (SQL in, plain tuples out); ``results.item_results`` turns
the rows into ``ItemResult`` objects and is what every command reads through.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from distilleval.errors import DataError

STORE_SUFFIX = ".items.sqlite"

# Which of a model's per-item fields are present (a field may be present and None).
HAS_SCORE, HAS_OUTPUT, HAS_LATENCY, HAS_CONFIDENCE, TRUNCATED = 1, 2, 4, 8, 16

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS item_sets (
        set_id INTEGER PRIMARY KEY,
        summary_file TEXT NOT NULL,
        models TEXT NOT NULL,
        n_items INTEGER NOT NULL,
        written_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS item_rows (
        set_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        gold TEXT,
        input_preview TEXT NOT NULL,
        PRIMARY KEY (set_id, position)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS item_model_rows (
        set_id INTEGER NOT NULL,
        model INTEGER NOT NULL,
        position INTEGER NOT NULL,
        present INTEGER NOT NULL,
        score REAL,
        output TEXT,
        error TEXT,
        latency_ms REAL,
        reason TEXT,
        confidence REAL,
        PRIMARY KEY (set_id, model, position)
    )
    """,
)


class ItemLike(Protocol):
    """What the writer reads of one item (``summary_json.ItemResult`` has these fields)."""

    id: str
    gold: str | None
    input_preview: str
    scores: dict[str, float | None]
    outputs: dict[str, str | None]
    errors: dict[str, str]
    latency_ms: dict[str, float | None]
    reasons: dict[str, str]
    confidence: dict[str, float | None]
    reached_max_tokens: list[str]


ModelRow = tuple[int, int, int, int, float | None, str | None, str | None, float | None, str | None, float | None]


@dataclass
class RowBlock:
    """Consecutive items' rows, ready to insert as they are (``build.ItemRows.block``): what
    ``write_items`` writes without reading an object per item.

    Attributes:
        models: the model names ``model_rows`` index.
        items: (position in the block, item id, gold, input preview) per item.
        model_rows: (index into ``models``, position in the block, present, score, output, error,
            latency, reason, confidence) per item and model: ``item_model_rows``'s columns.
    """

    models: list[str]
    items: list[tuple[int, str, str | None, str]]
    model_rows: list[tuple[Any, ...]]


def store_path_for(summary_path: Path) -> Path:
    """Where a summary at ``summary_path`` keeps its per-item rows: the run store beside it, else
    a sibling ``<stem>.items.sqlite``."""
    from distilleval.run.store import RECORDS_FILE

    records = summary_path.parent / RECORDS_FILE
    return records if records.is_file() else summary_path.with_name(summary_path.stem + STORE_SUFFIX)


def _model_row(set_id: int, model: int, position: int, item: ItemLike, name: str) -> ModelRow:
    present = ((HAS_SCORE if name in item.scores else 0) | (HAS_OUTPUT if name in item.outputs else 0)
               | (HAS_LATENCY if name in item.latency_ms else 0) | (HAS_CONFIDENCE if name in item.confidence else 0)
               | (TRUNCATED if name in item.reached_max_tokens else 0))
    return (set_id, model, position, present, item.scores.get(name), item.outputs.get(name), item.errors.get(name),
            item.latency_ms.get(name), item.reasons.get(name), item.confidence.get(name))


def _models_of(item: ItemLike) -> Iterator[str]:
    """The item's model names, in the order its fields name them (no repeats)."""
    seen: dict[str, None] = {}
    for names in (item.scores, item.outputs, item.errors, item.latency_ms, item.reasons, item.confidence,
                  item.reached_max_tokens):
        seen.update(dict.fromkeys(names))
    return iter(seen)


def _error(path: Path, err: BaseException, doing: str) -> DataError:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else (str(err) or type(err).__name__)
    return DataError(f"{path}: cannot {doing} the per-item results ({reason})")


@contextmanager
def _connect(path: Path, *, write: bool) -> Iterator[sqlite3.Connection]:
    """A connection to the item store (read-only unless ``write``), closed on exit."""
    if not write and not path.is_file():
        raise DataError(f"{path}: the summary's per-item results are missing (copy the run folder whole, "
                        "summary.json with its records.sqlite or .items.sqlite file)")
    uri = path.resolve().as_uri() + ("" if write else "?mode=ro")
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)) as db:
            yield db
    except (sqlite3.Error, OSError) as err:
        raise _error(path, err, "write" if write else "read") from None


def write_items(path: Path, summary_file: str, items: Iterable[ItemLike | RowBlock]) -> tuple[int, int]:
    """Write every item's rows as one new set, in one transaction; returns (set id, items written).

    Args:
        path: the SQLite file (``store_path_for``); created when missing.
        summary_file: the summary's file name, so ``drop_other_sets`` keeps other summaries' sets.
        items: the items in eval order, one at a time or in ``RowBlock``s.

    Raises:
        DataError: the file cannot be written (one line naming it).
    """
    with _connect(path, write=True) as db:
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute("BEGIN IMMEDIATE")
        try:
            cursor = db.execute("INSERT INTO item_sets (summary_file, models, n_items, written_at) VALUES (?, '[]', 0, ?)",
                                (summary_file, time.time()))
            set_id = int(cursor.lastrowid or 0)
            models: dict[str, int] = {}
            count = _insert_items(db, set_id, 0, models, items)
            db.execute("UPDATE item_sets SET models = ?, n_items = ? WHERE set_id = ?",
                       (json.dumps(list(models)), count, set_id))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return set_id, count


class ChunkedSetWriter:
    """Write one new set a chunk of items at a time, each chunk in its own short transaction: for rows
    written while the run store (the same file) is still taking the run's calls, whose writer one long
    transaction would hold up. The set is whole once ``close`` returns; until a summary names it, it is
    like an interrupted ``write_items`` set (the next write drops it), and ``discard`` deletes it now.

    Args:
        path: the SQLite file (``store_path_for``); created when missing.
        summary_file: the summary's file name, as ``write_items``'s.

    Raises:
        DataError: the file cannot be written (here or in any later call).
    """

    def __init__(self, path: Path, summary_file: str):
        self.path, self.count = path, 0
        self._models: dict[str, int] = {}
        with self._connection() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            cursor = db.execute("INSERT INTO item_sets (summary_file, models, n_items, written_at) VALUES (?, '[]', 0, ?)",
                                (summary_file, time.time()))
            self.set_id = int(cursor.lastrowid or 0)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with _connect(self.path, write=True) as db:
            yield db

    def add(self, items: Iterable[ItemLike | RowBlock]) -> None:
        """Append the next items (in eval order, one at a time or in ``RowBlock``s) in one transaction."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                self.count = _insert_items(db, self.set_id, self.count, self._models, items)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def close(self) -> tuple[int, int]:
        """Record the set's models and size; returns (set id, items written), as ``write_items``."""
        with self._connection() as db:
            db.execute("UPDATE item_sets SET models = ?, n_items = ? WHERE set_id = ?",
                       (json.dumps(list(self._models)), self.count, self.set_id))
        return self.set_id, self.count

    def discard(self) -> None:
        """Delete the set and every row written to it."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            for table in ("item_model_rows", "item_rows", "item_sets"):
                db.execute(f"DELETE FROM {table} WHERE set_id = ?", (self.set_id,))
            db.execute("COMMIT")


def _insert_items(db: sqlite3.Connection, set_id: int, count: int, models: dict[str, int],
                  items: Iterable[ItemLike | RowBlock]) -> int:
    """Insert ``items`` as positions ``count`` on of set ``set_id`` (``models``: name -> index, added to
    as new names come); returns the count after them."""
    batch: list[ModelRow] = []
    item_batch: list[tuple[int, int, str, str | None, str]] = []
    for item in items:
        if isinstance(item, RowBlock):
            _insert(db, item_batch, batch)
            item_batch, batch = [], []
            _insert_block(db, set_id, count, item, [models.setdefault(name, len(models)) for name in item.models])
            count += len(item.items)
            continue
        position = count
        count += 1
        item_batch.append((set_id, position, item.id, item.gold, item.input_preview))
        for name in _models_of(item):
            batch.append(_model_row(set_id, models.setdefault(name, len(models)), position, item, name))
        if len(item_batch) >= 5000:
            _insert(db, item_batch, batch)
            item_batch, batch = [], []
    _insert(db, item_batch, batch)
    return count


def _insert(db: sqlite3.Connection, items: list[tuple[int, int, str, str | None, str]], rows: list[ModelRow]) -> None:
    db.executemany("INSERT INTO item_rows VALUES (?, ?, ?, ?, ?)", items)
    db.executemany("INSERT INTO item_model_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _insert_block(db: sqlite3.Connection, set_id: int, offset: int, block: RowBlock, indexes: list[int]) -> None:
    """Insert ``block``'s rows as positions ``offset`` on of set ``set_id``, its models at ``indexes``."""
    # The set and the offset are this function's own integers, written into the statement so that
    # the block's tuples go in as they are.
    db.executemany(f"INSERT INTO item_rows VALUES ({int(set_id)}, ? + {int(offset)}, ?, ?, ?)", block.items)
    rows: Iterable[tuple[Any, ...]] = block.model_rows
    if indexes != list(range(len(indexes))):
        rows = ((indexes[row[0]], *row[1:]) for row in block.model_rows)
    db.executemany(f"INSERT INTO item_model_rows VALUES ({int(set_id)}, ?, ? + {int(offset)}, ?, ?, ?, ?, ?, ?, ?)",
                   rows)


def drop_other_sets(path: Path, summary_file: str, keep: int) -> None:
    """Delete the sets of ``summary_file`` other than ``keep`` (after the summary naming ``keep`` is written)."""
    with _connect(path, write=True) as db:
        stale = [row[0] for row in db.execute(
            "SELECT set_id FROM item_sets WHERE summary_file = ? AND set_id != ?", (summary_file, keep))]
        if not stale:
            return
        db.execute("BEGIN IMMEDIATE")
        for set_id in stale:
            db.execute("DELETE FROM item_model_rows WHERE set_id = ?", (set_id,))
            db.execute("DELETE FROM item_rows WHERE set_id = ?", (set_id,))
            db.execute("DELETE FROM item_sets WHERE set_id = ?", (set_id,))
        db.execute("COMMIT")


_SCORED = f"{{m}}.present & {HAS_SCORE} AND {{m}}.error IS NULL AND {{m}}.score IS NOT NULL"
"""A model row (alias ``m``) with a score and no failed call."""


def _merge_on_id(left: Iterator[tuple[str, float]], right: Iterator[tuple[str, float]]) -> Iterator[tuple[float, float]]:
    """The score pairs of the ids both streams hold; each stream in id order (SQLite's bytewise order of
    UTF-8 text is Python's order of the strings)."""
    a, b = next(left, None), next(right, None)
    while a is not None and b is not None:
        if a[0] == b[0]:
            yield a[1], b[1]
            a, b = next(left, None), next(right, None)
        elif a[0] < b[0]:
            a = next(left, None)
        else:
            b = next(right, None)


class ItemSet:
    """One written set, opened read-only: the rows behind one summary.

    Args:
        path: the SQLite file.
        set_id: the set the summary names.

    Raises:
        DataError: the file or the set is missing or unreadable.
    """

    def __init__(self, path: Path, set_id: int):
        self.path, self.set_id = path, set_id
        with _connect(path, write=False) as db:
            try:
                found = db.execute("SELECT models, n_items FROM item_sets WHERE set_id = ?", (set_id,)).fetchone()
            except sqlite3.OperationalError:
                found = None
        if found is None:
            raise DataError(f"{path}: holds no per-item results for this summary (set {set_id}); "
                            "was the summary copied without its own rows?")
        self.models: list[str] = json.loads(found[0])
        self.n_items: int = found[1]

    def _index(self, model: str) -> int | None:
        return self.models.index(model) if model in self.models else None

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Stream the rows of ``sql`` (a SELECT over this set's tables), closing the file at the end."""
        with _connect(self.path, write=False) as db:
            cursor = db.execute(sql, params)
            while chunk := cursor.fetchmany(2000):
                yield from chunk

    def model_rows(self, model: str, columns: str, where: str = "", limit: int | None = None) -> Iterator[tuple[Any, ...]]:
        """(item id, *columns) of ``model``'s rows in eval order; ``where`` filters with SQL over the row."""
        index = self._index(model)
        if index is None:
            return iter(())
        sql = (f"SELECT i.item_id, {columns} FROM item_model_rows m JOIN item_rows i "
               "ON i.set_id = m.set_id AND i.position = m.position WHERE m.set_id = ? AND m.model = ?"
               + (f" AND ({where})" if where else "") + " ORDER BY m.position"
               + (f" LIMIT {int(limit)}" if limit is not None else ""))
        return self.query(sql, (self.set_id, index))

    def same_set(self, other: ItemSet) -> bool:
        """Whether ``other`` is this set (the same file and set id)."""
        return other.set_id == self.set_id and other.path.resolve() == self.path.resolve()

    def paired_scores(self, model: str, other: ItemSet, other_model: str, *,
                      eval_order: bool = False) -> Iterator[tuple[float, float]]:
        """(``model``'s score here, ``other_model``'s score in ``other``) of every item both scored without a
        failed call, joined on the item id, in item id order (bytewise, as Python orders the ids).

        ``other`` may be this set (two models of one run: joined on the position in SQL; ``eval_order``
        leaves them in eval order, sparing the sort) or another set, of this file or another (each side
        read in item id order and merged, streamed)."""
        index, other_index = self._index(model), other._index(other_model)
        if index is None or other_index is None:
            return iter(())
        if self.same_set(other):
            sql = ("SELECT a.score, b.score FROM item_model_rows a JOIN item_model_rows b ON b.set_id = a.set_id "
                   "AND b.model = ? AND b.position = a.position "
                   + ("" if eval_order else "JOIN item_rows i ON i.set_id = a.set_id AND i.position = a.position ")
                   + f"WHERE a.set_id = ? AND a.model = ? AND {_SCORED.format(m='a')} AND {_SCORED.format(m='b')} "
                   + ("ORDER BY a.position" if eval_order else "ORDER BY i.item_id"))
            return self.query(sql, (other_index, self.set_id, index))
        return _merge_on_id(self._scored_by_id(index), other._scored_by_id(other_index))

    def _scored_by_id(self, index: int) -> Iterator[tuple[str, float]]:
        """(item id, score) of the model's items scored without a failed call, in item id order."""
        return self.query(
            "SELECT i.item_id, m.score FROM item_model_rows m JOIN item_rows i ON i.set_id = m.set_id "
            f"AND i.position = m.position WHERE m.set_id = ? AND m.model = ? AND {_SCORED.format(m='m')} "
            "ORDER BY i.item_id", (self.set_id, index))

    def item_ids(self) -> Iterator[str]:
        """Every item id in eval order."""
        return (row[0] for row in self.query(
            "SELECT item_id FROM item_rows WHERE set_id = ? ORDER BY position", (self.set_id,)))

    def rows(self) -> Iterator[tuple[tuple[Any, ...], list[tuple[str, tuple[Any, ...]]]]]:
        """Each item's (id, gold, input preview) with its models' (name, (present, score, output, error,
        latency, reason, confidence)) rows, in eval order and model order."""
        items = self.query("SELECT position, item_id, gold, input_preview FROM item_rows WHERE set_id = ? "
                           "ORDER BY position", (self.set_id,))
        # One stream per model, each in position order (the primary key), merged by position.
        streams = [self.query("SELECT position, present, score, output, error, latency_ms, reason, confidence "
                              "FROM item_model_rows WHERE set_id = ? AND model = ? ORDER BY position",
                              (self.set_id, index)) for index in range(len(self.models))]
        heads: list[tuple[Any, ...] | None] = [next(stream, None) for stream in streams]
        for position, item_id, gold, preview in items:
            found = []
            for index, stream in enumerate(streams):
                head = heads[index]
                if head is not None and head[0] == position:
                    found.append((self.models[index], head[1:]))
                    heads[index] = next(stream, None)
            yield (item_id, gold, preview), found

