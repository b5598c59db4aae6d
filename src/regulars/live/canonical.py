"""The operational store read as the canonical tables of :mod:`regulars.schema`.

What the API received (orders, their lines, refunds, customers, consents, events) is read
from the store in batches of :data:`BATCH_ROWS` rows (a streamed cursor, never one ORM
object at a time) and staged in a DuckDB database (:class:`~regulars.importers.base.
CanonicalData`, which spills to disk beyond its memory limit). From there the scoring run
reads it through Ibis, and ``regulars sync`` copies it into a workspace.

Mapping
-------
- Money: integer minor units -> ``decimal128(18, 4)`` in major units, exactly (1999 EUR
  cents -> 19.9900; 1500 JPY -> 1500.0000), per the row's (or its order's) currency.
- Customers: ``customer_id`` is the store's id (``cus_...``); a record merged into another
  is left out (its orders were moved to the survivor); the pseudonymous record of an
  erasure is kept, without personal data. ``birthday``, ``country``, ``city``, ``gender``
  and ``tags`` come from the traits; ``accepts_email_marketing`` and
  ``accepts_sms_marketing`` from the latest consent on the ``email`` / ``sms`` channel
  (else a boolean trait of that name).
- Orders keep their status: a cancelled order is a row with status ``cancelled`` (the
  analytics leave it out of sales, as the canonical schema says); refunds are rows of
  ``refunds``, their ``lines`` amounts (integers, minor units) converted like the rest.
- Events: ``event_id`` = messageId, ``type`` = the track event's name or the call type,
  ``customer_id`` = the customer the store resolved, ``properties`` = the JSON text of the
  payload's ``properties`` (``traits`` for identify and group).
- Products (the store keeps none): one row per product sold, with the name, SKU, category
  and unit price of its latest order line, active.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from regulars.importers.base import CanonicalData
from regulars.schema import MONEY, TABLES, TIMESTAMP
from regulars.store.money import minor_digits
from regulars.store.tables import CONSENTS, CUSTOMERS, EVENTS, ORDER_LINES, ORDERS, REFUNDS
from regulars.store.types import utc
from regulars.store.uow import UnitOfWork

__all__ = ["BATCH_ROWS", "Cutoff", "cutoff_of", "money_array", "stage_store"]

BATCH_ROWS = 20_000
"""Rows read from the store per batch."""

FORMAT = "regulars store"
"""The ``format`` the staged data carries in the workspace's import log."""

Cutoff = datetime | None
_AMOUNTS = ("subtotal", "discount_total", "shipping_total", "tax_total", "total")


def cutoff_of(as_of: date | datetime | None) -> Cutoff:
    """Return the exclusive upper bound of what is read: the day after a date, a time + 1 µs."""
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return utc(as_of, field="as_of") + timedelta(microseconds=1)
    return datetime.combine(as_of + timedelta(days=1), time.min, UTC)


def money_array(units: Sequence[int | None], currencies: Sequence[str]) -> pa.Array:
    """Return integer minor units as exact ``decimal128(18, 4)`` amounts in major units."""
    n = len(units)
    valid = np.array([u is not None for u in units], dtype=bool)
    values = np.array([0 if u is None else u for u in units], dtype=np.int64)
    scale = {c: 10 ** (4 - minor_digits(c)) for c in set(currencies)}
    factors = np.array([scale[c] for c in currencies], dtype=np.int64)
    scaled = values * factors
    words = np.empty((n, 2), dtype=np.int64)  # a little-endian 128-bit integer per value
    words[:, 0] = scaled
    words[:, 1] = np.where(scaled < 0, -1, 0)
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    nulls = int((~valid).sum())
    return pa.Array.from_buffers(
        MONEY, n, [validity, pa.py_buffer(words.tobytes())], null_count=nulls
    )


def _stream(uow: UnitOfWork, query: sa.Select[Any]) -> Iterator[list[Any]]:
    result = uow.connection.execute(query.execution_options(yield_per=BATCH_ROWS))
    for partition in result.partitions():
        yield list(partition)


def _bounded(query: sa.Select[Any], column: sa.ColumnElement[Any], end: Cutoff) -> sa.Select[Any]:
    return query if end is None else query.where(column < end)


def _orders(uow: UnitOfWork, end: Cutoff) -> Iterator[pa.Table]:
    query = _bounded(sa.select(ORDERS), ORDERS.c.ordered_at, end).order_by(ORDERS.c.order_id)
    for rows in _stream(uow, query):
        currencies = [r.currency for r in rows]
        yield pa.table(
            {
                "order_id": pa.array([r.order_id for r in rows], pa.string()),
                "customer_id": pa.array([r.customer_id for r in rows], pa.string()),
                "ordered_at": pa.array([r.ordered_at for r in rows], TIMESTAMP),
                "currency": pa.array(currencies, pa.string()),
                **{
                    name: money_array([getattr(r, name) for r in rows], currencies)
                    for name in _AMOUNTS
                },
                "status": pa.array([r.status for r in rows], pa.string()),
                "discount_codes": pa.array(
                    [[str(c) for c in r.discount_codes or ()] for r in rows], pa.list_(pa.string())
                ),
                "channel": pa.array([r.channel for r in rows], pa.string()),
                "source_name": pa.array([r.source_name for r in rows], pa.string()),
            }
        )


