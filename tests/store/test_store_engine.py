"""Opening the store: where the URL comes from, SQLite settings, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from regulars.errors import ConfigError
from regulars.store import ENV_VAR, open_database


def test_url_argument_then_environment_then_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with open_database(path=tmp_path / "fallback.db") as db:
        assert db.url.endswith("fallback.db")
    monkeypatch.setenv(ENV_VAR, f"sqlite:///{tmp_path / 'from_env.db'}")
    with open_database(path=tmp_path / "fallback.db") as db:
        assert db.url.endswith("from_env.db")
    with open_database(f"sqlite:///{tmp_path / 'argument.db'}") as db:
        assert db.url.endswith("argument.db")


def test_no_database_named_says_how_to_name_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(ConfigError, match=ENV_VAR):
        open_database()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "Cannot read the database URL"),
        ("mysql://root@127.0.0.1/test", "names the backend 'mysql'"),
        ("sqlite://", "not an in-memory database"),
        ("sqlite:////no/such/folder/store.db", "does not exist"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_database(url)


def test_unreachable_server_names_the_url_without_its_password() -> None:
    url = "postgresql://shop:s3cret-pw@127.0.0.1:1/shop"
    with pytest.raises(ConfigError) as caught:
        open_database(url)
    text = str(caught.value)
    assert "Cannot open the database at postgresql+psycopg://shop:***@127.0.0.1:1/shop" in text
    assert "s3cret-pw" not in text
    assert "How to fix" in text


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    with open_database(URL.create("sqlite", database=str(tmp_path / "s.db"))) as db:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert db.backend == "sqlite"


def test_postgresql_urls_use_psycopg(database_backend_url: str) -> None:
    with open_database(database_backend_url.replace("postgresql+psycopg", "postgresql")) as db:
        assert db.backend == "postgresql"
        assert db.engine.dialect.driver == "psycopg"


@pytest.fixture()
def database_backend_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("postgres_url")
    return str(url.render_as_string(hide_password=False))
