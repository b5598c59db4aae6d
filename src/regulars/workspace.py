"""A store's data home: one DuckDB file holding the canonical tables, read through Ibis.

Writing is the importers' side: :meth:`Workspace.write` copies validated, staged canonical
tables (:class:`~regulars.importers.base.CanonicalData`) into the file in **one
transaction**, so a failed import leaves the workspace exactly as it was. Reading is the
analytics' side: :meth:`Workspace.table` returns an Ibis table, so the analytics code never
sees DuckDB and a Spark session can stand in later.

Modes
-----
``append``
    Adds the source's rows. A row whose key is already there (the same order id, customer
    id, product id, refund id or event id) is replaced by the new one, and an order's lines
    are replaced with the order: re-importing an overlapping export updates, never doubles.
``replace``
    Empties every canonical table first, then writes the source.

Re-importing the same content (same bytes, format and options) is a no-op: each import is
logged in ``_imports`` with a content hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from regulars.errors import ConfigError, WorkspaceError
from regulars.importers.base import REJECTS_SCHEMA, CanonicalData, ImportOptions, ImportSummary
from regulars.schema import TABLES

if TYPE_CHECKING:
    import ibis
    from ibis.backends.duckdb import Backend as DuckDBBackend

__all__ = ["ImportResult", "Workspace", "content_hash"]

Mode = Literal["append", "replace"]

_IMPORTS_DDL = """
CREATE TABLE IF NOT EXISTS ws._imports (
    import_id INTEGER PRIMARY KEY,
    content_hash VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    summary VARCHAR NOT NULL
)
"""


def _files_of(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file())
    else:
        yield path


def content_hash(path: str | Path, format: str, options: ImportOptions) -> str:
    """Return a SHA-256 of a source's bytes (every file of a folder), format and options."""
    root = Path(path)
    digest = hashlib.sha256()
    digest.update(format.encode())
    opts = {
        "map": sorted(options.column_map.items()),
        "tz": options.timezone,
        "cur": options.currency,
        "enc": options.encoding,
    }
    digest.update(json.dumps(opts, sort_keys=True).encode())
    for file in _files_of(root):
        if root.is_dir():  # in a folder, which file holds what matters; a lone file's name doesn't
            digest.update(str(file.relative_to(root)).encode())
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`Workspace.write` did."""

    summary: ImportSummary
    written: bool
    """False when the same content had been imported before (nothing was written)."""
    import_id: int | None


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Workspace:
    """A store's data home: one DuckDB file.

    Parameters
    ----------
    path
        The DuckDB file (created by the first import).
    memory_limit
        How much memory DuckDB may use when reading (it spills to disk beyond it), e.g.
        ``"4GB"``; by default 1.5 GB, or 2.5 times the workspace file for a large store
        (some of DuckDB's operators cannot spill), at most 80% of the machine's memory.

    Examples
    --------
    >>> from regulars import Workspace, read_source
    >>> ws = Workspace("store.duckdb")  # doctest: +SKIP
    >>> with read_source("orders.csv") as data:  # doctest: +SKIP
    ...     ws.write(data, content_hash="...")
    >>> ws.table("orders").count().execute()  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, memory_limit: str | None = None) -> None:
        self.path = Path(path)
        self.memory_limit = memory_limit

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    @classmethod
    def is_workspace_file(cls, path: str | Path) -> bool:
        """Return whether ``path`` is a DuckDB file (a workspace) rather than a source."""
        file = Path(path)
        if not file.is_file():
            return False
        with file.open("rb") as fh:
            head = fh.read(16)
        return head[8:12] == b"DUCK"

    @classmethod
    def of_source(
        cls,
        path: str | Path,
        folder: str | Path,
        *,
        format: str = "auto",
        options: ImportOptions | None = None,
    ) -> Workspace:
        """Return a workspace for ``path``: itself if it is one, else a new one in ``folder``.

        A data source (any importable file or folder) is imported into
        ``folder/store.duckdb`` first, so that commands can take data or a workspace alike.
        """
        if cls.is_workspace_file(path):
            return cls(path)
        from regulars.importers import read_source

        opts = options or ImportOptions()
        ws = cls(Path(folder) / "store.duckdb")
        with read_source(path, format=format, options=opts) as data:
            ws.write(data, content_hash=content_hash(path, data.format, opts))
        return ws

    @property
    def exists(self) -> bool:
        """Whether anything has been imported yet."""
        return self.path.is_file()

    # -- writing -------------------------------------------------------------------------
    def write(
        self,
        data: CanonicalData,
        *,
        content_hash: str,
        mode: Mode = "append",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> ImportResult:
        """Copy staged canonical tables into the workspace in one transaction.

        Parameters
        ----------
        data
            Validated canonical tables from :func:`regulars.importers.read_source`.
        content_hash
            Identifies the source's content (:func:`content_hash`); a hash already imported
            makes this call a no-op.
        mode
            ``append`` (replace rows with the same key) or ``replace`` (empty first).
        clock
            Returns the time recorded in the import log.

        Returns
        -------
        ImportResult
            The summary, and whether anything was written.
        """
        if mode not in ("append", "replace"):
            raise ConfigError(f"Unknown mode {mode!r}.", fix="Use --mode append or --mode replace.")
        summary = data.summary()
        if self._already_imported(data.con, content_hash, mode):
            return ImportResult(summary, written=False, import_id=None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = data.con
        try:
            con.execute(f"ATTACH {_sql_str(str(self.path))} AS ws")
        except duckdb.Error as exc:
            raise WorkspaceError(
                f"Cannot open workspace {self.path}: {exc}",
                fix="Check that the path is a regulars workspace file and that no other "
                "program has it open.",
            ) from exc
        try:
            con.execute("BEGIN TRANSACTION")
            self._create_tables(con)
            if mode == "replace":
                for name in TABLES:
                    con.execute(f"DELETE FROM ws.{name}")
            else:
                self._delete_replaced(con)
            for name in TABLES:
                con.execute(f"INSERT INTO ws.{name} SELECT * FROM {name}")
            row = con.execute("SELECT coalesce(max(import_id), 0) + 1 FROM ws._imports").fetchone()
            import_id = int(row[0]) if row else 1
            con.execute(
                "INSERT INTO ws._imports VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    import_id,
                    content_hash,
                    data.source,
                    data.format,
                    mode,
                    clock(),
                    json.dumps(summary.as_dict()),
                ],
            )
            con.execute("INSERT INTO ws._rejects SELECT ?, * FROM _rejects", [import_id])
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            con.execute("DETACH ws")
            if isinstance(exc, duckdb.Error):
                raise WorkspaceError(
                    f"Writing to workspace {self.path} failed; nothing was changed: {exc}",
                    fix="Check the disk space and the file's permissions, then import again.",
                ) from exc
            raise
        con.execute("DETACH ws")
        return ImportResult(summary, written=True, import_id=import_id)

    def _already_imported(self, con: duckdb.DuckDBPyConnection, key: str, mode: Mode) -> bool:
        if not self.exists:
            return False
        try:
            con.execute(f"ATTACH {_sql_str(str(self.path))} AS ws_ro (READ_ONLY)")
        except duckdb.Error as exc:
            raise WorkspaceError(
                f"{self.path} is not a regulars workspace (DuckDB cannot open it: {exc}).",
                fix="Point --workspace at a new file name or at an existing workspace.",
            ) from exc
        try:
            tables = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'ws_ro'"
                ).fetchall()
            }
            if "_imports" not in tables:
                return False
            keys = [
                r[0]
                for r in con.execute(
                    "SELECT content_hash FROM ws_ro._imports ORDER BY import_id"
                ).fetchall()
            ]
        finally:
            con.execute("DETACH ws_ro")
        if mode == "append":
            return key in keys
        return keys == [key]

    @staticmethod
    def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
        for name in TABLES:
            con.execute(f"CREATE TABLE IF NOT EXISTS ws.{name} AS SELECT * FROM {name} LIMIT 0")
        con.execute(_IMPORTS_DDL)
        rejects = REJECTS_SCHEMA.empty_table()  # noqa: F841 - read by DuckDB
        con.execute(
            "CREATE TABLE IF NOT EXISTS ws._rejects AS "
            "SELECT CAST(NULL AS INTEGER) AS import_id, * FROM rejects LIMIT 0"
        )

    @staticmethod
    def _delete_replaced(con: duckdb.DuckDBPyConnection) -> None:
        # An order that comes again brings all its lines and refunds again.
        con.execute("DELETE FROM ws.order_lines WHERE order_id IN (SELECT order_id FROM orders)")
        con.execute(
            "DELETE FROM ws.refunds WHERE order_id IN (SELECT order_id FROM orders) "
            "OR refund_id IN (SELECT refund_id FROM refunds)"
        )
        for name, spec in TABLES.items():
            if name in ("order_lines", "refunds"):
                continue
            keys = ", ".join(spec.key)
            con.execute(f"DELETE FROM ws.{name} WHERE ({keys}) IN (SELECT ({keys}) FROM {name})")

    # -- reading -------------------------------------------------------------------------
    def connect(self) -> DuckDBBackend:
        """Open the workspace read-only through Ibis.

        Raises
        ------
        WorkspaceError
            When nothing has been imported into it yet.
        """
        import ibis

        if not self.exists:
            raise WorkspaceError(
                f"Workspace {self.path} does not exist yet.",
                fix=f"Import data first: regulars import YOUR_FILE --workspace {self.path}",
            )
        try:
            backend: DuckDBBackend = ibis.duckdb.connect(str(self.path), read_only=True)
        except Exception as exc:  # DuckDB raises several kinds for an unreadable file
            raise WorkspaceError(
                f"Cannot open workspace {self.path}: {exc}",
                fix="Check that it is a regulars workspace and that no import is running on it.",
            ) from exc
        backend.raw_sql("SET TimeZone = 'UTC'")
        # Bounded memory: beyond the limit DuckDB spills to a temporary folder.
        backend.raw_sql(f"SET memory_limit = '{self.memory_limit or self._default_limit()}'")
        backend.raw_sql("SET enable_progress_bar = false")
        backend.raw_sql("SET preserve_insertion_order = false")  # results are ordered explicitly
        return backend

    def _default_limit(self) -> str:
        mib = 1 << 20
        wanted = max(1536 * mib, int(2.5 * self.path.stat().st_size))
        try:
            pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            wanted = min(wanted, int(0.8 * pages * size))
        except (ValueError, OSError, AttributeError):
            pass
        return f"{wanted // mib}MB"

    def table(self, name: str, backend: DuckDBBackend | None = None) -> ibis.Table:
        """Return canonical table ``name`` as an Ibis table."""
        if name not in TABLES:
            raise ConfigError(
                f"Unknown table {name!r}.", fix="Use one of: " + ", ".join(TABLES) + "."
            )
        return (backend or self.connect()).table(name)

    def imports(self) -> list[dict[str, Any]]:
        """Return the import log, oldest first."""
        backend = self.connect()
        rows: list[dict[str, Any]] = (
            backend.table("_imports").order_by("import_id").to_pyarrow().to_pylist()
        )
        for row in rows:
            row["summary"] = json.loads(row["summary"])
        return rows

    def counts(self) -> dict[str, int]:
        """Return the number of rows of every canonical table."""
        backend = self.connect()
        return {name: int(backend.table(name).count().execute()) for name in TABLES}
