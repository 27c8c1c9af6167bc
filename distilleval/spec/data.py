"""Read a spec's data file into items: inputs, optional gold answer, id and split.

JSONL and CSV are supported. Every problem names the file, the line and the column, and is
raised before any model is called.

Nothing downstream may depend on the order of the rows in the file: an item's id comes from its
id column or else from its content, its split from a hash of its id, and ``load_items`` returns
the items in a canonical order (a stable hash of each id), so every seeded draw, every
``--limit`` prefix and every per-item array is the same however the file's rows are shuffled.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distilleval.errors import DataError
from distilleval.spec.fast_rows import IrregularFile, JsonlRecords, fast_jsonl_available, row_reader
from distilleval.spec.labels import LabelMatcher
from distilleval.spec.scorer_config import ExactMatchScorer
from distilleval.spec.task_spec import SplitSpec, TaskSpec, spec_location

_LABELS_SHOWN = 8
_COLUMNS_SHOWN_FROM = 100
"""How many records' columns a missing ``data.gold`` column's message lists."""
_FREEZE_FROM = 50_000
"""From this many items ``load_items`` takes what is alive out of the cycle collector's sight."""


@dataclass(frozen=True, slots=True)
class Item:
    """One example of the task.

    Attributes:
        id: stable identifier: the id column, else ``row-`` and a hash of the row's inputs and gold
            (the second and later copies of an identical row get ``-2``, ``-3``, ...).
        inputs: input field -> text (for image fields: the resolved image path).
        gold: the right answer when the data has one (a string, or parsed JSON for json tasks).
        split: ``"train"`` or ``"eval"``.
        line: 1-based line in the data file (CSV: counting the header as line 1).
    """

    id: str
    inputs: dict[str, str]
    gold: Any = None
    split: str = "eval"
    line: int = 0


