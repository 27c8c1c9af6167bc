"""Every item's result of a run as a file: JSONL (one ``ItemResult`` a line) or Parquet.

Both are written streaming from ``results.item_results.iter_items`` (a bounded number of rows in
memory at a time) into a temp file beside the target that is renamed over it at the end, so a
failed export leaves no half-written file. Parquet needs the optional ``pyarrow``
(``pip install 'distilleval[parquet]'``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from distilleval.errors import ConfigurationError, DataError
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import ItemResult, Summary

Format = Literal["jsonl", "parquet"]
PARQUET_BATCH = 10_000
PYARROW_MISSING = "Parquet export needs pyarrow: pip install 'distilleval[parquet]' (or pip install pyarrow)"


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temp path beside ``path``, renamed over it when the block ends without an error (removed otherwise)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write the export ({err.strerror or err})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_jsonl(items: Iterable[ItemResult], path: Path) -> int:
    count = 0
    with path.open("x", encoding="utf-8") as handle:
        for item in items:
            handle.write(item.model_dump_json() + "\n")
            count += 1
    return count


def _parquet_schema(pa: Any) -> Any:
    text, number = pa.string(), pa.float64()
    return pa.schema([
        ("id", text), ("gold", text), ("input_preview", text),
        ("scores", pa.map_(text, number)), ("outputs", pa.map_(text, text)), ("errors", pa.map_(text, text)),
        ("latency_ms", pa.map_(text, number)), ("reasons", pa.map_(text, text)),
        ("confidence", pa.map_(text, number)), ("reached_max_tokens", pa.list_(text)),
    ])


def _parquet_row(item: ItemResult) -> dict[str, Any]:
    return {"id": item.id, "gold": item.gold, "input_preview": item.input_preview,
            "scores": list(item.scores.items()), "outputs": list(item.outputs.items()),
            "errors": list(item.errors.items()), "latency_ms": list(item.latency_ms.items()),
            "reasons": list(item.reasons.items()), "confidence": list(item.confidence.items()),
            "reached_max_tokens": list(item.reached_max_tokens)}


def _write_parquet(items: Iterable[ItemResult], path: Path) -> int:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    schema = _parquet_schema(pa)
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append(_parquet_row(item))
            count += 1
            if len(batch) >= PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return count


def require_pyarrow() -> None:
    """Raise ``ConfigurationError`` (one line saying how to install it) when pyarrow is missing."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ConfigurationError(PYARROW_MISSING) from None


def export_items(summary: Summary, path: Path, fmt: Format) -> int:
    """Write every item's result of ``summary`` to ``path`` in ``fmt``; returns the items written.

    Raises:
        ConfigurationError: Parquet asked for and pyarrow is not installed.
        DataError: the summary's item store is unreadable, or ``path`` cannot be written.
    """
    if fmt == "parquet":
        require_pyarrow()
    writer: Callable[[Iterable[ItemResult], Path], int] = _write_parquet if fmt == "parquet" else _write_jsonl
    if not path.parent.is_dir():
        raise DataError(f"{path}: cannot write the export (its folder {path.parent} does not exist)")
    with _replacing(path) as temporary:
        return writer(iter_items(summary), temporary)
