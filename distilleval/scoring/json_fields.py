"""JSON field F1 for extraction tasks (receipts, PII lists, aspect/polarity pairs).

Counting rules, per item and field:

- gold has a value, prediction equal: TP; different: FP + FN; prediction absent: FN.
- gold absent, prediction has a value: FP. Both absent: nothing is counted.
- ``0``, ``false`` and ``""`` are values, not absences. ``null`` is an absence when
  ``null_is_missing`` (the default), otherwise a value equal only to ``null``.
- List fields (``list_fields``) hold elements matched one-to-one to the gold's by the
  Hungarian assignment maximising matched sub-fields; sub-fields are then counted as above
  within each matched pair, so values swapped between two elements are errors. Unmatched
  gold elements count every sub-field FN, unmatched predicted elements every sub-field FP.
  Identical elements are counted once on each side, so a duplicated prediction neither
  raises recall nor costs precision.
- An item with nothing to find and nothing predicted scores 1.0.

Strings and field names compare in Unicode's composed form (NFC) under every rule set: a
value or key a model wrote decomposed (NFD) equals its composed spelling in the gold.

An output that holds no parseable JSON object scores as an empty prediction and is counted in
``parse_failure_rate``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from distilleval.errors import DataError
from distilleval.scoring.base import ItemScore, MicroF1Scorer, _check_lengths, f1_from_counts, no_output_score
from distilleval.spec.labels import unicode_form
from distilleval.spec.scorer_config import JsonFieldsScorer, ValueNormalization

_MISSING = object()
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_CURRENCY = re.compile(r"^(?:rm|usd|us\$|eur|gbp|sgd|myr|inr|rs\.?|[$€£¥₹])\s*|\s*(?:rm|usd|eur|gbp|sgd|myr|[$€£¥₹])$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_NUMERIC_DATE = re.compile(r"^(\d{4}|\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4}|\d{1,2})$")
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[ \-]([A-Za-z]{3,9})\.?,?[ \-](\d{4}|\d{2})$")
_MONTH_DAY_YEAR = re.compile(r"^([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})$")
_MONTHS = {name: i for i, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}


def extract_json(text: str) -> Any:
    """The first JSON object (or array) in a model's raw output, or None.

    Tries, in order: the whole text; the contents of a ```json fence; the first position
    where a ``{`` or ``[`` starts a valid JSON value (leading and trailing prose ignored).
    JSON nested too deeply for Python's parser is no answer (None), not a crash.

    >>> extract_json('Sure! Here it is:\\n```json\\n{"total": 5}\\n```\\nAnything else?')
    {'total': 5}
    >>> extract_json('The answer is {"a": [1, 2]} as requested.')
    {'a': [1, 2]}
    >>> extract_json('no json here') is None
    True
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except (json.JSONDecodeError, ValueError):
        pass
    except RecursionError:
        return None  # every later start inside it is nested as deeply: each would fail as slowly
    for match in _FENCE.finditer(text):
        try:
            return json.loads(match.group(1).strip())
        except (json.JSONDecodeError, ValueError):
            continue
        except RecursionError:
            return None
    decoder = json.JSONDecoder()
    for position, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, position)
            except (json.JSONDecodeError, ValueError):
                continue
            except RecursionError:
                return None
            return value
    return None


def _parse_number(text: str, rules: ValueNormalization) -> Decimal | None:
    candidate = text.strip()
    if rules.currency:
        candidate = _CURRENCY.sub("", candidate.lower()).strip()
        if _THOUSANDS.match(candidate):
            candidate = candidate.replace(",", "")
    if not _NUMBER.match(candidate):
        return None
    try:
        return Decimal(candidate)
    except InvalidOperation:
        return None


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        year += 2000 if year < 70 else 1900
    return year


def _parse_date(text: str, rules: ValueNormalization) -> str | None:
    """ISO date of a common date spelling, or None (regexes, not strptime: this is hot)."""
    candidate = " ".join(text.split())
    if len(candidate) > 24 or not any(c.isdigit() for c in candidate):
        return None
    try:
        match = _NUMERIC_DATE.match(candidate)
        if match:
            first, second, third = match.groups()
            if len(first) == 4:
                year, month, day = int(first), int(second), int(third)
            elif rules.day_first:
                day, month, year = int(first), int(second), _year(third)
            else:
                month, day, year = int(first), int(second), _year(third)
            return dt.date(year, month, day).isoformat()
        match = _DAY_MONTH_YEAR.match(candidate)
        if match:
            day_text, name, year_text = match.groups()
            month_number = _MONTHS.get(name[:3].lower())
            return dt.date(_year(year_text), month_number, int(day_text)).isoformat() if month_number else None
        match = _MONTH_DAY_YEAR.match(candidate)
        if match:
            name, day_text, year_text = match.groups()
            month_number = _MONTHS.get(name[:3].lower())
            return dt.date(_year(year_text), month_number, int(day_text)).isoformat() if month_number else None
    except ValueError:  # 31/02/2020 and friends
        return None
    return None


def _decimal_key(number: Decimal) -> tuple[str, str]:
    # normalize() makes 5, 5.0 and 5.00 one value; "0E+1"-style zeros all become "0".
    normal = number.normalize()
    return ("num", "0" if normal == 0 else format(normal, "f"))


def normalize_value(value: Any, rules: ValueNormalization) -> Any:
    """A hashable canonical form of a JSON value under the declared rules.

    >>> rules = ValueNormalization()
    >>> normalize_value(5, rules) == normalize_value("5.00", rules) == normalize_value(5.0, rules)
    True
    >>> normalize_value(0, rules) == normalize_value(False, rules)
    False
    >>> normalize_value("  Hello   World ", rules)
    ('str', 'hello world')
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        if rules.numbers:
            try:
                return _decimal_key(Decimal(str(value)))
            except InvalidOperation:  # nan / inf
                return ("float", str(value))
        return ("num", repr(value))
    if isinstance(value, str):
        return _normalize_string(value, rules)
    if isinstance(value, list):
        return ("list", tuple(normalize_value(v, rules) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((unicode_form(str(k)), normalize_value(v, rules)) for k, v in value.items())))
    return ("other", repr(value))


@functools.lru_cache(maxsize=65536)
def _normalize_string(value: str, rules: ValueNormalization) -> tuple[Any, ...]:
    """Canonical form of a string value (cached: the same strings recur across items), in NFC
    before and after the rules (case folding may leave a decomposed sequence)."""
    value = unicode_form(value)
    if rules.dates:
        date = _parse_date(value, rules)
        if date is not None:
            return ("date", date)
    if rules.numbers or rules.currency:
        number = _parse_number(value, rules)
        if number is not None:
            return _decimal_key(number)
    text = value
    if rules.whitespace:
        text = " ".join(text.split())
    if rules.case:
        text = text.casefold()
    return ("str", unicode_form(text))


def _composed_keys(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its field names in NFC, so a decomposed key finds the gold's field."""
    return {unicode_form(str(key)): value for key, value in record.items()}


class FieldCounts:
    """TP / FP / FN per field name, accumulated over one item."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[int]] = {}
        self.prediction: dict[str, Any] = {}  # field -> normalised predicted value, for agreement

    def add(self, field: str, tp: int = 0, fp: int = 0, fn: int = 0) -> None:
        """Add true positives, false positives and false negatives to ``field``'s counts."""
        counts = self.by_field.setdefault(field, [0, 0, 0])
        counts[0] += tp
        counts[1] += fp
        counts[2] += fn

    def totals(self) -> tuple[int, int, int]:
        """``(TP, FP, FN)`` summed over all fields."""
        tp = sum(c[0] for c in self.by_field.values())
        fp = sum(c[1] for c in self.by_field.values())
        fn = sum(c[2] for c in self.by_field.values())
        return tp, fp, fn


class JsonFields(MicroF1Scorer):
    """Per-field precision / recall / F1 of JSON outputs (see the module doc for the rules).

    Args:
        config: the spec's ``json_fields`` scorer section.
    """

    kind = "json_fields"
    primary_metric = "field_f1"

    def __init__(self, config: JsonFieldsScorer):
        self.config = config
        self.rules = config.normalize
        self.list_fields = set(config.list_fields)

    # -- values -------------------------------------------------------------------------
    def _value(self, record: dict[str, Any], key: str) -> Any:
        value = record.get(key, _MISSING)
        if value is None and self.config.null_is_missing:
            return _MISSING
        return value

    def _compare_scalar(self, field: str, gold: Any, pred: Any, counts: FieldCounts) -> None:
        gold_key = gold if gold is _MISSING else normalize_value(gold, self.rules)
        pred_key = pred if pred is _MISSING else normalize_value(pred, self.rules)
        if pred_key is not _MISSING:
            counts.prediction[field] = repr(pred_key)
        self._count(field, gold_key, pred_key, counts)

    @staticmethod
    def _count(field: str, gold_key: Any, pred_key: Any, counts: FieldCounts) -> None:
        """Count one field from already-normalised values (``_MISSING`` for absent)."""
        if gold_key is _MISSING and pred_key is _MISSING:
            return
        if gold_key is _MISSING:
            counts.add(field, fp=1)
        elif pred_key is _MISSING:
            counts.add(field, fn=1)
        elif gold_key == pred_key:
            counts.add(field, tp=1)
        else:
            counts.add(field, fp=1, fn=1)

    # -- list fields ----------------------------------------------------------------------
    def _elements(self, value: Any) -> list[dict[str, Any]]:
        """Distinct elements of a list field as ``sub-field -> normalised value`` (absent
        sub-fields dropped; scalars under the key ``""``), duplicates counted once."""
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            value = [value]
        seen: set[Any] = set()
        unique = []
        for element in value:
            if isinstance(element, dict):
                fields = {
                    unicode_form(str(k)): normalize_value(v, self.rules)
                    for k, v in element.items()
                    if self._value(element, k) is not _MISSING
                }
            else:
                fields = {"": normalize_value(element, self.rules)}
            key = tuple(sorted(fields.items()))
            if key not in seen:
                seen.add(key)
                unique.append(fields)
        return unique

    @staticmethod
    def _pair_matches(gold: dict[str, Any], pred: dict[str, Any]) -> int:
        return sum(1 for key, value in gold.items() if pred.get(key, _MISSING) == value)

    def _compare_list(self, field: str, gold_value: Any, pred_value: Any, counts: FieldCounts) -> None:
        gold = self._elements(gold_value)
        pred = self._elements(pred_value)
        if pred:
            counts.prediction[field] = sorted(repr(sorted(e.items())) for e in pred)
        pairs: list[tuple[int, int]] = []
        if gold and pred:
            matches = [[self._pair_matches(g, p) for p in pred] for g in gold]
            if len(gold) == 1 or len(pred) == 1:
                # One row or column: the best assignment is the best single pair.
                r, c = max(((r, c) for r in range(len(gold)) for c in range(len(pred))),
                           key=lambda rc: matches[rc[0]][rc[1]])
                assignment = [(r, c)]
            else:
                import numpy as np
                from scipy.optimize import linear_sum_assignment

                rows, cols = linear_sum_assignment(np.array(matches, dtype=float), maximize=True)
                assignment = list(zip(rows.tolist(), cols.tolist()))
            # A pair sharing no sub-field is no match: leave both sides unmatched.
            pairs = [(r, c) for r, c in assignment if matches[r][c] > 0]
        matched_gold = {r for r, _ in pairs}
        matched_pred = {c for _, c in pairs}
        for r, c in pairs:
            for key in dict.fromkeys([*gold[r], *pred[c]]):
                self._count(self._sub(field, key), gold[r].get(key, _MISSING), pred[c].get(key, _MISSING), counts)
        for r, element in enumerate(gold):
            if r not in matched_gold:
                for key in element:
                    counts.add(self._sub(field, key), fn=1)
        for c, element in enumerate(pred):
            if c not in matched_pred:
                for key in element:
                    counts.add(self._sub(field, key), fp=1)

    @staticmethod
    def _sub(field: str, key: str) -> str:
        return f"{field}.{key}" if key else field

    # -- items ----------------------------------------------------------------------------
    def _gold(self, item: Any) -> dict[str, Any]:
        gold = item.gold
        if isinstance(gold, str):
            try:
                gold = json.loads(gold)
            except json.JSONDecodeError:
                gold = None
        if not isinstance(gold, dict):
            raise DataError(f"item {item.id!r} (line {item.line}): gold is not a JSON object")
        return gold

    def compare(self, gold: dict[str, Any], pred: dict[str, Any]) -> FieldCounts:
        """Field counts of one prediction (already parsed) against its gold object."""
        counts = FieldCounts()
        gold, pred = _composed_keys(gold), _composed_keys(pred)
        fields = [unicode_form(f) for f in self.config.fields] if self.config.fields is not None else list(gold)
        for field in fields:
            gold_value, pred_value = self._value(gold, field), self._value(pred, field)
            if field in self.list_fields:
                self._compare_list(field, gold_value, pred_value, counts)
            else:
                self._compare_scalar(field, gold_value, pred_value, counts)
        return counts

    def score_one(self, output: str | None, gold: dict[str, Any]) -> ItemScore:
        """Score one raw output against a gold object."""
        if output is None:
            pred, result = {}, no_output_score()
        else:
            parsed = extract_json(output)
            if isinstance(parsed, dict):
                pred, result = parsed, ItemScore(0.0)
            else:
                pred, result = {}, ItemScore(0.0, valid=False, reason="parse_error")
        counts = self.compare(gold, pred)
        if result.valid and result.reason is None:
            # The normalised scored fields: equal for two models that extracted the same values.
            result.canonical = json.dumps(counts.prediction, sort_keys=True)
        tp, fp, fn = counts.totals()
        result.score = f1_from_counts(tp, fp, fn)[2]
        result.counts = (tp, fp, fn)
        result.details["fields"] = {k: tuple(v) for k, v in counts.by_field.items()}
        if result.reason is None and result.score < 1.0:
            result.reason = "wrong_fields"
        return result

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Score each output; the item score is that item's field F1."""
        _check_lengths(outputs, items)
        return [self.score_one(output, self._gold(item)) for output, item in zip(outputs, items)]


