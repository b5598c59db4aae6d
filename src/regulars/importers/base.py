"""What every importer shares: options, the staged canonical tables, the summary.

An importer is a function ``read(path, options) -> CanonicalData``. It reads a source,
validates it, and appends canonical rows (see :mod:`regulars.schema`) into a
:class:`CanonicalData`: a private, in-memory DuckDB database that spills to disk, so an
import of ten million lines does not have to fit in memory as Python objects. Nothing is
written to the workspace until every row has been validated: :meth:`Workspace.write
<regulars.workspace.Workspace.write>` then copies the staged tables in one transaction.

Rows an importer leaves out on purpose (a documented rule, such as "non-product line")
are recorded with :meth:`CanonicalData.reject`, so nothing vanishes silently; the CLI's
``--report-rejects FILE`` writes them out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from regulars.errors import ConfigError, InputError
from regulars.schema import ORDER_STATUSES, TABLES, conform

__all__ = ["REJECTS_SCHEMA", "CanonicalData", "ImportOptions", "ImportSummary"]

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("rule", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("record", pa.string()),
    ]
)
"""Rows skipped by a rule: file, row (header = row 1), rule, detail, the raw row as JSON."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read a source.

    Parameters
    ----------
    column_map
        Source column name -> canonical field, for sources whose columns are named otherwise
        (``--map their_col=canonical_field``).
    timezone
        IANA time zone of timestamps written without an offset (the store's local time);
        ``None`` lets the importer use the format's own default (UTC, except Europe/London
        for Online Retail).
    currency
        ISO 4217 code for sources that carry no currency column; ``None`` lets the importer
        use the format's own default (GBP for Online Retail, USD for CDNOW).
    encoding
        Text encoding of the source (``utf-8`` by default; ``latin-1`` and ``cp1252`` are common
        in spreadsheet exports).
    """

    column_map: Mapping[str, str] = field(default_factory=dict)
    timezone: str | None = None
    currency: str | None = None
    encoding: str = "utf-8"

    def timezone_or(self, default: str = "UTC") -> str:
        """Return the time zone option, or ``default`` when it is not set."""
        return self.timezone or default

    def currency_or(self, default: str) -> str:
        """Return the currency option, or ``default`` when it is not set."""
        code = (self.currency or default).upper()
        if len(code) != 3 or not code.isalpha():
            raise ConfigError(
                f"Currency {code!r} is not an ISO 4217 code.",
                fix="Pass a three-letter code such as USD, EUR or GBP with --currency.",
            )
        return code


@dataclass(frozen=True)
class ImportSummary:
    """What an import read and produced.

    ``skipped`` counts rows left out by each documented rule; ``details`` holds counts that
    only make sense for one format (invoices, cancellations, duplicate events, ...).
    """

    source: str
    format: str
    rows_read: int
    orders: int
    order_lines: int
    customers: int
    guest_orders: int
    cancelled_orders: int
    refunds: int
    products: int
    events: int
    skipped: dict[str, int]
    details: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data (for JSON)."""
        return {
            "source": self.source,
            "format": self.format,
            "rows_read": self.rows_read,
            "orders": self.orders,
            "order_lines": self.order_lines,
            "customers": self.customers,
            "guest_orders": self.guest_orders,
            "cancelled_orders": self.cancelled_orders,
            "refunds": self.refunds,
            "products": self.products,
            "events": self.events,
            "rows_skipped": sum(self.skipped.values()),
            "skipped": dict(self.skipped),
            "details": dict(self.details),
        }


