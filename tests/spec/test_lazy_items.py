"""``load_items_lazily`` (``spec.lazy_items.LazyItems``) gives ``load_items``'s items, item for item, or its error.

The threshold (``spec.lazy_items.LAZY_FROM``) is lowered so that small files take the lazy path.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilleval.errors import DataError
from distilleval.spec import lazy_items
from distilleval.spec.data import load_items
from distilleval.spec.lazy_items import LazyItems, load_items_lazily, split_count
from distilleval.spec.task_spec import load_spec
from tests.spec.test_fast_rows import DATA_BLOCKS, MODELS, SCORERS, TINY, _line, _spec

BOM = b"\xef\xbb\xbf"


def _fields(items: Any) -> list[tuple[Any, ...]]:
    return [(i.id, i.inputs, i.gold, type(i.gold), i.split, i.line) for i in items]


def _outcome(load: Any, spec: Any) -> tuple[str, Any]:
    try:
        return "items", _fields(load(spec))
    except DataError as err:
        return "error", str(err)
    except Exception as err:  # e.g. a lone surrogate in an id: the same failure either way
        return "raised", type(err).__name__


def _lazy(spec: Any) -> Any:
    with mock.patch.object(lazy_items, "LAZY_FROM", 1):
        return load_items_lazily(spec)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, max_size=20), block=st.sampled_from(["ids", "short"]),
       scorer=st.sampled_from(["label", "text"]), crlf=st.booleans(), bom=st.booleans())
def test_lazy_items_match_the_list_path_or_its_error(lines, block, scorer, crlf, bom):
    ending = b"\r\n" if crlf else b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "data.jsonl").write_bytes((BOM if bom else b"") + ending.join(lines) + ending)
        spec = _spec(folder, block, scorer, "data.jsonl")
        assert _outcome(_lazy, spec) == _outcome(load_items, spec)


ROWS = [
    {"id": "a", "message": "Rechnung doppelt bezahlt ü", "label": "Billing ", "split": "train"},
    {"id": "b", "message": "crash 💥 on start", "label": "technical", "split": "eval"},
    {"id": "c", "message": "invoice please", "label": "INVOICE", "split": "eval"},
    {"id": 7, "message": "an id that is a number", "label": "other", "split": "eval"},
    {"id": "e", "message": 42, "label": "other", "split": "train"},  # a number as input: the plain path's row
    {"id": "f", "message": "no gold here", "label": "", "split": "eval"},
    {"id": "g", "message": "\u3000wide space", "label": "other", "split": "train"},
    {"id": "ä\u0301", "message": "a\u0301", "label": "billing", "split": "eval"},
]


BLOCKS = {  # split by a column; by a hash of the id
    "ids": DATA_BLOCKS["ids"].format(name="data.jsonl"),
    "hash": "data:\n  path: data.jsonl\n  input: {text: message}\n  gold: label\n  id: id\n"
            "  split: {eval_fraction: 0.5, seed: 3}\n",
}


def _write(folder: Path, rows: list[dict[str, Any]], *, block: str = "ids", scorer: str = "label") -> Any:
    lines = [json.dumps(row, ensure_ascii=n % 2 == 0).encode() for n, row in enumerate(rows)]
    lines.insert(2, b"")  # a blank line, counted by the line numbers
    (folder / "data.jsonl").write_bytes(BOM + b"\n".join(lines) + b"\n")
    (folder / "rubric.md").write_text((TINY / "rubric.md").read_text())
    (folder / "spec.yaml").write_text("name: lazy\n" + BLOCKS[block] + SCORERS[scorer] + MODELS)
    return load_spec(folder / "spec.yaml")


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_varied_rows_are_read_back_as_the_list_path_reads_them(tmp_path, block):
    spec = _write(tmp_path, ROWS, block=block)
    lazy, listed = _lazy(spec), load_items(spec)
    assert isinstance(lazy, LazyItems)
    assert _fields(lazy) == _fields(listed) and len(lazy) == len(listed) == len(ROWS)
    assert _fields([lazy[0], lazy[3], lazy[-1]]) == _fields([listed[0], listed[3], listed[-1]])
    assert _fields(lazy[2:6]) == _fields(listed[2:6]) and _fields(lazy[::-2]) == _fields(listed[::-2])
    with pytest.raises(IndexError):
        lazy[len(ROWS)]
    for split in ("eval", "train"):
        assert _fields(lazy.of_split(split)) == _fields([i for i in listed if i.split == split])
        assert split_count(lazy, split) == split_count(listed, split)
    assert _fields(lazy.of_split("eval").with_gold().head(2)) == _fields(
        [i for i in listed if i.split == "eval" and i.gold is not None][:2])
    assert list(lazy.of_split("eval").lines_without_gold()) == [i.line for i in listed if i.split == "eval" and i.gold is None]


def test_a_text_task_and_many_rows_read_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(lazy_items, "CHUNK", 3)
    rows = [{"id": f"r{n}", "message": f"message {n} ✓", "label": f"gold {n % 4}", "split": ("eval", "train")[n % 3 == 0]}
            for n in range(50)]
    spec = _write(tmp_path, rows, scorer="text")
    lazy = _lazy(spec)
    assert isinstance(lazy, LazyItems) and _fields(lazy) == _fields(load_items(spec))


def test_the_row_order_of_the_file_changes_no_item(tmp_path):
    rows = [{"id": f"r{n}", "message": f"m{n}", "label": "other", "split": "eval"} for n in range(40)]
    sequences = []
    for seed in (0, 1):
        folder = tmp_path / str(seed)
        folder.mkdir()
        random.Random(seed).shuffle(rows)
        sequences.append([(i.id, i.inputs, i.gold, i.split) for i in _lazy(_write(folder, rows))])
    assert sequences[0] == sequences[1]


@pytest.mark.parametrize("rows", [
    [*ROWS, {**ROWS[1], "message": "again"}],  # a repeated id
    [*ROWS[:3], {**ROWS[0], "label": "refund"}, *ROWS[3:], {**ROWS[1]}],  # a bad label before a repeated id
    [*ROWS[:3], {**ROWS[1]}, {**ROWS[0], "label": "refund"}],  # a repeated id before a bad label
    [*ROWS, {"id": "x", "label": "other", "split": "eval"}],  # an input column missing
    [*ROWS, {"id": "x", "message": "m", "label": "other", "split": "dev"}],  # an unknown split value
])
def test_a_bad_row_or_a_repeated_id_is_worded_as_the_list_path_words_it(tmp_path, rows):
    spec = _write(tmp_path, rows)
    kind, message = _outcome(_lazy, spec)
    assert (kind, message) == _outcome(load_items, spec) and kind == "error"


def test_a_repeated_id_keeps_the_list_paths_message(tmp_path):
    spec = _write(tmp_path, [*ROWS, {**ROWS[1], "message": "again"}])
    with pytest.raises(DataError, match=r"data.jsonl:10: duplicate id 'b' \(first on line 2\)"):
        _lazy(spec)


def test_a_small_file_is_a_list(tmp_path):
    spec = _write(tmp_path, ROWS)
    assert isinstance(load_items_lazily(spec), list)


def test_a_data_file_changed_after_loading_is_an_error_not_other_items(tmp_path):
    spec = _write(tmp_path, ROWS)
    lazy = _lazy(spec)
    path = tmp_path / "data.jsonl"
    path.write_bytes(path.read_bytes().replace(b"crash", b"CRASH"))
    os.utime(path, ns=(0, 0))
    with pytest.raises(DataError, match="changed while it was in use"):
        list(lazy)
