"""Per-item scores and model outputs kept as compact columns, read back as the usual records.

A million items held as ``ItemScore`` and ``ModelOutput`` objects take gigabytes; the summary's
figures need only a few numbers and short codes per item. ``ScoreColumns`` and ``OutputColumns``
keep those in NumPy arrays (strings as small integer codes into a table of the distinct values)
and are ``Sequence``s of the records they were built from: indexing or iterating one builds the
record then, so every consumer (``scorer.summarize``, ``scorer.metric_rows``, the cascades) reads
them as before. The arrays themselves are open to code that wants whole columns at once.

What is not kept: an output's text (only whether it had one: ``TEXT_KEPT_OUT`` stands in for it)
and the details of a score whose ``details`` is empty. Scores read back with empty details are
shared between equal items (read-only records: nothing in the summary changes a score).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, repeat
from typing import Any, Generic, TypeVar, overload

import numpy as np

TEXT_KEPT_OUT = "(text not kept)"
"""What an ``OutputColumns`` record carries in place of the text an output had (None stays None)."""

_BLOCK = 4096  # records built per NumPy-to-Python conversion when iterating
_SHARED_SCORES = 65536  # at most this many distinct shared scores are remembered

T = TypeVar("T")


class Codes:
    """A table of distinct strings: each gets a small integer code; None is -1."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, value: str | None) -> int:
        """The code of ``value`` (added on first sight)."""
        if value is None:
            return -1
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self.values)
            self.values.append(value)
        return found

    def codes(self, values: Sequence[str | None]) -> np.ndarray:
        """The codes of ``values`` as an int32 array (each new value added on first sight, in order)."""
        known: Mapping[Any, int] = self._codes  # looked up with None too
        for value in dict.fromkeys(values):  # the distinct values, in order of first sight
            if value not in known:
                self.code(value)
        # None is never a key: get gives it -1.
        return np.fromiter(map(known.get, values, repeat(-1)), dtype=np.int32, count=len(values))

    def known_code(self, value: str) -> int:
        """The code of ``value``, -2 when it never occurred (nothing is added)."""
        return self._codes.get(value, -2)

    def value(self, code: int) -> str | None:
        """The string of ``code`` (None for -1)."""
        return None if code < 0 else self.values[code]


def _counts(values: Sequence[int | None]) -> np.ndarray:
    """Token counts as int32, -1 for unknown (None)."""
    return np.array([-1 if value is None else value for value in values], dtype=np.int32)


