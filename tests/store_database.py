"""Fixtures of the store and service tests: a test that takes ``database`` runs on both backends.

Loaded for every test by ``pytest_plugins`` in ``tests/conftest.py``.

- ``sqlite``: a fresh file per test, migrated.
- ``postgresql``: the server at 127.0.0.1:5432 (database ``test``, user postgres or root,
  or ``REGULARS_TEST_POSTGRES_URL``), in a schema of its own made for this test session
  (``regulars_test_<random>``, dropped at the end) so parallel runs never collide; every
  table is emptied before each test. Unreachable: skipped locally, a failure under CI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from regulars.store import Database, open_database
from regulars.store.tables import metadata

CANDIDATES = [
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
]


def _reachable_postgres() -> URL | None:
    env = os.environ.get("REGULARS_TEST_POSTGRES_URL")
    for candidate in [env] if env else CANDIDATES:
        url = make_url(candidate).set(drivername="postgresql+psycopg")
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            with psycopg.connect(conninfo, connect_timeout=3):
                return url
        except psycopg.Error:
            continue
    return None


def _in_schema(url: URL, schema: str) -> URL:
    return url.update_query_dict({"options": f"-csearch_path={schema}"})


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[URL]:
    """Return the URL of a schema of this session's own on the test PostgreSQL server."""
    server = _reachable_postgres()
    if server is None:
        message = "PostgreSQL is not reachable at 127.0.0.1:5432 (database test)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the store tests on it")
        pytest.skip(message)
    schema = f"regulars_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield _in_schema(server, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database(postgres_url: URL) -> Iterator[Database]:
    """Return the session's migrated PostgreSQL store."""
    database = open_database(postgres_url)
    database.migrate()
    yield database
    database.dispose()


def empty_tables(database: Database) -> None:
    """Empty every table of a PostgreSQL store and restart its id sequences."""
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Return the name of the backend the test runs on."""
    return str(request.param)


@pytest.fixture()
def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Return an empty, migrated store on each backend."""
    if backend == "sqlite":
        database = open_database(path=tmp_path / "store.db")
        database.migrate()
        yield database
        database.dispose()
        return
    database = request.getfixturevalue("postgres_database")
    empty_tables(database)
    yield database


@pytest.fixture()
def empty_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Database]:
    """Return a store that was never migrated (a new file, or a new empty schema)."""
    if backend == "sqlite":
        database = open_database(path=tmp_path / "empty.db")
        yield database
        database.dispose()
        return
    url: URL = request.getfixturevalue("postgres_url")
    schema = f"regulars_empty_{secrets.token_hex(4)}"
    server = url.difference_update_query(["options"])
    admin = sa.create_engine(server)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    database = open_database(_in_schema(server, schema))
    try:
        yield database
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
