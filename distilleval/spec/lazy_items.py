"""A large data file's items off the Python heap: a few numbers a row, each item read again on access.

A million items held as ``Item`` objects cost about 420 bytes each, most of an eval's memory
(issue 27). For a large data file ``load_items_lazily`` gives ``LazyItems`` instead, which keeps,
per row, where its line lies in the data file (byte offset and length), its line number, its split
and whether it has a gold answer: 18 bytes, in NumPy arrays in the canonical order (``spec.data.canonical_order``). An item is made on access by reading its line
again and passing it through the reader that loading used, so it equals the item the list path
gives. Splits and a ``--limit`` cut are views over the same arrays.

The file must not change while the items are in use: its size and modification time are recorded
when it is read, and a read after either changed fails (``DataError``) rather than give other items.
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from distilleval.errors import DataError
from distilleval.spec import data
from distilleval.spec.data import (
    _COLUMNS_SHOWN_FROM,
    Item,
    _gold_matcher,
    _GoldColumnWatch,
    _record_item,
)
from distilleval.spec.fast_rows import IrregularFile, JsonlRecords, fast_jsonl_available, row_reader
from distilleval.spec.labels import LabelMatcher
from distilleval.spec.task_spec import TaskSpec

LAZY_FROM = 50_000
"""From this many lines ``load_items_lazily`` keeps a data file's rows off the Python heap."""
CHUNK = 1_024
"""Items read again at a time while iterating (one check that the file is unchanged each)."""


class RowFile:
    """The data file the rows are read back from, and the function that makes a line's item.

    Args:
        path: the data file.
        make_item: ``make_item(line number, line bytes)``: the item of that line.
        stamp: ``(size, mtime_ns)`` of the file as it was read when loading.
    """

    def __init__(self, path: Path, make_item: Callable[[int, bytes], Item], stamp: tuple[int, int]) -> None:
        self.path = path
        self.make_item = make_item
        self.stamp = stamp
        self._fd: int | None = None
        self._pid = 0

    def items(self, offsets: Any, lengths: Any, lines: Any) -> list[Item]:
        """The items of the lines at ``offsets`` (with ``lengths`` and line numbers ``lines``), in that order.

        Raises:
            DataError: the file changed (or vanished) since it was loaded.
        """
        fd = self._open()
        pread, make_item = os.pread, self.make_item
        return [make_item(line, pread(fd, length, offset))
                for offset, length, line in zip(offsets.tolist(), lengths.tolist(), lines.tolist())]

    def _open(self) -> int:
        # A forked process gets its own descriptor (a shared one would share nothing harmful with
        # pread, but a closed one would be closed for both).
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as err:
                raise DataError(f"{self.path}: the data file can no longer be read ({err.strerror}); "
                                "it must not change while a command uses it") from None
            self._pid = os.getpid()
        status = os.fstat(self._fd)
        if (status.st_size, status.st_mtime_ns) != self.stamp:
            raise DataError(f"{self.path}: the data file changed while it was in use; run the command again")
        return self._fd

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


class LazyRows:
    """Every row of a data file in canonical order: the arrays ``LazyItems`` views.

    Attributes:
        file: where the rows are read back from.
        offsets, lengths, lines: each row's line: byte offset, byte length, 1-based line number.
        evals: 1 where the row is in the eval split, 0 in the train split.
        golds: 1 where the row has a gold answer.
    """

    def __init__(self, file: RowFile, offsets: Any, lengths: Any, lines: Any, evals: Any, golds: Any) -> None:
        self.file = file
        self.offsets, self.lengths, self.lines = offsets, lengths, lines
        self.evals, self.golds = evals, golds


