"""Check a teacher's output against the spec's output kind before it becomes training data.

Teacher output is untrusted data: it is parsed, never executed. A label must be in the label
set (under the scorer's declared normalisation and aliases), JSON must parse (and match the
spec's schema when there is one), SQL must be one read-only statement that compiles against
an empty in-memory copy of the database's schema. Each check returns the canonical text to
train on, or the reason the output goes to quarantine.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from distilleval.spec.labels import LabelMatcher
from distilleval.spec.scorer_config import ExactMatchScorer, SqlExecutionScorer, TextNormalization
from distilleval.spec.task_spec import TaskSpec

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True)
class LabelCheck:
    """The verdict on one output: ``label`` to train on, or ``reason`` (and ``detail``) to quarantine."""

    label: str | None
    reason: str | None = None
    detail: str | None = None

    @property
    def valid(self) -> bool:
        """True when the teacher's output gave a usable label."""
        return self.label is not None


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    match = _FENCE.match(stripped)
    return match.group(1).strip() if match else stripped


class LabelChecker:
    """Checks outputs for one spec (built once; the SQL schema is read once).

    Args:
        spec: the task spec (its ``output`` and ``scorer`` decide the checks).
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.kind = spec.output.kind
        self._schema = spec.output.json_schema
        self._ddl: list[str] = []
        scorer = spec.scorer
        self._labels: LabelMatcher | None = None
        if self.kind == "label":
            # The scorer's own matching (Unicode NFC, its normalisation and aliases), so a label
            # trained on is one the eval scores as that label.
            if isinstance(scorer, ExactMatchScorer):
                self._labels = LabelMatcher(spec.output.labels or [], scorer.normalize, scorer.aliases)
            else:
                self._labels = LabelMatcher(spec.output.labels or [], TextNormalization(), None)
        if self.kind == "sql" and isinstance(scorer, SqlExecutionScorer):
            self._ddl = _read_schema(spec.resolve(scorer.database))

    def check(self, output: str) -> LabelCheck:
        """The verdict on one teacher output."""
        if not output or not output.strip():
            return LabelCheck(None, "empty", "the teacher returned no text")
        if self.kind == "label":
            return self._check_label(output)
        if self.kind == "json":
            return self._check_json(output)
        if self.kind == "sql":
            return self._check_sql(output)
        return LabelCheck(output.strip())

    def _check_label(self, output: str) -> LabelCheck:
        canonical = self._labels.match(output.strip()) if self._labels is not None else None
        if canonical is None:
            shown = output.strip()[:80]
            return LabelCheck(None, "invalid_label", f"{shown!r} is not one of the spec's labels")
        return LabelCheck(canonical)

    def _check_json(self, output: str) -> LabelCheck:
        try:
            value = json.loads(_strip_fence(output))
        except json.JSONDecodeError as err:
            return LabelCheck(None, "parse_error", f"not valid JSON ({err.msg} at column {err.colno})")
        except RecursionError:
            return LabelCheck(None, "parse_error", "not valid JSON (nested too deeply to read)")
        if self._schema is not None:
            import jsonschema

            try:
                jsonschema.validate(value, self._schema)
            except jsonschema.ValidationError as err:
                where = "/".join(str(part) for part in err.absolute_path) or "(top level)"
                return LabelCheck(None, "schema_mismatch", f"{where}: {err.message[:160]}")
            except jsonschema.SchemaError as err:
                return LabelCheck(None, "schema_mismatch", f"the spec's schema is invalid: {err.message[:160]}")
        elif not isinstance(value, (dict, list)):
            return LabelCheck(None, "parse_error", f"expected a JSON object, found {type(value).__name__}")
        return LabelCheck(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))

    def _check_sql(self, output: str) -> LabelCheck:
        sql = _strip_fence(output).strip()
        body = sql.rstrip().rstrip(";").strip()
        if not body:
            return LabelCheck(None, "parse_error", "no SQL statement")
        if not sqlite3.complete_statement(body + ";"):
            return LabelCheck(None, "parse_error", "incomplete SQL statement")
        return _compile_read_only(body, self._ddl)


def _read_schema(database: Path) -> list[str]:
    """The CREATE statements of a SQLite file, read through a read-only connection."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table', 'view', 'index')"
            " AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 ELSE 2 END"
        ).fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows]


_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


def _compile_read_only(sql: str, ddl: list[str]) -> LabelCheck:
    """Compile ``sql`` with EXPLAIN in an empty in-memory database holding only the schema.

    EXPLAIN prepares the statement without running it, and the authorizer refuses anything
    but reads, so even a hostile statement touches nothing.
    """
    connection = sqlite3.connect(":memory:")
    try:
        for statement in ddl:
            try:
                connection.execute(statement)
            except sqlite3.Error:
                continue  # a view over something SQLite cannot recreate; the check still runs
        refused: list[int] = []

        def authorizer(action: int, *_: object) -> int:
            if action in _ALLOWED_ACTIONS:
                return sqlite3.SQLITE_OK
            refused.append(action)
            return sqlite3.SQLITE_DENY

        connection.set_authorizer(authorizer)
        try:
            connection.execute(f"EXPLAIN {sql}")
        except sqlite3.ProgrammingError as err:
            if "one statement" in str(err):
                return LabelCheck(None, "parse_error", "more than one SQL statement")
            return LabelCheck(None, "parse_error", str(err)[:160])
        except sqlite3.DatabaseError as err:
            message = str(err)
            if refused or "not authorized" in message:
                return LabelCheck(None, "unsafe", "only read-only queries (SELECT / WITH) are accepted")
            if not ddl and ("no such table" in message or "no such column" in message):
                return LabelCheck(sql)  # no schema to check names against: syntax is fine
            return LabelCheck(None, "parse_error", message[:160])
        return LabelCheck(sql)
    finally:
        connection.close()
