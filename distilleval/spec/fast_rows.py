"""The fast path of ``spec.data.load_items``: the common rows of a large data file, cheaply.

A million rows went through ``json.loads`` and the per-row checks of ``_record_item`` in about
11 CPU seconds, before the first model call could be made (issue 27). This module handles the
rows that need no decision (every value a string within the length limit, a known gold label, a
new id, a known split value) with a few dictionary look-ups each, and hands every other row back
to the plain path, which decides it (and words its error) as it always did:

- ``JsonlRecords`` parses a JSONL file with orjson when it is installed; any line orjson refuses
  or that the stdlib might read differently (a stray carriage return, deep nesting, a line of
  Unicode whitespace) ends it with ``IrregularFile``, and the caller reads the whole file again
  with the plain reader, so line numbers and messages are the plain reader's. A row the plain
  path decides gets its record from ``json.loads`` (``plain_record``): the shortcut reads only
  string values, the one kind orjson and ``json.loads`` always read alike.
- ``row_reader`` makes a function that gives an ordinary row's item, or None for any row the plain
  ``_record_item`` must look at (images, non-string values, JSON gold, an unknown label, a
  repeated id, an unknown split value, a value over the length limit).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, TypeVar

from distilleval.spec.labels import LabelMatcher
from distilleval.spec.task_spec import TaskSpec

try:
    import orjson
except ImportError:  # the plain reader reads every file then
    orjson = None  # type: ignore[assignment]

T = TypeVar("T")

_BOM = b"\xef\xbb\xbf"
_ITEM_FIELDS = ("id", "inputs", "gold", "split", "line")
_NESTING_SAFE_BYTES = 900
"""A line shorter than this cannot nest deeply enough for the stdlib parser to give up on it."""


class IrregularFile(Exception):
    """The fast reader met something the plain reader must decide: read the file again with it."""


def fast_jsonl_available() -> bool:
    """Whether ``JsonlRecords`` can run (orjson is installed)."""
    return orjson is not None


class JsonlRecords:
    """``(line number, record)`` of each non-blank line of a JSONL file, as ``spec.data.iter_records``
    gives them, parsed by orjson.

    orjson reads a record's strings exactly as ``json.loads`` does, but not every other value (an
    integer over 64 bits becomes a float): ``plain_record`` gives the current line as
    ``json.loads`` reads it, for a row the plain path decides.

    Iterating raises ``IrregularFile`` at a line or a file the plain reader must read (also when
    the file cannot be opened, or has no records, so that the plain reader words the error).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.line = b""
        self.offset = 0  # where ``line`` starts in the file, in bytes

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if orjson is None:
            raise IrregularFile("orjson is not installed")
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        empty = True
        try:
            with self.path.open("rb") as handle:
                position = 0
                if handle.peek(len(_BOM)).startswith(_BOM):
                    position = len(handle.read(len(_BOM)))
                for number, line in enumerate(handle, start=1):
                    start, position = position, position + len(line)
                    # Text mode (the plain reader) also ends a line at a lone "\r", which would
                    # shift every later line number.
                    if b"\r" in line and (line.count(b"\r") > 1 or not line.endswith(b"\r\n")):
                        raise IrregularFile(f"line {number}: a carriage return inside the line")
                    if len(line) > _NESTING_SAFE_BYTES and line.count(b"[") + line.count(b"{") > _NESTING_SAFE_BYTES // 2:
                        raise IrregularFile(f"line {number}: deeply nested")
                    try:
                        record = loads(line)
                    except decode_error:
                        if not line.strip():
                            continue  # a blank line
                        raise IrregularFile(f"line {number}: not read by orjson") from None
                    if type(record) is not dict:
                        raise IrregularFile(f"line {number}: not a JSON object")
                    empty = False
                    self.line, self.offset = line, start
                    yield number, record
        except OSError as err:
            raise IrregularFile(str(err)) from None
        if empty:
            raise IrregularFile("no records")

    def plain_record(self) -> dict[str, Any]:
        """The record of the line last given, as ``json.loads`` reads it.

        Raises:
            IrregularFile: ``json.loads`` does not read it as orjson did.
        """
        try:
            record = json.loads(self.line.decode())
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise IrregularFile("json.loads does not read a line as orjson did") from None
        if not isinstance(record, dict):
            raise IrregularFile("json.loads does not read a line as orjson did")
        return record


