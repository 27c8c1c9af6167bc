"""The item store's writer: rows given one item at a time or as ``RowBlock``s are the same rows."""

from __future__ import annotations

import sqlite3

from distilleval.results.build import ItemRow
from distilleval.results.item_store import HAS_LATENCY, HAS_OUTPUT, HAS_SCORE, RowBlock, write_items


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