def iter_jsonl(
    handle: Iterable[str | bytes], path: Path, *, expected: str = "a JSON object"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Parse an open JSONL file line by line, so a caller's own checks see line 1 before line 2.

    Args:
        handle: the open file, text or binary (or any iterable of lines). Binary lines are
            decoded here as UTF-8, a byte-order mark on line 1 dropped, so a file in another
            encoding is reported at the exact line.
        path: the file's path, for messages.
        expected: how the message describes a line that is JSON but not an object.

    Yields:
        ``(line number, record)`` for each non-blank line (1-based).

    Raises:
        DataError: a line is not UTF-8, not valid JSON, nested too deeply to parse, or not a
            JSON object; names file and line.
    """
    for number, text in enumerate(handle, start=1):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}:{number}: not UTF-8 text (byte {err.start + 1} of the line: {err.reason}); "
                    "save the file as UTF-8"
                ) from None
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno})") from None
        except RecursionError:
            raise DataError(f"{path}:{number}: JSON nested too deeply to read") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected {expected}, found {type(record).__name__}")
        yield number, record


# utf-8-sig: spreadsheets save "CSV UTF-8" with a byte-order mark, which would otherwise
# become part of the first column's name.
def _iter_jsonl_file(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig") as handle:
        yield from iter_jsonl(handle, path)


def _iter_csv_file(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv_records(handle)


def csv_records(handle: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """What ``csv.DictReader`` gives, with its ``line_num`` for each record, at half the cost.

    Its rules, kept exactly: the first row names the columns; blank rows are skipped; a record is
    numbered at its last line (a quoted value may span lines); a short row's missing columns are
    None, a long row's extra values a list under the key None.
    """
    reader = csv.reader(handle)
    fieldnames = next(reader, None)
    if fieldnames is None:
        return
    width = len(fieldnames)
    for row in reader:
        if not row:
            continue
        record: dict[Any, Any] = dict(zip(fieldnames, row))
        if width < len(row):
            record[None] = row[width:]
        elif width > len(row):
            for key in fieldnames[len(row):]:
                record[key] = None
        yield reader.line_num, record


def iter_records(path: Path, fmt: str = "auto") -> Iterator[tuple[int, dict[str, Any]]]:
    """Raw records of a JSONL or CSV file with their line numbers, one at a time.

    Only one record is held at once, so a caller that keeps less than the whole row (``load_items``)
    never holds the file twice over.

    Raises:
        DataError: the file is missing, unreadable, empty or malformed (when the bad line is reached).
    """
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    empty = True
    try:
        for row in _iter_csv_file(path) if fmt == "csv" else _iter_jsonl_file(path):
            empty = False
            yield row
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read data file ({err})") from None
    if empty:
        raise DataError(f"{path}: the data file has no records")


def read_records(path: Path, fmt: str = "auto") -> list[tuple[int, dict[str, Any]]]:
    """Raw records of a JSONL or CSV file with their line numbers.

    Raises:
        DataError: the file is missing, unreadable, empty or malformed.
    """
    return list(iter_records(path, fmt))


def content_id(inputs: dict[str, str], gold: Any) -> str:
    """An id for a row without an id column, from what the row says rather than where it sits."""
    text = json.dumps({"inputs": inputs, "gold": gold}, sort_keys=True, ensure_ascii=False, default=str)
    return "row-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def order_key(item_id: str, salt: str = "") -> bytes:
    """Where ``item_id`` sorts in the canonical order (``salt`` gives another, independent order)."""
    return hashlib.sha256(f"{salt}:{item_id}".encode()).digest()


def canonical_order(items: Iterable[Item], salt: str = "") -> list[Item]:
    """``items`` sorted by a stable hash of their ids: the same list however the input was ordered.

    A prefix of it is a pseudo-random sample of the items, so cutting it (``--limit``) or
    drawing from it with a seed favours no part of the data file.
    """
    items = list(items)
    if len(items) < _NUMPY_SORT_FROM:  # sorted fast enough, without importing numpy (0.1 s)
        return sorted(items, key=lambda item: order_key(item.id, salt))
    import numpy as np

    heads = _order_heads([item.id for item in items], salt)
    order = np.argsort(heads, kind="stable")
    ranked = heads[order]
    if bool((ranked[1:] == ranked[:-1]).any()):  # a tie there (a repeated id): the whole keys decide
        return sorted(items, key=lambda item: order_key(item.id, salt))
    ordered: list[Item] = []
    for start in range(0, len(order), _HEADS_AT_ONCE):  # not a million Python ints at once
        ordered.extend(map(items.__getitem__, order[start:start + _HEADS_AT_ONCE].tolist()))
    return ordered


_NUMPY_SORT_FROM = 200_000
"""From this many items ``canonical_order`` sorts the keys' first 8 bytes with numpy."""
_HEADS_AT_ONCE = 65_536


def _order_heads(ids: list[str], salt: str) -> Any:
    """The first 8 bytes of each id's ``order_key``, as unsigned 64-bit numbers (a numpy array).

    Compared as numbers they sort a million ids in a tenth of a second instead of a second. The
    keys are made a slice of ids at a time, so a million 32-byte keys are never held at once.
    """
    import numpy as np

    heads = np.empty(len(ids), dtype=np.uint64)
    sha256, prefix = hashlib.sha256, f"{salt}:"
    for start in range(0, len(ids), _HEADS_AT_ONCE):
        keys = b"".join([sha256(f"{prefix}{item_id}".encode()).digest() for item_id in ids[start:start + _HEADS_AT_ONCE]])
        heads[start:start + _HEADS_AT_ONCE] = np.frombuffer(keys, dtype=">u8")[::4]
    return heads


def assign_split(item_id: str, split: SplitSpec) -> str:
    """Stable hash split: the same id always lands in the same split for a given seed."""
    digest = hashlib.sha256(f"{split.seed}:{item_id}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return "eval" if fraction < split.eval_fraction else "train"


def _check_length(value: str, spec: TaskSpec, where: str) -> None:
    limit = spec.data.max_field_chars
    if len(value) > limit:
        raise DataError(
            f"{where}: {len(value):,} characters, over data.max_field_chars ({limit:,}); "
            "raise that limit in the spec if such long values are meant"
        )


def _gold_value(raw: Any, spec: TaskSpec, where: str) -> Any:
    if spec.output.kind != "json" or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: gold is not valid JSON ({err.msg})") from None


def _gold_matcher(spec: TaskSpec) -> LabelMatcher | None:
    """How a label task's gold is read: the exact-match scorer's rules, so load and scoring agree."""
    if spec.output.kind != "label" or not isinstance(spec.scorer, ExactMatchScorer) or not spec.output.labels:
        return None
    return LabelMatcher(spec.output.labels, spec.scorer.normalize, spec.scorer.aliases)


def _label_gold(raw: Any, matcher: LabelMatcher, labels: list[str], where: str) -> str:
    label = matcher.match(str(raw))
    if label is None:
        shown = ", ".join(labels[:_LABELS_SHOWN]) + (f", … ({len(labels)} in all)" if len(labels) > _LABELS_SHOWN else "")
        raise DataError(f"{where}: gold {raw!r} is not one of output.labels ({shown})")
    return label


class _GoldColumnWatch:
    """Whether any record read so far has the ``data.gold`` column (records stream past once).

    A ``data.gold`` column that no record has is a misspelling, not an unlabelled data set, and
    it is reported before any single row's problem, as when the whole file was read first.
    """

    def __init__(self, spec: TaskSpec, source: Path) -> None:
        self.spec, self.source = spec, source
        self.found = spec.data.gold is None
        self.columns: dict[Any, None] = {}  # the first 100 records' columns, for the message
        self.seen = 0

    def see(self, record: dict[str, Any]) -> None:
        if self.seen < _COLUMNS_SHOWN_FROM:
            self.columns.update(dict.fromkeys(record))
            self.seen += 1
        if not self.found and self.spec.data.gold in record:
            self.found = True

    def check(self) -> None:
        """Raise if no record seen has the column."""
        if not self.found:
            column = self.spec.data.gold
            raise DataError(f"{spec_location(self.spec, ('data', 'gold'))}: data.gold: column {column!r} is in no record of "
                            f"{self.source}; its columns are {', '.join(map(str, self.columns))}")


def _readable_image(folder: Path, value: str, where: str) -> Path:
    """The image file ``value`` names (relative to the data file's folder), checked to exist and
    be readable now: every request embeds its bytes, and a file that cannot be read would
    otherwise fail after the calls before it were paid for."""
    try:
        image = (folder / value).resolve()
        found = image.is_file()
    except OSError as err:  # e.g. a name too long for the file system
        raise DataError(f"{where}: not a usable image path ({err.strerror})") from None
    if not found:
        raise DataError(f"{where}: image not found: {image}")
    try:
        with image.open("rb") as handle:
            empty = not handle.read(1)
    except OSError as err:
        raise DataError(f"{where}: cannot read image {image} ({err.strerror})") from None
    if empty:
        raise DataError(f"{where}: image {image} is an empty file")
    return image


def load_items(spec: TaskSpec, *, path: Path | None = None, require_gold: bool = False) -> list[Item]:
    """Load the items of ``spec``'s data file (or of ``path``, e.g. an unlabelled pool).

    For label tasks scored by exact match, every gold answer must name one of
    ``output.labels`` under the scorer's normalisation and aliases, and is stored as that label.

    Returns:
        The items in ``canonical_order``, not file order, so no result depends on row order.

    Raises:
        DataError: a record lacks an input column, has a bad gold (for label tasks: one outside
            ``output.labels``), a duplicate id, or an image that is missing, unreadable or empty;
            the data file has no ``data.gold`` column at all; the message names file, line and column.
    """
    with _no_cycle_collection():
        items = canonical_order(_load_items(spec, path, require_gold))
        if len(items) >= _FREEZE_FROM:
            # Items live as long as the command and hold no reference cycle: out of the cycle
            # collector's sight (gc.freeze), they are not walked again by every collection after
            # this one. At a million items those walks, set off by the imports and objects of the
            # first call, cost more than reading the file (issue 27). Freed as usual when dropped.
            gc.freeze()
    return items


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Reading a data file makes a million objects and no reference cycle: the cycle collector,
    triggered by the allocations, would only walk them again and again (a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_items(spec: TaskSpec, path: Path | None, require_gold: bool) -> list[Item]:
    """``load_items``'s rows, in file order."""
    source = path if path is not None else spec.resolve(spec.data.path)
    fmt = spec.data.format
    if fast_jsonl_available() and (fmt == "jsonl" or (fmt == "auto" and source.suffix.lower() != ".csv")):
        fast = JsonlRecords(source)
        try:
            return _items_of(spec, source, iter(fast), path is not None, require_gold, plain_record=fast.plain_record)
        except IrregularFile:
            pass  # read again by the plain reader, which words what it finds there
    return _items_of(spec, source, iter_records(source, fmt), path is not None, require_gold)


def _items_of(spec: TaskSpec, source: Path, records: Iterator[tuple[int, dict[str, Any]]], pool: bool,
              require_gold: bool, plain_record: Callable[[], dict[str, Any]] | None = None) -> list[Item]:
    """The items of ``records`` (one at a time: 150,000 rows held as parsed records beside their
    items doubled the memory of loading them), in file order.

    Each row goes through ``fast_rows.row_reader`` first; a row it does not take, ``_record_item``
    decides (on the record ``plain_record`` gives, when given: the row as ``json.loads`` reads it).
    """
    watch = None if pool else _GoldColumnWatch(spec, source)
    watching = watch is not None
    matcher = _gold_matcher(spec)
    read = row_reader(spec, matcher, Item, pool=pool, require_gold=require_gold)
    items: list[Item] = []
    append = items.append
    seen: dict[str, int] = {}
    for line, record in records:
        if watching:
            assert watch is not None
            watch.see(record)
            watching = watch.seen < _COLUMNS_SHOWN_FROM or not watch.found
        item = read(line, record, seen) if read is not None else None
        if item is not None:
            append(item)
            continue
        if plain_record is not None:
            record = plain_record()
        try:
            append(_record_item(spec, source, line, record, seen, matcher, pool=pool, require_gold=require_gold))
        except DataError as err:
            problem = err
        else:
            continue
        # The rest of the file is read before this row is reported, as when the whole file was
        # read first: an unreadable line anywhere, then a gold column in no record, come first.
        for _, record in records:
            if watch is not None:
                watch.see(record)
        if watch is not None:
            watch.check()
        raise problem
    if watch is not None:
        watch.check()
    return items


def _record_item(spec: TaskSpec, source: Path, line: int, record: dict[str, Any], seen: dict[str, int],
                 matcher: LabelMatcher | None, *, pool: bool, require_gold: bool) -> Item:
    """The item of one record (``seen``: id -> line of the items before it, updated here)."""
    where = f"{source}:{line}"
    inputs: dict[str, str] = {}
    for field_name, column in spec.data.input.items():
        if column not in record or record[column] is None:
            raise DataError(f"{where}: column {column!r} (input field {field_name!r}) is missing")
        value = record[column]
        if not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        _check_length(value, spec, f"{where}: column {column!r}")
        if field_name in spec.data.image_inputs:
            value = str(_readable_image(source.parent, value, f"{where}: column {column!r}"))
        inputs[field_name] = value
    gold = None
    if spec.data.gold:
        if spec.data.gold in record and record[spec.data.gold] not in (None, ""):
            if isinstance(record[spec.data.gold], str):
                _check_length(record[spec.data.gold], spec, f"{where}: column {spec.data.gold!r}")
            gold = _gold_value(record[spec.data.gold], spec, f"{where}: column {spec.data.gold!r}")
            if matcher is not None:
                gold = _label_gold(gold, matcher, spec.output.labels or [], f"{where}: column {spec.data.gold!r}")
        elif require_gold:
            raise DataError(f"{where}: column {spec.data.gold!r} (gold) is missing")
    if spec.data.id:
        if spec.data.id not in record:
            raise DataError(f"{where}: column {spec.data.id!r} (id) is missing")
        item_id = str(record[spec.data.id])
    else:
        # Identical rows are interchangeable, so numbering their copies in file order moves no figure.
        base = item_id = content_id(inputs, gold)
        copies = 1
        while item_id in seen:
            copies += 1
            item_id = f"{base}-{copies}"
    if item_id in seen:
        raise DataError(f"{where}: duplicate id {item_id!r} (first on line {seen[item_id]})")
    seen[item_id] = line
    if pool and spec.data.split.column and spec.data.split.column not in record:
        split_name = "train"  # a pool of inputs to label has no split column: all of it is for training
    elif spec.data.split.column:
        value = str(record.get(spec.data.split.column, ""))
        if value in spec.data.split.train_values:
            split_name = "train"
        elif value in spec.data.split.eval_values:
            split_name = "eval"
        else:
            raise DataError(
                f"{where}: column {spec.data.split.column!r}: split {value!r} is neither a train value "
                f"({', '.join(spec.data.split.train_values)}) nor an eval value ({', '.join(spec.data.split.eval_values)})"
            )
    else:
        split_name = assign_split(item_id, spec.data.split)
    return Item(id=item_id, inputs=inputs, gold=gold, split=split_name, line=line)


def split_items(items: Iterable[Item], split: str) -> list[Item]:
    """The items of one split, in the order given (``load_items``'s canonical order)."""
    return [item for item in items if item.split == split]

