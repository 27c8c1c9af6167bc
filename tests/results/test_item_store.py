"""The item store written a chunk at a time (``ChunkedSetWriter``) holds the rows one ``write_items`` writes."""

from __future__ import annotations

import sqlite3

from distilleval.results.item_store import ChunkedSetWriter, write_items
from tests.results.test_item_results import _summary


def _set_rows(path, set_id):
    with sqlite3.connect(path) as db:
        sets = db.execute("SELECT summary_file, models, n_items FROM item_sets WHERE set_id = ?", (set_id,)).fetchall()
        items = db.execute("SELECT position, item_id, gold, input_preview FROM item_rows WHERE set_id = ? "
                           "ORDER BY position", (set_id,)).fetchall()
        models = db.execute("SELECT model, position, present, score, output, error, latency_ms, reason, confidence "
                            "FROM item_model_rows WHERE set_id = ? ORDER BY model, position", (set_id,)).fetchall()
    return sets, items, models


def test_a_set_written_chunk_by_chunk_holds_the_rows_of_one_write(tmp_path):
    summary = _summary(tmp_path / "spec", 23)
    path = tmp_path / "items.sqlite"
    whole, count = write_items(path, "summary.json", summary.items)
    writer = ChunkedSetWriter(path, "summary.json")
    for start in range(0, 23, 5):
        writer.add(summary.items[start:start + 5])
    chunked, chunked_count = writer.close()
    assert chunked != whole and chunked_count == count == 23
    assert _set_rows(path, chunked) == _set_rows(path, whole)


def test_a_discarded_set_leaves_no_row(tmp_path):
    summary = _summary(tmp_path / "spec", 12)
    path = tmp_path / "items.sqlite"
    writer = ChunkedSetWriter(path, "summary.json")
    writer.add(summary.items[:5])
    writer.discard()
    with sqlite3.connect(path) as db:
        assert [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("item_sets", "item_rows", "item_model_rows")] == [0, 0, 0]