def _order_lines(uow: UnitOfWork, end: Cutoff) -> Iterator[pa.Table]:
    query = sa.select(ORDER_LINES, ORDERS.c.currency).join(
        ORDERS, ORDERS.c.order_id == ORDER_LINES.c.order_id
    )
    query = _bounded(query, ORDERS.c.ordered_at, end)
    query = query.order_by(ORDER_LINES.c.order_id, ORDER_LINES.c.line_no)
    for rows in _stream(uow, query):
        currencies = [r.currency for r in rows]
        yield pa.table(
            {
                "order_id": pa.array([r.order_id for r in rows], pa.string()),
                "line_no": pa.array([r.line_no for r in rows], pa.int32()),
                "product_id": pa.array([r.product_id for r in rows], pa.string()),
                "sku": pa.array([r.sku for r in rows], pa.string()),
                "name": pa.array([r.name for r in rows], pa.string()),
                "category": pa.array([r.category for r in rows], pa.string()),
                "quantity": pa.array([int(r.quantity) for r in rows], pa.int64()),
                "unit_price": money_array([r.unit_price for r in rows], currencies),
                "line_total": money_array([r.line_total for r in rows], currencies),
            }
        )


def _refund_lines(lines: Any, currency: str) -> list[dict[str, Any]]:
    out = []
    for line in lines or ():
        if not isinstance(line, dict):
            continue
        amount = line.get("amount")
        units = amount if isinstance(amount, int) and not isinstance(amount, bool) else None
        quantity = line.get("quantity")
        out.append(
            {
                "product_id": None if line.get("product_id") is None else str(line["product_id"]),
                "quantity": quantity if isinstance(quantity, int) else None,
                "amount": None if units is None else money_array([units], [currency])[0].as_py(),
            }
        )
    return out


def _refunds(uow: UnitOfWork, end: Cutoff) -> Iterator[pa.Table]:
    query = _bounded(sa.select(REFUNDS), REFUNDS.c.refunded_at, end).order_by(REFUNDS.c.refund_id)
    for rows in _stream(uow, query):
        currencies = [r.currency for r in rows]
        yield pa.table(
            {
                "refund_id": pa.array([r.refund_id for r in rows], pa.string()),
                "order_id": pa.array([r.order_id for r in rows], pa.string()),
                "refunded_at": pa.array([r.refunded_at for r in rows], TIMESTAMP),
                "amount": money_array([r.amount for r in rows], currencies),
                "currency": pa.array(currencies, pa.string()),
                "reason": pa.array([r.reason for r in rows], pa.string()),
                "lines": pa.array(
                    [_refund_lines(r.lines, r.currency) for r in rows],
                    TABLES["refunds"].column("lines").type,
                ),
            }
        )


def _consents(uow: UnitOfWork) -> dict[tuple[str, str], bool]:
    """Return the latest decision per (customer, channel) on the email and sms channels."""
    query = (
        sa.select(CONSENTS.c.customer_id, CONSENTS.c.channel, CONSENTS.c.status)
        .where(CONSENTS.c.channel.in_(("email", "sms")))
        .order_by(CONSENTS.c.customer_id, CONSENTS.c.channel, CONSENTS.c.at, CONSENTS.c.id)
    )
    latest: dict[tuple[str, str], bool] = {}
    for rows in _stream(uow, query):
        for row in rows:
            latest[(row.customer_id, row.channel)] = row.status == "granted"
    return latest


def _text(traits: dict[str, Any], key: str) -> str | None:
    value = traits.get(key)
    return None if value is None or isinstance(value, dict | list) else str(value)


def _birthday(traits: dict[str, Any]) -> date | None:
    value = traits.get("birthday")
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _consent(
    consents: dict[tuple[str, str], bool], traits: dict[str, Any], cid: str, channel: str
) -> bool | None:
    if (cid, channel) in consents:
        return consents[(cid, channel)]
    value = traits.get(f"accepts_{channel}_marketing")
    return value if isinstance(value, bool) else None


