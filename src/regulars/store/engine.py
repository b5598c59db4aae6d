"""Opening the operational store: one :class:`Database` per process, built in one place.

Where the database is, first found wins:

1. the ``url`` argument of :func:`open_database`;
2. the ``REGULARS_DATABASE_URL`` environment variable
   (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
3. a SQLite file at the ``path`` the caller gives (the CLI passes one beside the workspace).

SQLite connections run in WAL mode (readers never wait for the writer), with foreign keys
on and a 30 s busy timeout; a writing unit of work starts with ``BEGIN IMMEDIATE`` so two
writers queue instead of failing half-way, a read-only one with ``BEGIN DEFERRED`` under
``PRAGMA query_only`` (it takes no lock and is refused writes). PostgreSQL is reached
through psycopg 3 (``postgresql://`` URLs are read as ``postgresql+psycopg://``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from regulars.errors import ConfigError

if TYPE_CHECKING:
    from regulars.store.uow import UnitOfWork

__all__ = ["ENV_VAR", "Clock", "Database", "mask_url", "open_database"]

ENV_VAR = "REGULARS_DATABASE_URL"
"""The environment variable that points the store at its database."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 5
POSTGRES_POOL_SIZE = 16
POSTGRES_POOL_OVERFLOW = 8

Clock = Callable[[], datetime]
"""A function returning the current time, timezone-aware (tests pass a fixed one)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def mask_url(url: str | URL) -> str:
    """Return ``url`` as text with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "<unreadable database URL>"


class Database:
    """An open operational store: an engine, its backend and the clock of its records.

    Build one with :func:`open_database`; open a :class:`~regulars.store.uow.UnitOfWork`
    with :meth:`unit_of_work` for every piece of work.

    Parameters
    ----------
    engine
        The SQLAlchemy engine, set up by :func:`open_database`.
    clock
        Returns "now" for ``created_at``-style columns (default: the system clock, UTC).
    """

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or _utc_now
        self.writer_lock = threading.RLock()
        """Held by a writing unit of work on SQLite: this process's writers queue in order
        instead of polling SQLite's lock (other processes still meet the busy timeout)."""

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with the password masked (safe to print)."""
        return mask_url(self.engine.url)

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """Return a new unit of work (use it in a ``with`` block)."""
        from regulars.store.uow import UnitOfWork

        return UnitOfWork(self, read_only=read_only)

    def migrate(self) -> str:
        """Bring the schema to the newest migration; return the revision now in place."""
        from regulars.store.migrate import migrate

        return migrate(self)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def open_database(
    url: str | URL | None = None,
    *,
    path: str | Path | None = None,
    clock: Clock | None = None,
    echo: bool = False,
) -> Database:
    """Open the operational store and check that it can be reached.

    Parameters
    ----------
    url
        A SQLAlchemy URL (``sqlite:///store.db``, ``postgresql+psycopg://user@host/db``).
        Default: ``REGULARS_DATABASE_URL``, else a SQLite file at ``path``.
    path
        The SQLite file to use when neither ``url`` nor the environment names a database.
    clock
        Returns "now" for the records' timestamps (default: the system clock, UTC).
    echo
        Log every SQL statement (debugging).

    Returns
    -------
    Database
        Not yet migrated: call :meth:`Database.migrate` once at start-up.

    Raises
    ------
    ConfigError
        If no database is named, the URL cannot be read or names another backend, or the
        server cannot be reached (the message shows the URL with its password masked).
    """
    chosen = _choose_url(url, path)
    if chosen.get_backend_name() == "sqlite":
        engine = _sqlite_engine(chosen, echo=echo)
    else:
        engine = _postgres_engine(chosen, echo=echo)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.DBAPIError as err:
        engine.dispose()
        raise ConfigError(
            f"Cannot open the database at {mask_url(chosen)}: {_first_line(err.orig)}",
            fix=f"Check that the server is running and that the URL (argument or {ENV_VAR}) "
            "names an existing database and a user allowed to use it.",
        ) from None
    return Database(engine, clock=clock)


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip() if error is not None else "unknown error"
    return text.splitlines()[0] if text else type(error).__name__


def _choose_url(url: str | URL | None, path: str | Path | None) -> URL:
    raw: str | URL | None = url if url is not None else os.environ.get(ENV_VAR) or None
    if raw is None:
        if path is None:
            raise ConfigError(
                "No operational database was given.",
                fix=f"Pass a database URL, set {ENV_VAR} "
                "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test), "
                "or give a SQLite file path.",
            )
        file = Path(path).expanduser().resolve()
        raw = URL.create("sqlite", database=str(file))
    try:
        parsed = make_url(raw)
    except (sa.exc.ArgumentError, ValueError):
        raise ConfigError(
            f"Cannot read the database URL {mask_url(raw)!r}.",
            fix="Write it as sqlite:///path/to/store.db or "
            "postgresql+psycopg://user:password@host:5432/database.",
        ) from None
    backend = parsed.get_backend_name()
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"The database URL {mask_url(parsed)} names the backend {backend!r}.",
            fix="Use SQLite (sqlite:///store.db) or PostgreSQL (postgresql+psycopg://...).",
        )
    if backend == "sqlite":
        _check_sqlite_file(parsed)
    return parsed


def _check_sqlite_file(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise ConfigError(
            "The operational store needs a SQLite file, not an in-memory database.",
            fix="Give a file path, e.g. sqlite:///regulars.db.",
        )
    parent = Path(database).expanduser().resolve().parent
    if not parent.is_dir():
        raise ConfigError(
            f"The folder of the SQLite file {database} does not exist.",
            fix=f"Create {parent} first, or give another path.",
        )


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    engine = sa.create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) emit BEGIN, not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = bool(conn.get_execution_options().get("regulars_read_only", False))
        conn.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, *, echo: bool) -> Engine:
    try:
        engine = sa.create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            # As many connections as requests the server runs at once (its thread pool and
            # the ingest writer), so none is opened and closed per request; 4 workers stay
            # under PostgreSQL's default of 100 connections.
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_POOL_OVERFLOW,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    except (ImportError, sa.exc.NoSuchModuleError) as err:
        raise ConfigError(
            f"Cannot load the driver of {mask_url(url)}: {err}",
            fix="Use postgresql+psycopg:// (psycopg 3 is installed with regulars).",
        ) from None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("regulars_read_only", False):
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine
