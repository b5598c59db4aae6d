"""A hand-made store in an in-memory DuckDB, for the analytics tests.

Rows are given as dicts (money as text or numbers, times as ISO text); missing columns get
defaults or nulls. Ibis 12 cannot create tables from Arrow on DuckDB 2.0, so the tables go
through raw DuckDB and are wrapped with ``ibis.duckdb.from_connection``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from regulars.schema import TABLES

_MONEY = {"subtotal", "total", "unit_price", "line_total", "amount", "price"}
_TIMES = {"ordered_at", "refunded_at", "occurred_at", "created_at"}


def _typed(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in _MONEY:
        return Decimal(str(value))
    if key in _TIMES:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if key == "birthday":
        return date.fromisoformat(value)
    return value


def store(
    orders: Sequence[dict[str, Any]] = (),
    lines: Sequence[dict[str, Any]] = (),
    refunds: Sequence[dict[str, Any]] = (),
    customers: Sequence[dict[str, Any]] = (),
    events: Sequence[dict[str, Any]] = (),
) -> dict[str, ir.Table]:
    """Return canonical tables holding the rows given (missing columns get defaults/nulls)."""
    zero = {"discount_total": 0, "shipping_total": 0, "tax_total": 0}
    given = {
        "orders": [
            {"currency": "EUR", "status": "paid", "subtotal": o["total"], **zero, **o}
            for o in orders
        ],
        "order_lines": list(lines),
        "refunds": [{"currency": "EUR", **r} for r in refunds],
        "customers": list(customers),
        "events": list(events),
    }
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    for name, rows in given.items():
        schema = TABLES[name].arrow_schema
        columns = {c: [_typed(c, r.get(c)) for r in rows] for c in schema.names}
        for key in ("discount_total", "shipping_total", "tax_total"):
            if key in columns:
                columns[key] = [Decimal(str(v)) for v in columns[key]]
        db.register("staged", pa.Table.from_pydict(columns, schema=schema))
        db.execute(f"CREATE TABLE {name} AS SELECT * FROM staged")
        db.unregister("staged")
    con = ibis.duckdb.from_connection(db)
    return {name: con.table(name) for name in given}
