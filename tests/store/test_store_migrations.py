"""Migrations: from an empty database to head, no drift from the tables, and back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from regulars.store import Database, current_revision, head_revision, schema_drift
from regulars.store.migrate import alembic_config
from regulars.store.tables import metadata


def _tables(database: Database) -> set[str]:
    return set(sa.inspect(database.engine).get_table_names())


def test_migrations_create_every_table_with_no_drift(empty_database: Database) -> None:
    assert current_revision(empty_database) is None
    assert _tables(empty_database) == set()
    assert empty_database.migrate() == head_revision() == "0002"
    assert _tables(empty_database) == set(metadata.tables) | {"alembic_version"}
    assert schema_drift(empty_database) == []
    assert empty_database.migrate() == "0002"  # again: nothing to do


def test_drift_is_noticed(empty_database: Database) -> None:
    empty_database.migrate()
    with empty_database.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE orders ADD COLUMN note VARCHAR(10)")
    drift = schema_drift(empty_database)
    assert [d[0] for d in drift] == ["remove_column"]


def test_downgrade_to_base_and_up_again(empty_database: Database) -> None:
    empty_database.migrate()
    with empty_database.engine.connect() as conn, conn.begin():
        command.downgrade(alembic_config(conn), "base")
    assert _tables(empty_database) == {"alembic_version"}
    empty_database.migrate()
    assert schema_drift(empty_database) == []
