"""Training rows that repeat an earlier row's inputs: counted, so the commands that train can say so.

A repeated row is not an error (a data set may hold the same ticket twice on purpose), but it
is trained on once per copy and a newcomer rarely means that, so ``label``, ``run`` and
``train`` print one warning line naming how many rows repeat and the first of them, and go on.
Two rows are duplicates when their inputs are equal exactly (the spec's input fields for a data
file, every turn before the answer for a conversation file); labels are not compared.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from distilleval.spec.data import Item


@dataclass(frozen=True)
class DuplicateRows:
    """The rows whose inputs an earlier row already has.

    Attributes:
        count: rows that repeat an earlier row's inputs (a row given three times counts 2).
        line: the file line of the first such row.
        first_line: the line of the earlier row it repeats.
        row_id: the id of the row at ``line``, when the rows have ids.
    """

    count: int
    line: int
    first_line: int
    row_id: str | None = None

    def describe(self, source: str) -> str:
        """One line: ``SOURCE: N training rows repeat an earlier row's inputs (first: line L, id 'x', same as line K)...``."""
        rows = "row repeats" if self.count == 1 else "rows repeat"
        named = f", id {self.row_id!r}" if self.row_id is not None else ""
        return (f"{source}: {self.count:,} training {rows} an earlier row's inputs (first: line {self.line}{named}, "
                f"same inputs as line {self.first_line}); kept, so each copy is trained on")


def find_duplicate_rows(rows: Iterable[tuple[int, str | None, Hashable]]) -> DuplicateRows | None:
    """The rows whose key was already seen on an earlier line, or None when every key is unique.

    Args:
        rows: ``(line, id or None, inputs key)`` per row, in any order: they are taken in line
            order, so the first duplicate named is the first one in the file.

    >>> find_duplicate_rows([(3, "c", "a"), (1, "a", "a"), (2, "b", "b"), (4, "d", "a")])
    DuplicateRows(count=2, line=3, first_line=1, row_id='c')
    >>> find_duplicate_rows([(1, None, "a")]) is None
    True
    """
    seen: dict[Hashable, int] = {}
    count, first = 0, None
    for line, row_id, key in sorted(rows, key=lambda row: row[0]):
        if key in seen:
            count += 1
            if first is None:
                first = (line, seen[key], row_id)
        else:
            seen[key] = line
    if first is None:
        return None
    return DuplicateRows(count=count, line=first[0], first_line=first[1], row_id=first[2])


def duplicate_items(items: Iterable[Item]) -> DuplicateRows | None:
    """Items of a data file (or pool) whose inputs repeat an earlier item's (``find_duplicate_rows``)."""
    # One spec's items all hold its input fields in the spec's order: the values alone are the key.
    return find_duplicate_rows((item.line, item.id, tuple(item.inputs.values())) for item in items)


def duplicate_conversations(conversations: Iterable) -> DuplicateRows | None:
    """Rows of a conversation file (``training.data.Conversation``) whose turns before the answer
    repeat an earlier row's (``find_duplicate_rows``)."""
    return find_duplicate_rows((row.line, None, row.messages[:-1]) for row in conversations)
