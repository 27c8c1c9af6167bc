"""SQLite helpers shared by the run store, the batch ledger and the response cache: growing a
table written by an older distilleval without losing its rows, and telling a damaged file from
one that merely cannot be written."""

from __future__ import annotations

import sqlite3

# SQLite's names for "this file is not (or no longer) a sound database".
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def add_missing_columns(db: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Add each of ``columns`` (name -> SQL type and default) that ``table`` lacks.

    Files written before a column existed keep working: the new column takes its default for
    the old rows.
    """
    present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    for name, declaration in columns.items():
        if name not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


def is_damage(err: BaseException) -> bool:
    """True when ``err`` says the database file is damaged (not SQLite, a corrupt page);
    False for errors of the place it lives in (read-only, full disk, locked, missing folder)."""
    name = getattr(err, "sqlite_errorname", "") or ""
    if name.startswith(_DAMAGE_CODES):
        return True
    text = str(err).lower()
    return isinstance(err, sqlite3.DatabaseError) and not isinstance(err, sqlite3.OperationalError) and (
        "malformed" in text or "not a database" in text
    )
