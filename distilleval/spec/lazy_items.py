"""A large data file's items off the Python heap: a few numbers a row, each item read again on access.

A million items held as ``Item`` objects cost about 420 bytes each, most of an eval's memory
(issue 27). ``LazyItems`` keeps, per row, where its line lies in the data file (byte offset and
length), its line number, its split and whether it has a gold answer: 18 bytes, in NumPy arrays in
the canonical order (``spec.data.canonical_order``). An item is made on access by reading its line
again and passing it through the reader that loading used, so it equals the item the list path
gives. Splits and a ``--limit`` cut are views over the same arrays.

The file must not change while the items are in use: its size and modification time are recorded
when it is read, and a read after either changed fails (``DataError``) rather than give other items.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from distilleval.errors import DataError
from distilleval.spec.data import Item

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
