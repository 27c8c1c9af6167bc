"""The response cache: one SQLite file shared by runs, content-addressed.

A key is the SHA-256 of what decides the output and nothing else: the model id, the messages,
the sampling parameters (max_tokens, temperature, stop) and the repeat index. Timeouts, retry
counts, API bases and keys never enter it, so changing a timeout does not re-pay for calls.
Only successful completions are stored. A hit costs $0 in the run that replays it, but keeps
the tokens, latency and cost measured when the call was made (for projections), and is flagged
so latency statistics can exclude it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from distilleval.backends.base import ChatRequest, Completion
from distilleval.run.schema import add_missing_columns

DEFAULT_CACHE_PATH = Path.home() / ".cache" / "distilleval" / "responses.sqlite"


def cache_path_for(explicit: str | Path | None) -> Path:
    """The cache file to use: ``--cache``, else ``$DISTILLEVAL_CACHE``, else ``DEFAULT_CACHE_PATH``."""
    import os

    chosen = explicit or os.environ.get("DISTILLEVAL_CACHE") or DEFAULT_CACHE_PATH
    return Path(chosen)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    cost_usd REAL NOT NULL,
    created_at REAL NOT NULL
)
"""

# Columns added after the first release; older cache files gain them on open.
_LATER_COLUMNS = {
    "cached_input_tokens": "INTEGER NOT NULL DEFAULT 0",
    "cache_write_tokens": "INTEGER NOT NULL DEFAULT 0",
    "finish_reason": "TEXT",
    # 0 for an answer that came through a provider batch: it has no per-request latency.
    "latency_measured": "INTEGER NOT NULL DEFAULT 1",
}


@dataclass(frozen=True)
class CachedResponse:
    """A stored completion with the figures measured when it was first made."""

    text: str
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    cost_usd: float
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    finish_reason: str | None = None


def cache_key(model_id: str, request: ChatRequest, repeat: int = 0) -> str:
    """The content address of one call.

    Args:
        model_id: the backend's model id.
        request: messages and sampling parameters.
        repeat: which sample this is when an item is run several times (0 for the first).

    Returns:
        A hex SHA-256 over a canonical JSON of exactly those fields.
    """
    material = {
        "model": model_id,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": list(request.stop),
        "repeat": repeat,
    }
    # A reasoning setting decides the answer too; left out when unset so older keys still match.
    if request.reasoning_effort is not None or request.thinking_budget_tokens is not None:
        material["reasoning"] = [request.reasoning_effort, request.thinking_budget_tokens]
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_PUT = (
    "INSERT OR REPLACE INTO responses (key, model_id, text, input_tokens, output_tokens, latency_ms, cost_usd,"
    " created_at, cached_input_tokens, cache_write_tokens, finish_reason, latency_measured)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _put_row(key: str, model_id: str, completion: Completion) -> tuple:
    measured = completion.latency_ms is not None
    return (
        key,
        model_id,
        completion.text,
        completion.input_tokens,
        completion.output_tokens,
        completion.latency_ms if measured else 0.0,
        completion.cost_usd,
        time.time(),
        completion.cached_input_tokens,
        completion.cache_write_tokens,
        completion.finish_reason,
        int(measured),
    )


class ResponseCache:
    """The SQLite cache file. Safe to share between runs and processes (WAL mode).

    Args:
        path: the SQLite file; its folder is created.
        refresh: when True lookups always miss (but new results are
            written), which is what ``--refresh`` means.
    """

    def __init__(self, path: str | Path, *, refresh: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.refresh = refresh
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        add_missing_columns(self._db, "responses", _LATER_COLUMNS)

    def get(self, key: str) -> CachedResponse | None:
        """The stored response for ``key``; None on a miss or when refreshing."""
        if self.refresh:
            return None
        row = self._db.execute(
            "SELECT text, input_tokens, output_tokens, latency_ms, cost_usd, cached_input_tokens, cache_write_tokens,"
            " finish_reason, latency_measured FROM responses WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        *fields, latency_measured = row
        response = CachedResponse(*fields)
        return response if latency_measured else dataclasses.replace(response, latency_ms=None)

    def contains(self, key: str) -> bool:
        """True when ``key`` has a stored response (False when refreshing, like ``get``)."""
        if self.refresh:
            return False
        return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, model_id: str, completion: Completion) -> None:
        """Store a successful completion (replacing an older one under ``--refresh``).

        A completion without a latency (answered through a provider batch) is stored as such:
        its hits replay ``latency_ms`` None.
        """
        self._db.execute(_PUT, _put_row(key, model_id, completion))

    def put_many(self, model_id: str, entries: list[tuple[str, Completion]]) -> None:
        """Store several ``(key, completion)`` pairs of one model in one transaction."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(_PUT, [_put_row(key, model_id, completion) for key, completion in entries])

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