def row_reader(spec: TaskSpec, matcher: LabelMatcher | None, item_class: type[T],
               *, pool: bool, require_gold: bool) -> Callable[[int, dict[str, Any], dict[str, int]], T | None] | None:
    """A function that makes an ordinary row's item with a few look-ups (see the module docstring).

    Args:
        spec: the loaded spec.
        matcher: the gold label matcher ``load_items`` uses (None when gold is not a label).
        item_class: the item's class: a slots class with the fields ``id, inputs, gold, split, line``.
        pool: the rows are a pool to label (a row with no split column is for training).
        require_gold: a row without a gold answer is an error.

    Returns:
        ``read(line, record, seen)``: the row's item (its id then added to ``seen``: id -> line),
        or None for a row the plain path must decide. None instead of a function when no row can
        take the shortcut (image inputs, which must be opened).
    """
    data = spec.data
    if data.image_inputs:
        return None
    columns = tuple(data.input.items())
    only_field, only_column = columns[0] if len(columns) == 1 else ("", None)
    # The item is made by setting its slots: a frozen dataclass's ``__init__`` sets each field
    # through ``object.__setattr__``, most of the cost of making a million of them.
    new = object.__new__
    set_id, set_inputs, set_gold, set_split, set_line = (getattr(item_class, name).__set__ for name in _ITEM_FIELDS)
    limit = data.max_field_chars
    gold_column, id_column, split_column = data.gold, data.id, data.split.column
    json_gold = spec.output.kind == "json"
    labels: dict[str, str] = {}  # raw gold -> the label the matcher named
    # Train values win over eval values, as in ``_record_item``.
    split_of = {**dict.fromkeys(data.split.eval_values, "eval"), **dict.fromkeys(data.split.train_values, "train")}
    hash_split = _hash_split(spec)
    content_id = _content_id(spec)

    def read(line: int, record: dict[str, Any], seen: dict[str, int]) -> T | None:
        if only_column is not None:
            value = record.get(only_column)
            if type(value) is not str or len(value) > limit:
                return None
            inputs: dict[str, str] = {only_field: value}
        else:
            inputs = {}
            for field_name, column in columns:
                value = record.get(column)
                if type(value) is not str or len(value) > limit:
                    return None
                inputs[field_name] = value
        gold: Any = None
        if gold_column:
            raw = record.get(gold_column)
            if type(raw) is str and raw:
                if len(raw) > limit:
                    return None
                if matcher is not None:
                    gold = labels.get(raw)
                    if gold is None:
                        gold = matcher.match(raw)
                        if gold is None:
                            return None
                        labels[raw] = gold
                elif json_gold:
                    try:
                        gold = json.loads(raw)
                    except Exception:  # the plain path words whatever it is
                        return None
                else:
                    gold = raw
            elif raw is None or raw == "":
                if require_gold:
                    return None
            else:
                return None  # orjson may read it otherwise than json.loads: the plain path
        if id_column:
            item_id = record.get(id_column)
            if type(item_id) is not str:
                return None
        else:
            item_id = content_id(inputs, gold)
            if item_id is None:
                return None
        if item_id in seen:
            return None
        if not split_column:
            split = hash_split(item_id)
        elif pool and split_column not in record:
            split = "train"
        else:
            value = record.get(split_column, "")
            split = split_of.get(value) if type(value) is str else None
        if split is None:
            return None
        seen[item_id] = line
        item = new(item_class)
        set_id(item, item_id)
        set_inputs(item, inputs)
        set_gold(item, gold)
        set_split(item, split)
        set_line(item, line)
        return item

    return read


def _hash_split(spec: TaskSpec) -> Callable[[str], str | None]:
    """``spec.data.assign_split`` (None for an id the plain path must decide)."""
    prefix, fraction = f"{spec.data.split.seed}:", spec.data.split.eval_fraction

    def split_of(item_id: str) -> str | None:
        try:
            digest = hashlib.sha256((prefix + item_id).encode()).digest()
        except UnicodeEncodeError:  # a lone surrogate: the plain path fails as it always did
            return None
        return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < fraction else "train"

    return split_of


def _content_id(spec: TaskSpec) -> Callable[[dict[str, str], Any], str | None]:
    """``spec.data.content_id`` of string inputs and a string (or no) gold, written without
    ``json.dumps`` (the same text: keys sorted, ``", "`` and ``": "`` between, no ASCII escaping);
    None for any other gold, and for text the plain path must decide."""
    names = tuple((name, encode_basestring(name)) for name in sorted(spec.data.input))
    only_name, only_key = names[0] if len(names) == 1 else ("", "")
    sha256, encode = hashlib.sha256, encode_basestring

    def content_id(inputs: dict[str, str], gold: Any) -> str | None:
        if gold is None:
            gold_text = "null"
        elif type(gold) is str:
            gold_text = encode(gold)
        else:
            return None
        if only_key:
            fields = f"{only_key}: {encode(inputs[only_name])}"
        else:
            fields = ", ".join(f"{key}: {encode(inputs[name])}" for name, key in names)
        text = f'{{"gold": {gold_text}, "inputs": {{{fields}}}}}'
        try:
            return "row-" + sha256(text.encode()).hexdigest()[:12]
        except UnicodeEncodeError:  # a lone surrogate: the plain path fails as it always did
            return None

    return content_id