class CanonicalData:
    """Canonical tables staged by an importer, not yet in any workspace.

    Parameters
    ----------
    source
        The file or folder read (used in messages and in the import log).
    format
        The importer's format name.
    memory_limit
        DuckDB memory limit of the staging database; beyond it, DuckDB spills to a
        temporary folder.

    Notes
    -----
    Importers append with :meth:`append` (Arrow tables) or write SQL against :attr:`con`
    into the tables named as the canonical ones (``orders``, ``order_lines``, ...). Call
    :meth:`check` when done: it verifies keys and references, so a workspace never receives
    orphan lines or duplicate orders.
    """

    def __init__(self, source: str | Path, format: str, *, memory_limit: str = "1GB") -> None:
        self.source = str(source)
        self.format = format
        self.rows_read = 0
        self.details: dict[str, int] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="regulars-staging-")
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = '{self._tmp.name}'")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute("SET enable_progress_bar = false")
        for name, spec in TABLES.items():
            empty = spec.arrow_schema.empty_table()  # noqa: F841 - read by DuckDB
            self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM empty")
        rejects = REJECTS_SCHEMA.empty_table()  # noqa: F841 - read by DuckDB
        self.con.execute("CREATE TABLE _rejects AS SELECT * FROM rejects")

    # -- writing -------------------------------------------------------------------------
    def append(self, name: str, table: pa.Table) -> None:
        """Append Arrow rows to canonical table ``name`` (cast to its schema)."""
        if name not in TABLES:
            raise KeyError(name)
        if table.num_rows == 0:
            return
        rows = conform(name, table)  # noqa: F841 - read by DuckDB
        self.con.execute(f"INSERT INTO {name} SELECT * FROM rows")

    def reject(self, rows: pa.Table) -> None:
        """Record rows skipped by a rule: columns ``row``, ``rule``, ``detail``, ``record``."""
        if rows.num_rows == 0:
            return
        cols = {
            "source": pa.array([self.source] * rows.num_rows, pa.string()),
            "row": rows.column("row").cast(pa.int64()),
            "rule": rows.column("rule").cast(pa.string()),
            "detail": rows.column("detail").cast(pa.string()),
            "record": rows.column("record").cast(pa.string()),
        }
        batch = pa.Table.from_pydict(cols, schema=REJECTS_SCHEMA)  # noqa: F841
        self.con.execute("INSERT INTO _rejects SELECT * FROM batch")

    def reject_sql(self, query: str, params: list[Any] | None = None) -> None:
        """Record rejects selected by SQL returning ``row, rule, detail, record``."""
        self.con.execute(
            "INSERT INTO _rejects SELECT ?, row, rule, detail, record FROM (" + query + ")",
            [self.source, *(params or [])],
        )

    # -- reading -------------------------------------------------------------------------
    def table(self, name: str) -> pa.Table:
        """Return canonical table ``name`` as Arrow, with its canonical schema."""
        if name not in TABLES:
            raise KeyError(name)
        return conform(name, self.con.sql(f"SELECT * FROM {name}").to_arrow_table())

    def rejects(self) -> pa.Table:
        """Return the rows skipped by documented rules."""
        return self.con.sql("SELECT * FROM _rejects ORDER BY row, rule").to_arrow_table()

    def count(self, name: str) -> int:
        """Return the number of rows of a staged table."""
        return self._scalar(f"SELECT count(*) FROM {name}")

    def _scalar(self, query: str) -> int:
        rows = self.con.execute(query).fetchall()  # fetchall closes the result; fetchone doesn't
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def summary(self) -> ImportSummary:
        """Return what this import read and produced."""
        skipped = dict(
            self.con.execute(
                "SELECT rule, count(*) FROM _rejects GROUP BY rule ORDER BY rule"
            ).fetchall()
        )
        customers = self._scalar(
            "SELECT count(DISTINCT customer_id) FROM ("
            "SELECT customer_id FROM customers UNION ALL SELECT customer_id FROM orders"
            ") WHERE customer_id IS NOT NULL"
        )
        return ImportSummary(
            source=self.source,
            format=self.format,
            rows_read=self.rows_read,
            orders=self.count("orders"),
            order_lines=self.count("order_lines"),
            customers=customers,
            guest_orders=self._scalar("SELECT count(*) FROM orders WHERE customer_id IS NULL"),
            cancelled_orders=self._scalar("SELECT count(*) FROM orders WHERE status = 'cancelled'"),
            refunds=self.count("refunds"),
            products=self.count("products"),
            events=self.count("events"),
            skipped={str(k): int(v) for k, v in skipped.items()},
            details=dict(self.details),
        )

    # -- checks --------------------------------------------------------------------------
    def check(self) -> None:
        """Verify keys, references and allowed values of the staged tables.

        Raises
        ------
        InputError
            Naming the table, the key and the value at fault.
        """
        for name, spec in TABLES.items():
            keys = ", ".join(spec.key)
            dup = self.con.execute(
                f"SELECT {keys}, count(*) AS n FROM {name} GROUP BY ALL HAVING n > 1 LIMIT 1"
            ).fetchone()
            if dup:
                raise InputError(
                    f"{name}: {keys} {dup[:-1]!r} appears {dup[-1]} times; it must be unique.",
                    file=self.source,
                    column=spec.key[0],
                    value=dup[0],
                    expected=f"one {name} row per {keys}",
                    fix="Remove the duplicate rows, or give them distinct ids.",
                )
        self._check_reference("order_lines", "orders")
        self._check_reference("refunds", "orders")
        allowed = ", ".join(f"'{s}'" for s in ORDER_STATUSES)
        bad = self.con.execute(
            f"SELECT order_id, status FROM orders WHERE status NOT IN ({allowed}) LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(
                f"Order {bad[0]!r} has an unknown status.",
                file=self.source,
                column="status",
                value=bad[1],
                expected=" | ".join(ORDER_STATUSES),
                fix="Map the store's statuses to one of these values before importing.",
            )
        bad = self.con.execute(
            "SELECT order_id, currency FROM orders "
            "WHERE NOT regexp_full_match(currency, '[A-Z]{3}') LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(
                f"Order {bad[0]!r} has a currency that is not an ISO 4217 code.",
                file=self.source,
                column="currency",
                value=bad[1],
                expected="a three-letter upper-case code such as USD, EUR, GBP",
                fix="Correct the currency column, or pass --currency for a single-currency store.",
            )

    def _check_reference(self, child: str, parent: str) -> None:
        orphan = self.con.execute(
            f"SELECT c.order_id FROM {child} c ANTI JOIN {parent} p USING (order_id) LIMIT 1"
        ).fetchone()
        if orphan:
            raise InputError(
                f"{child} refers to order {orphan[0]!r}, which is not among the orders.",
                file=self.source,
                column="order_id",
                value=orphan[0],
                expected=f"every {child} row to belong to an imported order",
                fix=f"Include the order in the source, or drop its {child} rows.",
            )

    @contextmanager
    def building(self) -> Iterator[CanonicalData]:
        """Use while filling the tables: on any error the staging database is released.

        Examples
        --------
        >>> with CanonicalData("orders.csv", "generic").building() as data:  # doctest: +SKIP
        ...     data.append("orders", table)
        """
        try:
            yield self
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the staging database and its temporary folder."""
        self.con.close()
        self._tmp.cleanup()

    def __enter__(self) -> CanonicalData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
