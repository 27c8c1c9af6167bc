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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilleval.errors import DataError
from distilleval.spec.labels import LabelMatcher
from distilleval.spec.task_spec import SplitSpec, TaskSpec, spec_location

_LABELS_SHOWN = 8


@dataclass(frozen=True)
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
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def iter_jsonl(
    handle: Iterable[str] | Iterable[bytes], path: Path, *, expected: str = "a JSON object"
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
def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig") as handle:
        return list(iter_jsonl(handle, path))


def _read_csv(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = []
        for record in reader:
            rows.append((reader.line_num, dict(record)))
        return rows


def read_records(path: Path, fmt: str = "auto") -> list[tuple[int, dict[str, Any]]]:
    """Raw records of a JSONL or CSV file with their line numbers.

    Raises:
        DataError: the file is missing, unreadable, empty or malformed.
    """
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    try:
        rows = _read_csv(path) if fmt == "csv" else _read_jsonl(path)
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot read data file ({err})") from None
    if not rows:
        raise DataError(f"{path}: the data file has no records")
    return rows


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
    return sorted(items, key=lambda item: order_key(item.id, salt))


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
    if spec.output.kind != "label" or spec.scorer.kind != "exact_match" or not spec.output.labels:
        return None
    return LabelMatcher(spec.output.labels, spec.scorer.normalize, spec.scorer.aliases)


def _label_gold(raw: Any, matcher: LabelMatcher, labels: list[str], where: str) -> str:
    label = matcher.match(str(raw))
    if label is None:
        shown = ", ".join(labels[:_LABELS_SHOWN]) + (f", … ({len(labels)} in all)" if len(labels) > _LABELS_SHOWN else "")
        raise DataError(f"{where}: gold {raw!r} is not one of output.labels ({shown})")
    return label


def _check_gold_column(spec: TaskSpec, source: Path, records: list[tuple[int, dict[str, Any]]]) -> None:
    """A ``data.gold`` column that no record has is a misspelling, not an unlabelled data set."""
    column = spec.data.gold
    if column is None or any(column in record for _, record in records):
        return
    columns = list(dict.fromkeys(key for _, record in records[:100] for key in record))
    raise DataError(f"{spec_location(spec, ('data', 'gold'))}: data.gold: column {column!r} is in no record of {source}; "
                    f"its columns are {', '.join(map(str, columns))}")


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
        return canonical_order(_load_items(spec, path, require_gold))


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
    records = read_records(source, spec.data.format)
    if path is None:
        _check_gold_column(spec, source, records)
    matcher = _gold_matcher(spec)
    # The spec's settings read once, not once a row: a million rows are read here before the first call.
    data = spec.data
    inputs_of = list(data.input.items())
    images = set(data.image_inputs)
    limit = data.max_field_chars
    gold_column, id_column, split_column = data.gold, data.id, data.split.column
    train_values, eval_values = set(data.split.train_values), set(data.split.eval_values)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for line, record in records:
        inputs: dict[str, str] = {}
        for field_name, column in inputs_of:
            value = record.get(column)
            if value is None:
                raise DataError(f"{source}:{line}: column {column!r} (input field {field_name!r}) is missing")
            if not isinstance(value, str):
                value = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            if len(value) > limit:
                _check_length(value, spec, f"{source}:{line}: column {column!r}")
            if field_name in images:
                value = str(_readable_image(source.parent, value, f"{source}:{line}: column {column!r}"))
            inputs[field_name] = value
        gold = None
        if gold_column:
            raw = record.get(gold_column)
            if raw is not None and raw != "":
                where = f"{source}:{line}: column {gold_column!r}"
                if isinstance(raw, str) and len(raw) > limit:
                    _check_length(raw, spec, where)
                gold = _gold_value(raw, spec, where)
                if matcher is not None:
                    gold = _label_gold(gold, matcher, spec.output.labels or [], where)
            elif require_gold:
                raise DataError(f"{source}:{line}: column {gold_column!r} (gold) is missing")
        if id_column:
            if id_column not in record:
                raise DataError(f"{source}:{line}: column {id_column!r} (id) is missing")
            item_id = str(record[id_column])
        else:
            # Identical rows are interchangeable, so numbering their copies in file order moves no figure.
            base = item_id = content_id(inputs, gold)
            copies = 1
            while item_id in seen:
                copies += 1
                item_id = f"{base}-{copies}"
        if item_id in seen:
            raise DataError(f"{source}:{line}: duplicate id {item_id!r} (first on line {seen[item_id]})")
        seen[item_id] = line
        if path is not None and split_column and split_column not in record:
            split_name = "train"  # a pool of inputs to label has no split column: all of it is for training
        elif split_column:
            value = str(record.get(split_column, ""))
            if value in train_values:
                split_name = "train"
            elif value in eval_values:
                split_name = "eval"
            else:
                raise DataError(
                    f"{source}:{line}: column {split_column!r}: split {value!r} is neither a train value "
                    f"({', '.join(data.split.train_values)}) nor an eval value ({', '.join(data.split.eval_values)})"
                )
        else:
            split_name = assign_split(item_id, data.split)
        items.append(Item(id=item_id, inputs=inputs, gold=gold, split=split_name, line=line))
    return items


def split_items(items: list[Item], split: str) -> list[Item]:
    """The items of one split, in the order given (``load_items``'s canonical order)."""
    return [item for item in items if item.split == split]
