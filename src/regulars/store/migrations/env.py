"""Alembic environment: migrates the connection handed over by :mod:`regulars.store.migrate`.

Run outside regulars (``alembic -x url=...``) it opens the database itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from regulars.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on ``-x url=...``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from regulars.store.engine import open_database

    url = context.get_x_argument(as_dictionary=True).get("url")
    database = open_database(url)
    try:
        with database.engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        database.dispose()


if context.is_offline_mode():
    raise SystemExit("regulars migrations run online only (pass a database).")
run_migrations_online()
