"""Growing an SQLite table written by an older distilleval without losing its rows."""

from __future__ import annotations

import sqlite3


def add_missing_columns(db: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Add each of ``columns`` (name -> SQL type and default) that ``table`` lacks.

    Files written before a column existed keep working: the new column takes its default for
    the old rows.
    """
    present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    for name, declaration in columns.items():
        if name not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