class LazyItems(Sequence[Item]):
    """A read-only sequence of items whose rows are ``positions`` of ``rows`` (all of them by default).

    Indexing makes an item; slicing makes a list of them; ``of_split``, ``with_gold`` and ``head``
    give views (no item made). Iterating reads ``CHUNK`` items at a time.
    """

    def __init__(self, rows: LazyRows, positions: Any = None) -> None:
        self._rows = rows
        self._positions = np.arange(len(rows.offsets), dtype=np.int64) if positions is None else positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> list[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | list[Item]:
        if isinstance(index, slice):
            return self._read(self._positions[index])
        return self._read(self._positions[[index]])[0]  # an index out of range raises IndexError here

    def __iter__(self) -> Iterator[Item]:
        for start in range(0, len(self._positions), CHUNK):
            yield from self._read(self._positions[start:start + CHUNK])

    def _read(self, positions: Any) -> list[Item]:
        rows = self._rows
        return rows.file.items(rows.offsets[positions], rows.lengths[positions], rows.lines[positions])

    def _view(self, mask: Any) -> LazyItems:
        return LazyItems(self._rows, self._positions[mask])

    def of_split(self, split: str) -> LazyItems:
        """The items of ``split`` (``"eval"`` or ``"train"``), in this sequence's order."""
        return self._view(self._rows.evals[self._positions] == (split == "eval"))

    def with_gold(self) -> LazyItems:
        """The items that have a gold answer, in this sequence's order."""
        return self._view(self._rows.golds[self._positions] == 1)

    def head(self, n: int) -> LazyItems:
        """The first ``n`` items."""
        return LazyItems(self._rows, self._positions[:n])

    def count_split(self, split: str) -> int:
        """How many of the items are in ``split``."""
        evals = int(self._rows.evals[self._positions].sum())
        return evals if split == "eval" else len(self._positions) - evals

    def lines_without_gold(self) -> Any:
        """The line numbers of the items that have no gold answer (a NumPy array)."""
        return self._rows.lines[self._positions[self._rows.golds[self._positions] == 0]]


def split_count(items: Sequence[Item], split: str) -> int:
    """How many of ``items`` are in ``split`` (from the arrays, when they are ``LazyItems``)."""
    if isinstance(items, LazyItems):
        return items.count_split(split)
    return sum(1 for item in items if item.split == split)


def load_items_lazily(spec: TaskSpec, *, require_gold: bool = False) -> Sequence[Item]:
    """``spec.data.load_items(spec)``'s items, item for item, held as a few numbers a row when the data file is large.

    A JSONL data file of ``LAZY_FROM`` lines or more, with an id column and no image inputs, read by
    the fast reader without a problem, gives ``LazyItems``: each item is read again
    from the file when it is used (the file must not change meanwhile). Any other file, and any file
    with a problem (a bad row, a repeated id), is read by ``load_items``, which words the problem
    exactly as it always did.

    Raises:
        DataError: as ``load_items``.
    """
    source = spec.resolve(spec.data.path)
    lazy = _lazy_items(spec, source, require_gold) if _lazy_suits(spec, source) else None
    return lazy if lazy is not None else data.load_items(spec, require_gold=require_gold)


def _lazy_suits(spec: TaskSpec, source: Path) -> bool:
    """Whether ``source`` may be held lazily: large JSONL, ids from a column (content ids number their
    copies in file order, which needs every id at hand), no images (each is checked as it is read)."""
    fmt = spec.data.format
    jsonl = fmt == "jsonl" or (fmt == "auto" and source.suffix.lower() != ".csv")
    if not (jsonl and spec.data.id and not spec.data.image_inputs and fast_jsonl_available()):
        return False
    return _has_lines(source, LAZY_FROM)


def _has_lines(path: Path, count: int) -> bool:
    """Whether ``path`` has at least ``count`` lines (reads only as far as that many)."""
    found = 0
    try:
        with path.open("rb") as handle:
            while found < count:
                block = handle.read(1 << 20)
                if not block:
                    return False
                found += block.count(b"\n")
    except OSError:
        return False  # the list path words it
    return True


def _line_item(spec: TaskSpec, source: Path, matcher: LabelMatcher | None,
               require_gold: bool) -> Callable[[int, bytes], Item]:
    """``item_of(line number, line bytes)``: the item ``load_items`` makes of that line, whose id it
    has already seen to be unique (so no id is remembered here)."""
    import orjson

    read = row_reader(spec, matcher, Item, pool=False, require_gold=require_gold)
    assert read is not None  # image inputs, the one case without a reader, are never lazy
    loads = orjson.loads

    def item_of(line: int, text: bytes) -> Item:
        item = read(line, loads(text), {})
        if item is None:  # what the plain path decides, on the record as json.loads reads it
            item = _record_item(spec, source, line, json.loads(text.decode()), {}, matcher,
                                pool=False, require_gold=require_gold)
        return item

    return item_of


def _lazy_items(spec: TaskSpec, source: Path, require_gold: bool) -> LazyItems | None:
    """The rows of ``source`` as ``LazyItems`` in canonical order, from one reading of the file;
    None when ``load_items`` must read it (anything irregular, a bad row, two ids with one order key head)."""
    try:
        stamp = os.stat(source)
    except OSError:
        return None
    matcher = _gold_matcher(spec)
    item_of = _line_item(spec, source, matcher, require_gold)
    watch = _GoldColumnWatch(spec, source)
    watching = True
    read = row_reader(spec, matcher, Item, pool=False, require_gold=require_gold)
    assert read is not None
    fast = JsonlRecords(source)
    offsets, lengths, lines = array("q"), array("q"), array("q")
    evals, golds, heads = bytearray(), bytearray(), bytearray()
    seen: dict[str, int] = {}  # emptied after each row: uniqueness is checked on the order keys below
    sha256 = hashlib.sha256
    try:
        for line, record in fast:
            if watching:
                watch.see(record)
                watching = watch.seen < _COLUMNS_SHOWN_FROM or not watch.found
            item = read(line, record, seen)
            if item is None:
                item = _record_item(spec, source, line, fast.plain_record(), seen, matcher,
                                    pool=False, require_gold=require_gold)
            seen.clear()
            offsets.append(fast.offset)
            lengths.append(len(fast.line))
            lines.append(line)
            evals.append(item.split == "eval")
            golds.append(item.gold is not None)
            heads += sha256(f":{item.id}".encode()).digest()[:8]
    except (IrregularFile, DataError, UnicodeEncodeError):
        return None
    if not watch.found:
        return None
    keys = np.frombuffer(bytes(heads), dtype=">u8")
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    if bool((ranked[1:] == ranked[:-1]).any()):  # a repeated id (or, once in 10^10 files, a tie)
        return None
    file = RowFile(source, item_of, (stamp.st_size, stamp.st_mtime_ns))
    # The file was read after its stamp was taken: a change in between shows as a changed stamp later.
    rows = LazyRows(file, np.frombuffer(offsets, dtype=np.int64)[order],
                    np.frombuffer(lengths, dtype=np.int64)[order].astype(np.int32),
                    np.frombuffer(lines, dtype=np.int64)[order].astype(np.int32),
                    np.frombuffer(bytes(evals), dtype=np.uint8)[order], np.frombuffer(bytes(golds), dtype=np.uint8)[order])
    return LazyItems(rows)
