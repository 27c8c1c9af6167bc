"""The fast path of ``load_items`` (``spec.fast_rows``) gives exactly what the plain path gives.

Every test loads the same file twice, once as shipped and once with the fast reader and the row
shortcut switched off, and compares the items (ids, inputs, gold with its type, split, line,
order) or the error, word for word.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distilleval.errors import DataError
from distilleval.spec import data as data_module
from distilleval.spec import fast_rows
from distilleval.spec.data import Item, canonical_order, content_id, load_items, order_key
from distilleval.spec.task_spec import load_spec

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"

# data blocks of the specs the rows are read under: id and split columns; content ids and hash
# splits over two inputs; a short length limit; a text task whose gold is kept as read.
DATA_BLOCKS = {
    "ids": "data:\n  path: {name}\n  input: {{text: message}}\n  gold: label\n  id: id\n  split: {{column: split}}\n",
    "content": "data:\n  path: {name}\n  input: {{text: message, title: subject}}\n  gold: label\n"
               "  split: {{eval_fraction: 0.5, seed: 7}}\n",
    "short": "data:\n  path: {name}\n  input: {{text: message}}\n  gold: label\n  id: id\n  max_field_chars: 6\n",
}
SCORERS = {
    "label": "output:\n  kind: label\n  labels: [billing, technical, other]\n"
             "scorer:\n  kind: exact_match\n  normalize: {case: true, whitespace: true}\n  aliases: {billing: [invoice]}\n",
    "text": "output:\n  kind: text\nscorer: exact_match\n",
}
MODELS = "teacher:\n  model: anthropic/claude-opus-4-6\n  prompt: rubric.md\nstudent:\n  model: openai/gpt-4o-mini\n  prompt: \"{text}\"\n"

_text = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ["", "billing", "Billing ", "INVOICE", "other", "bogus", "eval", "train", "test", "é", "a\u0301", "\u3000"])
_value = _text | st.none() | st.integers(-3, 3) | st.booleans() | st.floats(allow_nan=False, width=32) \
    | st.lists(st.integers(0, 2), max_size=2) | st.dictionaries(st.sampled_from(["k"]), st.integers(0, 2))
_DELETE = object()
# A valid row, then at most one column changed to any value or taken away.
_row = st.tuples(
    st.fixed_dictionaries({
        "id": st.text(st.characters(codec="utf-8"), min_size=1, max_size=6) | st.sampled_from(["a", "b", "ü"]),
        "message": _text, "subject": _text,
        "label": st.sampled_from(["billing", "Billing ", "INVOICE", "other", "technical"]),
        "split": st.sampled_from(["train", "eval", "test"]),
    }),
    st.one_of(*[st.none()] * 5, st.tuples(st.sampled_from(["id", "message", "subject", "label", "split"]),
                                            _value | st.just(_DELETE))),
).map(lambda pair: _changed(*pair))


def _changed(row: dict[str, Any], change: tuple[str, Any] | None) -> dict[str, Any]:
    if change is not None:
        key, value = change
        if value is _DELETE:
            del row[key]
        else:
            row[key] = value
    return row


# Lines the fast reader must hand back to the plain reader, or read as it does.
_ODD_LINES = st.sampled_from([
    b"", b"   ", "\u3000".encode(), b"{", b"[1, 2]", b"7", b'{"id": "x", "message": "m"}\r{"id": "y"}',
    b'{"id": "\\ud800", "message": "m", "label": "billing"}', b"\xff\xfe", b'{"id": NaN, "message": "m"}',
    b'{"id": 100000000000000000000000000000, "message": "m", "label": "other"}',
    b'{"id": "dup", "id": "z", "message": "m", "label": "other"}', b'{"message": "m", "label": "other"} x',
    b"\xef\xbb\xbf" + b'{"id": "bom", "message": "m"}', b"[" * 1100 + b"]" * 1100,
    b'{"id": "cr",\r "message": "m", "label": "other", "split": "eval"}',
])
_json_line = st.tuples(_row, st.booleans()).map(lambda pair: json.dumps(pair[0], ensure_ascii=pair[1]).encode())
_line = st.one_of(*[_json_line] * 30, _ODD_LINES)


def _spec(folder: Path, block: str, scorer: str, name: str) -> Any:
    (folder / "rubric.md").write_text((TINY / "rubric.md").read_text())
    (folder / "spec.yaml").write_text("name: fast\n" + DATA_BLOCKS[block].format(name=name) + SCORERS[scorer] + MODELS)
    return load_spec(folder / "spec.yaml")


def _outcome(spec: Any, **options: Any) -> tuple[str, str]:
    """What ``load_items`` gives: the items (their every field, types included), or the error."""
    try:
        items = load_items(spec, **options)
    except DataError as err:
        return "error", str(err)
    except Exception as err:  # e.g. a lone surrogate in an id: the same failure either way
        return "raised", type(err).__name__
    return "items", repr([(i.id, i.inputs, i.gold, i.split, i.line) for i in items])


def _plain_outcome(spec: Any, **options: Any) -> tuple[str, str]:
    with mock.patch.object(data_module, "fast_jsonl_available", lambda: False), \
            mock.patch.object(data_module, "row_reader", lambda *args, **kwargs: None):
        return _outcome(spec, **options)


def _both(lines_bytes: bytes, block: str, scorer: str, name: str, **options: Any) -> tuple[Any, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / name).write_bytes(lines_bytes)
        spec = _spec(folder, block, scorer, name)
        if "path" in options:
            options["path"] = folder / name
        return _outcome(spec, **options), _plain_outcome(spec, **options)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, max_size=20), block=st.sampled_from(sorted(DATA_BLOCKS)),
       scorer=st.sampled_from(sorted(SCORERS)), crlf=st.booleans(), require_gold=st.booleans(), pool=st.booleans())
def test_jsonl_fast_path_matches_plain(lines, block, scorer, crlf, require_gold, pool):
    ending = b"\r\n" if crlf else b"\n"
    fast, plain = _both(ending.join(lines) + ending, block, scorer, "data.jsonl", require_gold=require_gold,
                        **({"path": True} if pool else {}))
    assert fast == plain


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row.map(lambda row: {key: str(value) for key, value in row.items()}), max_size=10),
       block=st.sampled_from(sorted(DATA_BLOCKS)), scorer=st.sampled_from(sorted(SCORERS)))
def test_csv_rows_match_plain(rows, block, scorer):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "message", "subject", "label", "split"], restval="")
    writer.writeheader()
    writer.writerows(rows)
    fast, plain = _both(out.getvalue().encode(), block, scorer, "data.csv")
    assert fast == plain


def test_the_fast_path_is_taken_and_matches_on_ordinary_rows(tmp_path):
    lines = [json.dumps({"id": f"r{i}", "message": f"m {i} ü", "label": ["billing", "Other", "invoice"][i % 3],
                         "split": ["train", "eval"][i % 2]}) for i in range(300)]
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n")
    spec = _spec(tmp_path, "ids", "label", "data.jsonl")
    calls = []
    real = fast_rows.row_reader

    def counting(*args, **kwargs):
        read = real(*args, **kwargs)
        return lambda *row: calls.append(1) or read(*row)

    with mock.patch.object(data_module, "row_reader", counting):
        fast = _outcome(spec)
    assert len(calls) == 300 and fast[0] == "items"
    assert fast == _plain_outcome(spec)


def test_a_bad_row_far_down_is_reported_as_by_the_plain_path(tmp_path):
    lines = [json.dumps({"id": f"r{i}", "message": "m", "label": "billing", "split": "eval"}) for i in range(50)]
    lines[41] = json.dumps({"id": "r41", "message": "m", "label": "nope", "split": "eval"})
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n")
    spec = _spec(tmp_path, "ids", "label", "data.jsonl")
    fast = _outcome(spec)
    assert fast == _plain_outcome(spec)
    assert fast[0] == "error" and ":42: column 'label': gold 'nope' is not one of output.labels" in fast[1]


@given(inputs=st.dictionaries(st.sampled_from(["text", "title"]), st.text(), min_size=1, max_size=2),
       gold=st.none() | st.text())
def test_content_id_without_json_dumps_is_content_id(inputs, gold):
    spec = mock.Mock()
    spec.data.input = {name: name.upper() for name in inputs}
    assert fast_rows._content_id(spec)(inputs, gold) == content_id(inputs, gold)


@given(ids=st.lists(st.text(max_size=4), max_size=40), salt=st.sampled_from(["", "s", "ü"]))
def test_canonical_order_by_key_heads_is_the_order_of_the_keys(ids, salt):
    items = [Item(id=item_id, inputs={}, line=n) for n, item_id in enumerate(ids)]  # repeated ids keep file order
    expected = sorted(items, key=lambda item: order_key(item.id, salt))
    with mock.patch.object(data_module, "_NUMPY_SORT_FROM", 0):  # the way a large load is sorted
        got = canonical_order(items, salt)
    assert [(i.id, i.line) for i in got] == [(i.id, i.line) for i in expected]


def test_canonical_order_breaks_a_tie_of_key_heads_on_the_whole_key(monkeypatch):
    items = [Item(id=f"x{n}", inputs={}) for n in range(20)]
    np = pytest.importorskip("numpy")
    monkeypatch.setattr(data_module, "_NUMPY_SORT_FROM", 0)
    monkeypatch.setattr(data_module, "_order_heads", lambda ids, salt: np.zeros(len(ids), dtype=np.uint64))
    assert canonical_order(items) == sorted(items, key=lambda item: order_key(item.id))


def test_an_item_the_shortcut_makes_is_an_item(tmp_path):
    (tmp_path / "data.jsonl").write_text(json.dumps({"id": "a", "message": "t", "label": "billing", "split": "eval"}) + "\n")
    [made] = load_items(_spec(tmp_path, "ids", "label", "data.jsonl"))
    assert made == Item(id="a", inputs={"text": "t"}, gold="billing", split="eval", line=1)
    with pytest.raises(AttributeError):
        made.id = "b"  # type: ignore[misc]


def test_a_large_load_is_frozen_out_of_the_cycle_collectors_sight(tmp_path, monkeypatch):
    import gc

    (tmp_path / "data.jsonl").write_text(json.dumps({"id": "a", "message": "t", "label": "billing", "split": "eval"}) + "\n")
    spec = _spec(tmp_path, "ids", "label", "data.jsonl")
    gc.unfreeze()
    load_items(spec)
    assert gc.get_freeze_count() == 0  # a small load leaves the collector alone
    monkeypatch.setattr(data_module, "_FREEZE_FROM", 1)
    try:
        [item] = load_items(spec)
        assert gc.get_freeze_count() > 0 and item.id == "a"
    finally:
        gc.unfreeze()


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(["a", "b", ",", '"', "\n", "\r\n", "\r", " ", "é", "x,y", '""']), max_size=30)
       .map("".join))
def test_csv_records_are_what_dict_reader_gives(text):
    def reference():
        reader = csv.DictReader(io.StringIO(text, newline=""))
        return [(reader.line_num, dict(record)) for record in reader]

    def ours():
        return list(data_module.csv_records(io.StringIO(text, newline="")))

    try:
        expected: Any = reference()
    except csv.Error as err:
        expected = ("error", str(err))
    try:
        got: Any = ours()
    except csv.Error as err:
        got = ("error", str(err))
    assert got == expected
