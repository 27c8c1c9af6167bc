"""SQL execution accuracy: run gold and predicted queries read-only and compare the results.

Rules:

- Only a single read-only statement (SELECT, WITH or VALUES) is run. DML, DDL, ATTACH,
  PRAGMA, transactions and multiple statements are refused before running (reason
  ``unsafe``), and the worker's read-only connection and authorizer refuse them again.
- A query longer than ``max_query_chars`` is not checked or run (reason ``too_long``), so
  the check in this process stays cheap whatever a model writes.
- Every query runs in a worker process with a hard time limit (``sql_worker``), and comparing
  its result with the gold's is bounded by the same limit (reason ``timeout``).
- Results are compared as multisets of rows; row order matters only when the gold's
  outermost query has ORDER BY. Columns may come in any order (names are ignored). NULL
  equals NULL; integers must be equal; a REAL equals a number within ``float_tolerance``
  (relative or absolute); text and blobs must be equal (``sql_results``).
- Several acceptable gold queries per item are supported; matching any one is correct.
- A gold query that fails is flagged; when every gold query of an item fails, the item is
  excluded from the denominator (reason ``gold_failed``), not scored 0.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from distilleval.results.summary_json import MetricValue
from distilleval.scoring.base import ItemScore, Scorer, _check_lengths, no_output_score, rate_metric
from distilleval.scoring.sql_results import ComparisonTimeout, result_fingerprint, results_match
from distilleval.spec.scorer_config import SqlExecutionScorer

_READ_ONLY_STARTS = {"SELECT", "WITH", "VALUES"}
_MAIN_STATEMENTS = {"SELECT", "VALUES", "INSERT", "UPDATE", "DELETE", "REPLACE"}
# Functions that reach outside the database (most builds lack them; refuse them by name anyway).
_FORBIDDEN_FUNCTIONS = {"LOAD_EXTENSION", "READFILE", "WRITEFILE", "FTS3_TOKENIZER", "EDIT"}
_FENCE = re.compile(r"```[A-Za-z]*\s*\n?(.*?)```", re.DOTALL)
_REASONS = ("unsafe", "too_long", "timeout", "too_large", "error", "wrong_result", "no_output")


class Token(NamedTuple):
    """A lexical token of SQL: ``word``, ``string``, ``ident``, ``punct`` or ``semicolon``."""

    kind: str
    text: str
    depth: int
    start: int


def tokenize(sql: str) -> Iterator[Token]:
    """Split SQL into tokens, skipping comments, tracking parenthesis depth.

    Quotes follow SQLite: '...' strings, "..." / `...` / [...] identifiers, doubled quote
    characters as escapes. An unterminated string or comment runs to the end.
    """
    i, n, depth = 0, len(sql), 0
    while i < n:
        char = sql[i]
        if char.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char in "'\"`[":
            close = "]" if char == "[" else char
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if close != "]" and j + 1 < n and sql[j + 1] == close:
                        j += 2
                        continue
                    break
                j += 1
            yield Token("string" if char == "'" else "ident", sql[i:j + 1], depth, i)
            i = j + 1
        elif char.isalnum() or char == "_" or char == "$":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] in "_$."):
                j += 1
            yield Token("word", sql[i:j], depth, i)
            i = j
        elif char == ";":
            yield Token("semicolon", ";", depth, i)
            i += 1
        else:
            if char == "(":
                yield Token("punct", char, depth, i)
                depth += 1
            elif char == ")":
                depth = max(0, depth - 1)
                yield Token("punct", char, depth, i)
            else:
                yield Token("punct", char, depth, i)
            i += 1


def split_statements(sql: str) -> list[str]:
    """Split on semicolons outside strings, identifiers and comments; drop empty pieces.

    >>> split_statements("SELECT 'a;b'; SELECT 2;")
    ["SELECT 'a;b'", 'SELECT 2']
    """
    pieces, start = [], 0
    for token in tokenize(sql):
        if token.kind == "semicolon":
            pieces.append(sql[start:token.start])
            start = token.start + 1
    pieces.append(sql[start:])
    return [p.strip() for p in pieces if any(True for _ in tokenize(p))]


def unsafe_reason(sql: str) -> str | None:
    """Why ``sql`` may not be run, or None when it is a single read-only statement.

    The check is syntactic and deliberately narrow (one statement, starting with SELECT,
    WITH or VALUES, whose main statement after any WITH clause is SELECT or VALUES, and no
    file-reading functions), so column names such as ``release`` are not refused; the
    worker's read-only connection and authorizer refuse everything else that writes.

    >>> unsafe_reason("SELECT 1;") is None
    True
    >>> unsafe_reason("SELECT 1; DROP TABLE t")
    'multiple statements'
    >>> unsafe_reason("PRAGMA writable_schema = 1")
    'PRAGMA is not a read-only query'
    >>> unsafe_reason("WITH x AS (SELECT 1) DELETE FROM t")
    'DELETE is not a read-only query'
    """
    statements = split_statements(sql)
    if not statements:
        return "empty query"
    if len(statements) > 1:
        return "multiple statements"
    tokens = list(tokenize(statements[0]))
    words = [t for t in tokens if t.kind == "word"]
    first = words[0].text.upper() if words else ""
    if first not in _READ_ONLY_STARTS:
        return f"{first or 'the statement'} is not a read-only query"
    if first == "WITH":
        # CTE bodies sit inside parentheses; the first top-level statement keyword is the main one.
        main = next((w.text.upper() for w in words[1:] if w.depth == 0 and w.text.upper() in _MAIN_STATEMENTS), "")
        if main not in ("SELECT", "VALUES"):
            return f"{main or 'a WITH clause without SELECT'} is not a read-only query"
    for token, following in zip(tokens, tokens[1:]):
        if token.kind == "word" and following.text == "(" and token.text.upper() in _FORBIDDEN_FUNCTIONS:
            return f"function {token.text} is not allowed"
    return None


def outer_order_by(sql: str) -> bool:
    """Whether the outermost query has ORDER BY (so row order is part of the answer).

    >>> outer_order_by("SELECT a FROM (SELECT a FROM t ORDER BY a)")
    False
    >>> outer_order_by("WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a DESC")
    True
    """
    previous = None
    for token in tokenize(sql):
        if token.kind == "word" and token.depth == 0:
            word = token.text.upper()
            if word == "BY" and previous == "ORDER":
                return True
            previous = word
        elif token.kind != "word":
            previous = None
    return False


def extract_sql(text: str) -> str:
    """The query in a model's raw output: the first fenced code block if any, else the text.

    >>> extract_sql("Here you go:\\n```sql\\nSELECT 1;\\n```")
    'SELECT 1;'
    """
    match = _FENCE.search(text)
    return (match.group(1) if match else text).strip()


# -- the scorer ----------------------------------------------------------------------------
class SqlExecution(Scorer):
    """Execution accuracy over a SQLite database (see the module doc).

    Args:
        config: the spec's ``sql_execution`` scorer section.
        database: the database file (the spec's ``scorer.database`` resolved).
        gold_separator: overrides ``config.gold_separator``; ``";"`` splits on statement
            boundaries (quotes respected), anything else is a plain string split.
    """

    kind = "sql_execution"
    primary_metric = "execution_accuracy"

    def __init__(self, config: SqlExecutionScorer, database: str | Path):
        from distilleval.scoring.sql_worker import WorkerPool

        self.config = config
        self.database = str(Path(database).resolve())
        self.pool = WorkerPool(config.workers)
        self._gold_results: dict[str, tuple[Any, ...]] = {}

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.close()

    def gold_queries(self, gold: Any) -> list[str]:
        """The acceptable gold queries of one item's gold cell."""
        if isinstance(gold, list):
            return [str(q).strip() for q in gold if str(q).strip()]
        text = str(gold or "")
        separator = self.config.gold_separator
        if separator is None:
            return [text.strip()] if text.strip() else []
        if separator == ";":
            return split_statements(text)
        return [q.strip() for q in text.split(separator) if q.strip()]

    def _job(self, sql: str) -> tuple[tuple[Any, ...], float]:
        return (self.database, sql, self.config.timeout_s, self.config.max_rows), self.config.timeout_s

    def execute(self, queries: Sequence[str]) -> list[tuple[Any, ...]]:
        """Run queries through the pool (unsafe ones are refused without running)."""
        results: list[tuple[Any, ...] | None] = [None] * len(queries)
        jobs, positions = [], []
        limit = self.config.max_query_chars
        for i, sql in enumerate(queries):
            if len(sql) > limit:
                results[i] = ("too_long", f"{len(sql):,} characters, over scorer.max_query_chars ({limit:,})")
                continue
            reason = unsafe_reason(sql)
            if reason is not None:
                results[i] = ("unsafe", reason)
            else:
                jobs.append(self._job(sql))
                positions.append(i)
        for i, result in zip(positions, self.pool.map(jobs)):
            results[i] = result
        done = [result for result in results if result is not None]
        assert len(done) == len(results)  # every query was run or refused
        return done

    def _run_gold(self, items: Sequence[Any]) -> None:
        todo = sorted({q for item in items for q in self.gold_queries(item.gold) if q not in self._gold_results})
        for sql, result in zip(todo, self.execute(todo)):
            self._gold_results[sql] = result

    def score_items(self, outputs: Sequence[str | None], items: Sequence[Any]) -> list[ItemScore]:
        """Run every gold (cached across calls) and predicted query, then compare results."""
        _check_lengths(outputs, items)
        self._run_gold(items)
        predicted = [extract_sql(o) if o is not None else None for o in outputs]
        runnable = {i: sql for i, sql in enumerate(predicted) if sql is not None}
        ran = dict(zip(runnable, self.execute(list(runnable.values()))))
        return [self._score(ran.get(i), item) for i, item in enumerate(items)]

    def _score(self, result: tuple[Any, ...] | None, item: Any) -> ItemScore:
        queries = self.gold_queries(item.gold)
        golds = [(q, self._gold_results[q]) for q in queries]
        working = [(q, r) for q, r in golds if r[0] == "ok"]
        failed = [f"{r[0]}: {r[1]}"[:200] for _, r in golds if r[0] != "ok"]
        if not working:
            return ItemScore(None, reason="gold_failed", details={"gold_errors": failed or ["no gold query"]})
        if result is None:
            return no_output_score()
        details: dict[str, Any] = {"gold_errors": failed} if failed else {}
        status = result[0]
        if status != "ok":
            details["error"] = str(result[1])[:300]
            return ItemScore(0.0, valid=False, reason=status, details=details)
        rows = result[2]
        fingerprint = result_fingerprint(rows)
        deadline = time.monotonic() + self.config.timeout_s
        try:
            for sql, gold in working:
                if results_match(gold[2], rows, ordered=outer_order_by(sql), tolerance=self.config.float_tolerance,
                                 deadline=deadline):
                    return ItemScore(1.0, canonical=fingerprint, details=details)
        except ComparisonTimeout:
            details["error"] = f"comparing the result with the gold's took over {self.config.timeout_s:g} s"
            return ItemScore(0.0, valid=False, reason="timeout", canonical=fingerprint, details=details)
        return ItemScore(0.0, reason="wrong_result", canonical=fingerprint, details=details)

    def summarize(self, scores: Sequence[ItemScore]) -> tuple[MetricValue, dict[str, float | None]]:
        """Execution accuracy (Wilson interval) over items whose gold ran; counts of gold
        failures and of each kind of wrong prediction, reported separately."""
        scored = [s for s in scores if s.score is not None]
        secondary: dict[str, float | None] = {
            "gold_failed": float(sum(1 for s in scores if s.reason == "gold_failed")),
        }
        for reason in _REASONS:
            count = sum(1 for s in scored if s.reason == reason)
            secondary[f"count/{reason}"] = float(count)
            secondary[f"rate/{reason}"] = count / len(scored) if scored else None
        return rate_metric(self.primary_metric, scores), secondary
