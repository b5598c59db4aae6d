"""Fixtures of the API tests: the app over a store on each backend, and keys of each scope.

Every test that takes ``api`` runs twice: on SQLite and on the PostgreSQL at 127.0.0.1:5432
(the ``database`` fixture of ``tests/store_database.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import Api, make_api

from regulars.store import Database


@pytest.fixture()
def api(database: Database) -> Iterator[Api]:
    """Return the API over an empty store (SQLite, then PostgreSQL)."""
    yield from make_api(database)
