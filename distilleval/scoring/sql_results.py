"""Whether two SQL result sets are the same answer, in time that grows with rows x columns.

Rules (the ``sql_execution`` scorer's): rows are a multiset, ordered only when the gold's
outermost query has ORDER BY; columns may come in any order (names are ignored); NULL equals
NULL; integers are equal only when equal; a REAL equals a number within ``tolerance``
(relative or absolute); text and blobs must be equal.

Columns are matched through canonical signatures instead of trying column orders one by one:
a row's signature is its values sorted (the same whatever the column order), and a column's
signature is the multiset of (row signature, value) pairs down it. Two columns that stand for
each other have equal signatures, so a prediction whose signatures differ from the gold's is
wrong after one pass over the values, and otherwise the columns pair up by signature. That
is exact only without tolerance; when a REAL is present, numbers are compared within the
tolerance through sorted columns and a bounded search over column orders. Every loop checks
a deadline and raises ``ComparisonTimeout`` past it, so comparing is bounded by the same time
limit as running the query.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

_NULL, _NUMBER, _TEXT, _BLOB = 0, 1, 2, 3


class ComparisonTimeout(Exception):
    """Comparing two result sets passed its deadline."""


Row = tuple[Any, ...]
"""A result row (or its values as comparison keys): any width, any SQLite value types."""


def _value_key(value: Any) -> Row:
    """A sortable, comparable key: (type rank, value); integers stay integers."""
    if value is None:
        return (_NULL, 0)
    if isinstance(value, (int, float)):
        return (_NUMBER, value)
    if isinstance(value, bytes):
        return (_BLOB, value)
    return (_TEXT, str(value))


def _has_real(keys: Sequence[Row]) -> bool:
    return any(isinstance(k[1], float) for row in keys for k in row)


def _sort_key(row: Row) -> Row:
    # NaN is unordered; sort it last so equal rows still line up.
    return tuple((k[0], math.inf) if isinstance(k[1], float) and math.isnan(k[1]) else k for k in row)


def _values_equal(a: Row, b: Row, tolerance: float) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] != _NUMBER:
        return bool(a[1] == b[1])
    x, y = a[1], b[1]
    if isinstance(x, int) and isinstance(y, int):
        return x == y  # exact: float(2**63 - 1) == float(2**63 - 2)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


def _rows_equal(a: Sequence[Row], b: Sequence[Row], tolerance: float) -> bool:
    return all(len(x) == len(y) and all(_values_equal(u, v, tolerance) for u, v in zip(x, y)) for x, y in zip(a, b))


class _Clock:
    def __init__(self, deadline: float | None):
        self.deadline = deadline

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ComparisonTimeout("comparing the results took longer than the time limit")


def _column_signatures(gold: list[Row], pred: list[Row], width: int, ordered: bool,
                       clock: _Clock) -> tuple[list[Row], list[Row]]:
    """Each side's column signatures; a column stands for another only if they are equal.

    Ordered, a column's signature is the column itself. Unordered, it is the multiset of
    (row signature, value) down it, with row signatures numbered by content on both sides.
    """
    if ordered:
        return ([tuple(row[c] for row in gold) for c in range(width)],
                [tuple(row[c] for row in pred) for c in range(width)])
    ids: dict[Row, int] = {}
    signatures: tuple[list[Row], list[Row]] = ([], [])
    for side, rows in enumerate((gold, pred)):
        row_ids = [ids.setdefault(tuple(sorted(row)), len(ids)) for row in rows]
        for column in range(width):
            pairs = Counter(zip(row_ids, (row[column] for row in rows)))
            signatures[side].append(tuple(sorted(pairs.items())))
            clock.check()
    return signatures


def _previous_twin(gold: list[Row], width: int) -> list[int]:
    """For each gold column, the nearest earlier column with exactly the same values, or -1.

    Swapping the prediction columns paired with two such twins cannot change the verdict, so
    pairings are tried with twins taking prediction columns in increasing order only.
    """
    last_seen: dict[Row, int] = {}
    twins = []
    for column in range(width):
        vector = tuple(row[column] for row in gold)
        twins.append(last_seen.get(vector, -1))
        last_seen[vector] = column
    return twins


def _pairings(twin_groups: list[list[int]], pred_columns: list[int]) -> Iterator[dict[int, int]]:
    """Each pairing (gold column -> prediction column) of one signature class.

    Gold columns with exactly the same values (a twin group) are interchangeable, so each
    group takes a set of prediction columns in increasing order: no pairing is tried twice.
    """
    if not twin_groups:
        yield {}
        return
    first, rest = twin_groups[0], twin_groups[1:]
    for chosen in itertools.combinations(pred_columns, len(first)):
        remaining = [q for q in pred_columns if q not in chosen]
        for tail in _pairings(rest, remaining):
            yield {**dict(zip(first, chosen)), **tail}


def _twin_groups(gold: list[Row], columns: list[int]) -> list[list[int]]:
    groups: dict[Row, list[int]] = {}
    for column in columns:
        groups.setdefault(tuple(row[column] for row in gold), []).append(column)
    return list(groups.values())


def _exact_match(gold: list[Row], pred: list[Row], width: int, ordered: bool, clock: _Clock,
                 max_permutations: int) -> bool:
    # Rows with their values sorted do not depend on the column order: a cheap first verdict.
    if ordered:
        if any(sorted(g) != sorted(p) for g, p in zip(gold, pred)):
            return False
    elif Counter(tuple(sorted(row)) for row in gold) != Counter(tuple(sorted(row)) for row in pred):
        return False
    clock.check()
    gold_signatures, pred_signatures = _column_signatures(gold, pred, width, ordered, clock)
    if Counter(gold_signatures) != Counter(pred_signatures):
        return False
    classes: dict[Row, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for column, signature in enumerate(gold_signatures):
        classes[signature][0].append(column)
    for column, signature in enumerate(pred_signatures):
        classes[signature][1].append(column)
    groups = list(classes.values())
    target = gold if ordered else Counter(gold)
    # Columns with equal signatures are interchangeable in almost every real result, so the
    # first pairing nearly always decides; other pairings are tried only when it fails.
    per_class = [itertools.islice(_pairings(_twin_groups(gold, gold_columns), pred_columns), max_permutations)
                 for gold_columns, pred_columns in groups]
    pairings = itertools.product(*(list(choices) for choices in per_class))
    for pairing in itertools.islice(pairings, max_permutations):
        clock.check()
        order = [0] * width
        for part in pairing:
            for g, p in part.items():
                order[g] = p
        permuted = [tuple(row[c] for c in order) for row in pred]
        if (permuted if ordered else Counter(permuted)) == target:
            return True
    return False


def _tolerant_match(gold: list[Row], pred: list[Row], width: int, ordered: bool, tolerance: float,
                    clock: _Clock, max_permutations: int) -> bool:
    gold_cmp = gold if ordered else sorted(gold, key=_sort_key)
    gold_columns = [sorted(((row[c],) for row in gold), key=_sort_key) for c in range(width)]
    pred_columns = [sorted(((row[c],) for row in pred), key=_sort_key) for c in range(width)]
    clock.check()
    # Compare each distinct sorted column once: look-alike columns are the costly case.
    distinct_pred: dict[Row, list[int]] = defaultdict(list)
    for p, column in enumerate(pred_columns):
        distinct_pred[tuple(column)].append(p)
    matches: dict[Row, list[int]] = {}
    candidates = []
    for g in range(width):
        key = tuple(gold_columns[g])
        if key not in matches:
            matches[key] = [p for column, columns in distinct_pred.items()
                            if _rows_equal(gold_columns[g], column, tolerance) for p in columns]
            clock.check()
        candidates.append(matches[key])
    if any(not c for c in candidates):
        return False
    twins = _previous_twin(gold, width)
    tried = 0

    def search(g: int, used: list[int]) -> bool:
        nonlocal tried
        if g == width:
            tried += 1
            clock.check()
            permuted = [tuple(row[c] for c in used) for row in pred]
            return _rows_equal(gold_cmp, permuted if ordered else sorted(permuted, key=_sort_key), tolerance)
        for p in candidates[g]:
            if twins[g] >= 0 and p < used[twins[g]]:
                continue
            if p not in used and tried < max_permutations:
                if search(g + 1, used + [p]):
                    return True
        return False

    return search(0, [])


def results_match(gold_rows: Sequence[Row], pred_rows: Sequence[Row], *, ordered: bool,
                  tolerance: float = 1e-6, max_permutations: int = 2000, deadline: float | None = None) -> bool:
    """Whether two result sets are the same answer (see the module doc for the rules).

    Args:
        gold_rows: rows of the gold query.
        pred_rows: rows of the predicted query.
        ordered: compare rows in order (the gold has an outer ORDER BY).
        tolerance: relative and absolute tolerance where a REAL is compared.
        max_permutations: pairings of look-alike columns tried before giving up.
        deadline: a ``time.monotonic()`` value; past it, ``ComparisonTimeout`` is raised.

    Raises:
        ComparisonTimeout: the deadline passed before an answer.

    >>> results_match([(1, "a"), (2, "b")], [("b", 2), ("a", 1.0)], ordered=False)
    True
    >>> results_match([(1,), (2,)], [(2,), (1,)], ordered=True)
    False
    >>> results_match([(1000000,)], [(1000001,)], ordered=False)
    False
    >>> results_match([], [], ordered=False)
    True
    """
    if len(gold_rows) != len(pred_rows):
        return False
    if not gold_rows:
        return True
    gold = [tuple(_value_key(v) for v in row) for row in gold_rows]
    pred = [tuple(_value_key(v) for v in row) for row in pred_rows]
    width = len(gold[0])
    if any(len(row) != width for row in gold) or any(len(row) != width for row in pred):
        return False
    clock = _Clock(deadline)
    clock.check()
    if _has_real(gold) or _has_real(pred):
        return _tolerant_match(gold, pred, width, ordered, tolerance, clock, max_permutations)
    return _exact_match(gold, pred, width, ordered, clock, max_permutations)


def result_fingerprint(rows: Sequence[Row], ordered: bool = False) -> str:
    """A short hash of a result set (row order ignored unless ``ordered``), for agreement."""
    keys = [tuple(_value_key(v) for v in row) for row in rows]
    text = repr(keys if ordered else sorted(keys, key=_sort_key))
    return "rows:" + hashlib.sha1(text.encode()).hexdigest()[:16]