class Strings(Sequence[str]):
    """Strings appended in order (the items' ids), kept as one UTF-8 buffer and each one's end offset:
    about the strings' bytes plus 8 each, where a list holds a Python object of some 60 bytes per string.

    Args:
        values: the first strings.
    """

    def __init__(self, values: Iterable[str] = ()):
        self._buffer = bytearray()
        self._ends = array("q")
        self.extend(values)

    def extend(self, values: Iterable[str]) -> None:
        """Append ``values``, in order."""
        encoded = [value.encode("utf-8") for value in values]
        ends = accumulate((len(part) for part in encoded), initial=len(self._buffer))
        next(ends)  # the buffer's current end: the first new string's start
        self._ends.extend(ends)
        self._buffer += b"".join(encoded)

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._at(position) for position in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} strings")
        return self._at(position)

    def _at(self, position: int) -> str:
        start = self._ends[position - 1] if position else 0
        return self._buffer[start:self._ends[position]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        start = 0
        for end in self._ends:
            yield self._buffer[start:end].decode("utf-8")
            start = end


class _Chunked:
    """Arrays appended chunk by chunk into one growing array per column.

    Each column is one array of ``capacity`` rows (doubled when full), written in place: reserved
    at the expected item count, it is never copied, and its pages are only touched (counted in the
    process's memory) as rows are written; no heap of small per-chunk arrays is left behind.
    """

    def __init__(self, kinds: dict[str, Any], capacity: int = 0):
        self._kinds = kinds
        self._capacity = max(capacity, 0)
        self._arrays: dict[str, np.ndarray] = {}
        self._length = 0

    def _shape(self, name: str, rows: int) -> tuple[int, ...]:
        return (rows, 3) if name == "counts" else (rows,)

    def append(self, columns: dict[str, np.ndarray], length: int) -> None:
        needed = self._length + length
        if needed > self._capacity or not self._arrays:
            # The first arrays are the reserved size; a full one doubles.
            self._capacity = max(needed, self._capacity if not self._arrays else 2 * self._capacity, 1024)
            grown = {name: np.empty(self._shape(name, self._capacity), dtype=kind) for name, kind in self._kinds.items()}
            for name, array in self._arrays.items():
                grown[name][:self._length] = array[:self._length]
            self._arrays = grown
        for name, array in columns.items():
            self._arrays[name][self._length:needed] = array
        self._length = needed

    def column(self, name: str) -> np.ndarray:
        found = self._arrays.get(name)
        if found is None:  # nothing appended yet
            return np.zeros(self._shape(name, 0), dtype=self._kinds[name])
        return found[:self._length]

    def __len__(self) -> int:
        return self._length


class _Columns(Sequence[T], Generic[T]):
    """The ``Sequence`` part: length, indexing (negative too, and slices as lists), iteration in blocks."""

    _store: _Chunked

    def __len__(self) -> int:
        return len(self._store)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._records(position, position + 1)[0] for position in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return self._records(position, position + 1)[0]

    def __iter__(self) -> Iterator[T]:
        for start in range(0, len(self), _BLOCK):
            yield from self._records(start, min(start + _BLOCK, len(self)))

    def _records(self, start: int, stop: int) -> list[T]:
        raise NotImplementedError


class ScoreColumns(_Columns[Any]):
    """``ItemScore`` records (``scoring.base``) as columns.

    Args:
        make: builds one score from its fields as keywords (the scorer's ``ItemScore`` class);
            default: the class of the first score appended.
        expected: how many items will be appended (room is reserved for them; more still fit).
    """

    _KINDS = {"score": float, "valid": bool, "reason": np.int32, "canonical": np.int32, "gold": np.int32,
              "counts": np.int32, "has_counts": bool}
    _NAMES = tuple(_KINDS)

    def __init__(self, make: Callable[..., Any] | None = None, *, expected: int = 0):
        self._store = _Chunked(self._KINDS, expected)
        self._make = make
        self.reasons, self.canonicals, self.golds = Codes(), Codes(), Codes()
        self.details: dict[int, dict[str, Any]] = {}
        self._shared: dict[tuple[Any, ...], Any] = {}

    def extend(self, scores: Iterable[Any]) -> None:
        """Append ``scores`` (records with ``ItemScore``'s fields), in item order."""
        scores = list(scores)
        if not scores:
            return
        if self._make is None:
            self._make = type(scores[0])
        details = {index: s.details for index, s in enumerate(scores) if s.details}
        self.extend_rows([(s.score, s.valid, s.reason, s.canonical, s.gold_canonical, s.counts) for s in scores],
                         details)

    def extend_rows(self, rows: Sequence[tuple[Any, ...]], details: Mapping[int, dict[str, Any]],
                    make: Callable[..., Any] | None = None) -> None:
        """Append scores given as plain rows: (score, valid, reason, canonical, gold_canonical, counts) per
        item, in item order, with the non-empty ``details`` by position among ``rows``; ``make``: the
        ``ItemScore`` class, when no score was appended before."""
        if not rows:
            return
        if self._make is None:
            self._make = make
        offset = len(self)
        for index, found in details.items():
            self.details[offset + index] = found
        score, valid, reason, canonical, gold, counts = zip(*rows)
        has_counts = [c is not None for c in counts]
        self._store.append({
            # NumPy reads None as NaN in a float array.
            "score": np.array(score, dtype=float),
            "valid": np.array([bool(v) for v in valid], dtype=bool),
            "reason": self.reasons.codes(reason),
            "canonical": self.canonicals.codes(canonical),
            "gold": self.golds.codes(gold),
            "counts": (np.array([c or (0, 0, 0) for c in counts], dtype=np.int32).reshape(len(rows), 3)
                       if any(has_counts) else np.zeros((len(rows), 3), dtype=np.int32)),
            "has_counts": np.array(has_counts, dtype=bool),
        }, len(rows))

    def column(self, name: str) -> np.ndarray:
        """One whole column: ``score`` (NaN for None), ``valid``, ``reason``, ``canonical``, ``gold``
        (codes; -1 for None), ``counts`` (n x 3), ``has_counts``."""
        return self._store.column(name)

    def scores(self) -> list[float | None]:
        """Every item's ``score`` (None where excluded); equal scores are one float object."""
        shared: dict[float, float] = {}
        return [None if value != value else shared.setdefault(value, value) for value in self.column("score").tolist()]

    def canonical_at(self, positions: Sequence[int] | np.ndarray) -> list[str | None]:
        """``canonical`` of the items at ``positions``."""
        codes = self.column("canonical")[np.asarray(positions, dtype=np.int64)].tolist()
        return [self.canonicals.value(code) for code in codes]

    def subset(self, positions: Sequence[int] | np.ndarray) -> Sequence[Any]:
        """The items at ``positions``, as a sequence of their scores: a list when that is cheap (most
        scores are shared records, so the list is mostly pointers), else records built as read."""
        subset = _Subset(self, np.asarray(positions, dtype=np.int64))
        return list(subset) if len(self.details) * 16 <= len(self) else subset

    def _records(self, start: int, stop: int) -> list[Any]:
        assert self._make is not None  # only reached with items in it
        columns = [self.column(name)[start:stop] for name in self._NAMES]
        if not columns[-1].any():  # no counts in the block: spare turning them into lists
            columns[-2] = np.zeros(stop - start, dtype=bool)
        lists = [column.tolist() for column in columns]
        made = []
        for offset, (score, valid, reason, canonical, gold, counts, has_counts) in enumerate(zip(*lists)):
            position = start + offset
            fields = (None if score != score else score, valid, reason, canonical, gold,
                      tuple(counts) if has_counts else None)
            details = self.details.get(position)
            if details is not None:
                made.append(self._build(fields, details))
                continue
            shared = self._shared.get(fields)
            if shared is None:
                if len(self._shared) >= _SHARED_SCORES:
                    self._shared.clear()
                shared = self._shared[fields] = self._build(fields, {})
            made.append(shared)
        return made

    def _build(self, fields: tuple[Any, ...], details: dict[str, Any]) -> Any:
        assert self._make is not None
        score, valid, reason, canonical, gold, counts = fields
        return self._make(score=score, valid=valid, reason=self.reasons.value(reason),
                          canonical=self.canonicals.value(canonical), gold_canonical=self.golds.value(gold),
                          counts=counts, details=details)


class _Subset(Sequence[T]):
    """Some items of a column set, by position, as a sequence of their records."""

    def __init__(self, columns: _Columns[T], positions: np.ndarray):
        self._columns, self._positions = columns, positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._columns[int(position)] for position in self._positions[index]]
        return self._columns[int(self._positions[index])]

    def __iter__(self) -> Iterator[T]:
        for start in range(0, len(self._positions), _BLOCK):
            block = self._positions[start:start + _BLOCK].tolist()
            if not block:
                continue
            low, high = min(block), max(block)
            if high - low < 4 * len(block):
                # Mostly dense (e.g. the answered items): one read of the range, then the positions picked.
                covering = self._columns._records(low, high + 1)
                yield from (covering[position - low] for position in block)
            else:
                for position in block:
                    yield self._columns[position]