def _customers(uow: UnitOfWork, end: Cutoff) -> Iterator[pa.Table]:
    # Not cut at as_of: a record is created when the store first hears of the customer,
    # which may be long after their first (back-filled) order.
    consents = _consents(uow)
    query = sa.select(CUSTOMERS).where(CUSTOMERS.c.merged_into.is_(None)).order_by(CUSTOMERS.c.id)
    for rows in _stream(uow, query):
        traits = [dict(r.traits or {}) for r in rows]
        tags = [t.get("tags") for t in traits]
        yield pa.table(
            {
                "customer_id": pa.array([r.id for r in rows], pa.string()),
                "email": pa.array([r.email for r in rows], pa.string()),
                "first_name": pa.array([r.first_name for r in rows], pa.string()),
                "created_at": pa.array([r.created_at for r in rows], TIMESTAMP),
                "birthday": pa.array([_birthday(t) for t in traits], pa.date32()),
                **{
                    key: pa.array([_text(t, key) for t in traits], pa.string())
                    for key in ("country", "city", "gender")
                },
                **{
                    f"accepts_{channel}_marketing": pa.array(
                        [
                            _consent(consents, t, r.id, channel)
                            for r, t in zip(rows, traits, strict=True)
                        ],
                        pa.bool_(),
                    )
                    for channel in ("email", "sms")
                },
                "tags": pa.array(
                    [[str(x) for x in t] if isinstance(t, list) else None for t in tags],
                    pa.list_(pa.string()),
                ),
            }
        )


def _properties(row: Any) -> str | None:
    payload = row.payload if isinstance(row.payload, dict) else {}
    props = payload.get("traits" if row.type in ("identify", "group") else "properties")
    if not isinstance(props, dict) or not props:
        return None
    return json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _events(uow: UnitOfWork, end: Cutoff) -> Iterator[pa.Table]:
    query = _bounded(sa.select(EVENTS), EVENTS.c.occurred_at, end).order_by(EVENTS.c.id)
    for rows in _stream(uow, query):
        yield pa.table(
            {
                "event_id": pa.array([r.message_id for r in rows], pa.string()),
                "type": pa.array(
                    [(r.event or r.type) if r.type == "track" else r.type for r in rows],
                    pa.string(),
                ),
                "customer_id": pa.array([r.customer_id for r in rows], pa.string()),
                "anonymous_id": pa.array([r.anonymous_id for r in rows], pa.string()),
                "occurred_at": pa.array([r.occurred_at for r in rows], TIMESTAMP),
                "properties": pa.array([_properties(r) for r in rows], pa.string()),
            }
        )


_PRODUCTS_SQL = """
INSERT INTO products
SELECT l.product_id,
       arg_max(l.sku, (o.ordered_at, l.order_id, l.line_no)),
       arg_max(l.name, (o.ordered_at, l.order_id, l.line_no)),
       arg_max(l.category, (o.ordered_at, l.order_id, l.line_no)),
       arg_max(l.unit_price, (o.ordered_at, l.order_id, l.line_no)),
       arg_max(o.currency, (o.ordered_at, l.order_id, l.line_no)),
       true
FROM order_lines l JOIN orders o USING (order_id)
GROUP BY l.product_id
ORDER BY l.product_id
"""

READERS: dict[str, Callable[[UnitOfWork, Cutoff], Iterator[pa.Table]]] = {
    "customers": _customers,
    "orders": _orders,
    "order_lines": _order_lines,
    "refunds": _refunds,
    "events": _events,
}
"""How each canonical table is read from the store (``products`` is derived after)."""


def stage_store(
    uow: UnitOfWork,
    *,
    as_of: date | datetime | None = None,
    events: bool = True,
    digest: Callable[[bytes], object] | None = None,
    source: str = "operational store",
) -> CanonicalData:
    """Read the store into a staging DuckDB database of canonical tables; close it when done.

    Parameters
    ----------
    uow
        An open unit of work (read-only is enough); everything is read in its transaction.
    as_of
        Leave out what happened after this day (a date: the whole day included) or instant.
    events
        Also read the events (the customer table's email opens and last event).
    digest
        Called with every batch read (its table name, then its Arrow IPC bytes), e.g. the
        ``update`` of a hash, to fingerprint the content.
    source
        How the staged data names its source (the workspace's import log shows it).

    Returns
    -------
    CanonicalData
        The canonical tables, checked (unique keys, lines and refunds of known orders).
    """
    end = cutoff_of(as_of)
    data = CanonicalData(source, FORMAT)
    with data.building():
        for name, read in READERS.items():
            if name == "events" and not events:
                continue
            for batch in read(uow, end):
                data.rows_read += batch.num_rows
                if digest is not None:
                    digest(name.encode())
                    sink = pa.BufferOutputStream()
                    with pa.ipc.new_stream(sink, batch.schema) as writer:
                        writer.write_table(batch)
                    digest(sink.getvalue().to_pybytes())
                data.append(name, batch)
        data.con.execute(_PRODUCTS_SQL)
        data.check()
    return data
