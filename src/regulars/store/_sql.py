"""SQL that differs by backend: ``INSERT ... ON CONFLICT`` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

__all__ = ["insert_ignore", "like_text"]


def insert_ignore(
    conn: Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
) -> bool:
    """Insert ``values`` unless a row with the same ``conflict`` columns exists.

    Race-safe: on PostgreSQL a concurrent insert of the same key waits for the other
    transaction and then does nothing; SQLite runs one writer at a time.

    Returns
    -------
    bool
        Whether the row was inserted.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(dict(values))
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(*table.primary_key.columns)
    )
    # RETURNING, not rowcount: SQLAlchemy does not report an INSERT's rowcount on psycopg.
    return conn.execute(statement).first() is not None


def like_text(column: sa.ColumnElement[Any], needle: str) -> sa.ColumnElement[bool]:
    """Whether ``column`` (any type, read as lower-case text) contains ``needle``."""
    text = sa.func.lower(sa.cast(column, sa.Text()))
    return text.contains(needle.lower(), autoescape=True)
