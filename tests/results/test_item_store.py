"""The item store's writers: rows given one item at a time or as ``RowBlock``s, in one write or a chunk at a
time (``ChunkedSetWriter``), are the same rows."""

from __future__ import annotations

import sqlite3

from distilleval.results.build import ItemRow
from distilleval.results.item_store import HAS_LATENCY, HAS_OUTPUT, HAS_SCORE, ChunkedSetWriter, RowBlock, write_items
from tests.results.test_item_results import _summary


def stored(path, set_id):
    db = sqlite3.connect(path)
    try:
        return (db.execute("SELECT models, n_items FROM item_sets WHERE set_id = ?", (set_id,)).fetchone(),
                db.execute("SELECT * FROM item_rows WHERE set_id = ? ORDER BY position", (set_id,)).fetchall(),
                db.execute("SELECT * FROM item_model_rows WHERE set_id = ? ORDER BY model, position",
                           (set_id,)).fetchall())
    finally:
        db.close()


def one(item_id, scores, **fields):
    return ItemRow(id=item_id, gold="pos", input_preview=f"text {item_id}", scores=scores,
                   outputs={name: f"{name} says" for name in scores}, **fields)


def test_blocks_write_the_rows_single_items_write(tmp_path):
    singles = [one("a", {"t": 1.0, "s": 0.0}, latency_ms={"s": 12.5}, reasons={"s": "wrong_label"}),
               one("b", {"t": 1.0, "s": None}, errors={"s": "timeout"}),
               one("c", {"t": 0.0, "s": 1.0}, reached_max_tokens=["t"], confidence={"t": 0.5})]
    present = HAS_SCORE | HAS_OUTPUT
    # The second block names its models in the other order: its rows are written under the set's indexes.
    blocks = [
        RowBlock(["t", "s"], [(0, "a", "pos", "text a")],
                 [(0, 0, present, 1.0, "t says", None, None, None, None),
                  (1, 0, present | HAS_LATENCY, 0.0, "s says", None, 12.5, "wrong_label", None)]),
        one("b", {"t": 1.0, "s": None}, errors={"s": "timeout"}),
        RowBlock(["s", "t"], [(0, "c", "pos", "text c")],
                 [(0, 0, present, 1.0, "s says", None, None, None, None),
                  (1, 0, present | 8 | 16, 0.0, "t says", None, None, None, 0.5)]),
    ]
    first = write_items(tmp_path / "one.sqlite", "summary.json", singles)
    second = write_items(tmp_path / "blocks.sqlite", "summary.json", blocks)
    assert first == second == (1, 3)
    assert stored(tmp_path / "one.sqlite", 1) == stored(tmp_path / "blocks.sqlite", 1)
    # The chunked writer takes the same blocks, a chunk a transaction, into the same rows.
    writer = ChunkedSetWriter(tmp_path / "chunked.sqlite", "summary.json")
    writer.add(blocks[:2])
    writer.add(blocks[2:])
    assert writer.close() == (1, 3)
    assert stored(tmp_path / "chunked.sqlite", 1) == stored(tmp_path / "one.sqlite", 1)



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