class OutputColumns(_Columns[Any]):
    """``build.ModelOutput`` records as columns, without their text.

    Args:
        make: builds one output from its fields as keywords (``build.ModelOutput``).
        item_ids: the items' ids, shared with other columns of the same items and extended by their
            owner before each ``extend`` (default: the outputs' own ids, kept here).
        expected: how many items will be appended (room is reserved for them; more still fit).
    """

    _KINDS = {"has_text": bool, "error_kind": np.int32, "input_tokens": np.int32, "output_tokens": np.int32,
              "latency_ms": float, "cost_usd": float, "cache_hit": bool, "cached_input_tokens": np.int32,
              "cache_write_tokens": np.int32, "finish_reason": np.int32, "confidence": float,
              "confidence_basis": np.int32}
    _NAMES = tuple(_KINDS)
    _CODED = {"error_kind", "finish_reason", "confidence_basis"}

    def __init__(self, make: Callable[..., Any], item_ids: Strings | list[str] | None = None, *, expected: int = 0):
        self._store = _Chunked(self._KINDS, expected)
        self._make = make
        self._own_ids = item_ids is None
        self.item_ids: Strings | list[str] = Strings() if item_ids is None else item_ids
        self.codes = {name: Codes() for name in self._CODED}
        self.error_reasons: dict[int, str] = {}

    def extend(self, outputs: Iterable[Any]) -> None:
        """Append ``outputs`` (records with ``ModelOutput``'s fields), in item order."""
        outputs = list(outputs)
        if outputs:
            self.extend_columns({name: [getattr(o, name) for o in outputs] for name in self._FIELDS})

    _FIELDS = ("item_id", "text", "error_kind", "input_tokens", "output_tokens", "latency_ms", "cost_usd", "cache_hit",
               "cached_input_tokens", "cache_write_tokens", "finish_reason", "error_reason", "confidence",
               "confidence_basis")

    def extend_columns(self, fields: Mapping[str, Sequence[Any]]) -> None:
        """Append outputs given as columns: ``ModelOutput``'s field name -> that field of each output,
        in item order (``build.OutputChunk.columns``)."""
        n = len(fields["error_kind"])
        if not n:
            return
        offset = len(self)
        for index, reason in enumerate(fields["error_reason"]):
            if reason is not None:
                self.error_reasons[offset + index] = reason
        if self._own_ids:
            self.item_ids.extend(fields["item_id"])
        error_kind, finish, basis = (self.codes[name] for name in ("error_kind", "finish_reason", "confidence_basis"))
        self._store.append({
            "has_text": np.array([text is not None for text in fields["text"]], dtype=bool),
            "error_kind": error_kind.codes(fields["error_kind"]),
            "input_tokens": _counts(fields["input_tokens"]),
            "output_tokens": _counts(fields["output_tokens"]),
            # NumPy reads None as NaN in a float array.
            "latency_ms": np.array(fields["latency_ms"], dtype=float),
            "cost_usd": np.array(fields["cost_usd"], dtype=float),
            "cache_hit": np.array([bool(hit) for hit in fields["cache_hit"]], dtype=bool),
            "cached_input_tokens": np.array(fields["cached_input_tokens"], dtype=np.int32),
            "cache_write_tokens": np.array(fields["cache_write_tokens"], dtype=np.int32),
            "finish_reason": finish.codes(fields["finish_reason"]),
            "confidence": np.array(fields["confidence"], dtype=float),
            "confidence_basis": basis.codes(fields["confidence_basis"]),
        }, n)

    def column(self, name: str) -> np.ndarray:
        """One whole column (see ``_NAMES``): codes are -1 for None, token counts -1 for unknown,
        latency and confidence NaN for None."""
        return self._store.column(name)

    def code_of(self, name: str, value: str) -> int:
        """The code ``value`` has in the coded column ``name`` (-2: it never occurs)."""
        return self.codes[name].known_code(value)

    def _records(self, start: int, stop: int) -> list[Any]:
        columns = [self.column(name)[start:stop].tolist() for name in self._NAMES]
        error_kind, finish, basis = (self.codes[name] for name in ("error_kind", "finish_reason", "confidence_basis"))
        made = []
        for offset, (has_text, kind, tokens_in, tokens_out, latency, cost, hit, cached, written, reason, sure,
                     how) in enumerate(zip(*columns)):
            position = start + offset
            made.append(self._make(
                item_id=self.item_ids[position], text=TEXT_KEPT_OUT if has_text else None,
                error_kind=error_kind.value(kind), input_tokens=None if tokens_in < 0 else tokens_in,
                output_tokens=None if tokens_out < 0 else tokens_out, latency_ms=None if latency != latency else latency,
                cost_usd=cost, cache_hit=hit, cached_input_tokens=cached, cache_write_tokens=written,
                finish_reason=finish.value(reason), error_reason=self.error_reasons.get(position),
                confidence=None if sure != sure else sure, confidence_basis=basis.value(how),
            ))
        return made
