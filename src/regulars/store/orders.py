"""Orders, their lines and refunds; money as integer minor units beside a currency.

Writes are upserts keyed by the shop's ids, so a webhook delivered twice or an export
imported again updates rows and never doubles them: :meth:`OrderRepository.upsert` replaces
an order and its lines; :meth:`OrderRepository.upsert_refund` replaces a refund.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from regulars.errors import InputError
from regulars.schema import ORDER_STATUSES
from regulars.store._sql import insert_ignore
from regulars.store.errors import ConflictError, NotFoundError
from regulars.store.records import Order, OrderLine, Refund
from regulars.store.tables import ORDER_LINES, ORDERS, REFUNDS
from regulars.store.types import check_currency, check_text, optional_text, utc
from regulars.store.uow import Repository

__all__ = ["OrderRepository", "check_order"]

_AMOUNTS = ("subtotal", "discount_total", "shipping_total", "tax_total", "total")


def _minor(value: Any, field: str, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise InputError(
            "Not an amount in minor units." if not positive else "Not a positive count.",
            column=field,
            value=value,
            expected=f"a{' positive' if positive else ' non-negative'} integer "
            "(money is in minor units: 1999 for 19.99 EUR)",
        )
    return value


def check_order(order: Order) -> dict[str, Any]:
    """Return the order's row (without customer and times); check it and its lines first.

    Raises
    ------
    InputError
        If an amount is not a non-negative integer, the currency or status is unknown, or
        a line number repeats.
    """
    values = _order_values(order)
    _line_values(values["order_id"], order.lines)
    return values


def _order_values(order: Order) -> dict[str, Any]:
    if order.status not in ORDER_STATUSES:
        raise InputError(
            "Unknown order status.",
            column="status",
            value=order.status,
            expected=f"one of {', '.join(ORDER_STATUSES)}",
        )
    return {
        "order_id": check_text(order.order_id, field="order_id", max_length=100),
        "ordered_at": utc(order.ordered_at, field="ordered_at"),
        "currency": check_currency(order.currency),
        **{name: _minor(getattr(order, name), name) for name in _AMOUNTS},
        "status": order.status,
        "discount_codes": [str(code) for code in order.discount_codes],
        "channel": optional_text(order.channel, field="channel", max_length=50),
        "source_name": optional_text(order.source_name, field="source_name", max_length=200),
    }


def _line_values(order_id: str, lines: Iterable[OrderLine]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for line in lines:
        line_no = _minor(line.line_no, "line_no", positive=True)
        if line_no in seen:
            raise InputError(f"Order {order_id} has line {line_no} twice.", column="line_no")
        seen.add(line_no)
        out.append(
            {
                "order_id": order_id,
                "line_no": line_no,
                "product_id": check_text(line.product_id, field="product_id", max_length=100),
                "sku": optional_text(line.sku, field="sku", max_length=100),
                "name": optional_text(line.name, field="name", max_length=500),
                "category": optional_text(line.category, field="category", max_length=200),
                "quantity": _minor(line.quantity, "quantity", positive=True),
                "unit_price": _minor(line.unit_price, "unit_price"),
                "line_total": _minor(line.line_total, "line_total"),
            }
        )
    return out


def _line(row: Any) -> OrderLine:
    return OrderLine(
        line_no=row.line_no,
        product_id=row.product_id,
        quantity=int(row.quantity),
        unit_price=int(row.unit_price),
        line_total=int(row.line_total),
        sku=row.sku,
        name=row.name,
        category=row.category,
    )


def _order(row: Any, lines: Iterable[OrderLine]) -> Order:
    return Order(
        order_id=row.order_id,
        customer_id=row.customer_id,
        ordered_at=row.ordered_at,
        currency=row.currency,
        **{name: int(getattr(row, name)) for name in _AMOUNTS},
        status=row.status,
        lines=tuple(lines),
        discount_codes=tuple(row.discount_codes or ()),
        channel=row.channel,
        source_name=row.source_name,
    )


def _refund(row: Any) -> Refund:
    return Refund(
        refund_id=row.refund_id,
        order_id=row.order_id,
        refunded_at=row.refunded_at,
        amount=int(row.amount),
        currency=row.currency,
        reason=row.reason,
        lines=tuple(row.lines or ()),
    )


class OrderRepository(Repository):
    """Orders, order lines and refunds."""

    def upsert(self, order: Order) -> bool:
        """Store ``order`` and its lines, replacing any stored version; return whether new.

        The customer (if any) is stored as its live record (after merges).

        Raises
        ------
        InputError
            If an amount is not a non-negative integer, the currency or status is unknown,
            or a line number repeats.
        NotFoundError
            If ``order.customer_id`` is not a customer.
        """
        values = _order_values(order)
        lines = _line_values(values["order_id"], order.lines)
        if order.customer_id is not None:
            values["customer_id"] = self._uow.customers.canonical_id(order.customer_id)
        else:
            values["customer_id"] = None
        now = self._now()
        created = insert_ignore(
            self._conn, ORDERS, {**values, "created_at": now, "updated_at": now}, ("order_id",)
        )
        if not created:
            self._conn.execute(
                sa.update(ORDERS)
                .where(ORDERS.c.order_id == values["order_id"])
                .values(**values, updated_at=now)
            )
            self._conn.execute(
                sa.delete(ORDER_LINES).where(ORDER_LINES.c.order_id == values["order_id"])
            )
        if lines:
            self._conn.execute(sa.insert(ORDER_LINES), lines)
        return created

    def insert_new(self, orders: Sequence[Order]) -> set[str]:
        """Store orders not in the store yet, in one statement (and one for their lines).

        Each order's ``customer_id`` must be a live record read in this transaction (or
        ``None``); it is stored as given. An order whose id is stored already (or by a
        concurrent transaction) is left as it is: it is missing from the answer, for
        :meth:`upsert` to update.

        Returns
        -------
        set[str]
            The ids of the orders stored.

        Raises
        ------
        InputError
            As :meth:`upsert` does, before anything is written.
        """
        if not orders:
            return set()
        now = self._now()
        rows = [
            {**_order_values(order), "customer_id": order.customer_id, "created_at": now,
             "updated_at": now}
            for order in orders
        ]  # fmt: skip
        lines = {order.order_id: _line_values(order.order_id, order.lines) for order in orders}
        insert = postgresql.insert if self._uow.backend == "postgresql" else sqlite.insert
        statement = (
            insert(ORDERS)
            .on_conflict_do_nothing(index_elements=["order_id"])
            .returning(ORDERS.c.order_id)
        )
        stored = {row.order_id for row in self._conn.execute(statement, rows)}
        new_lines = [line for order_id in stored for line in lines[order_id]]
        if new_lines:
            self._conn.execute(sa.insert(ORDER_LINES), new_lines)
        return stored

    def stored_ids(self, order_ids: Sequence[str]) -> set[str]:
        """Return which of ``order_ids`` are in the store."""
        if not order_ids:
            return set()
        query = sa.select(ORDERS.c.order_id).where(ORDERS.c.order_id.in_(sorted(set(order_ids))))
        return {str(order_id) for order_id in self._conn.execute(query).scalars()}

    def get(self, order_id: str) -> Order | None:
        """Return the order with its lines, or ``None``."""
        found = self._load(ORDERS.c.order_id == order_id)
        return found[0] if found else None

    def require(self, order_id: str) -> Order:
        """Return the order as :meth:`get` does.

        Raises
        ------
        NotFoundError
            If there is no such order.
        """
        order = self.get(order_id)
        if order is None:
            raise NotFoundError(f"There is no order with id {order_id!r}.")
        return order

    def for_customer(self, customer_id: str) -> list[Order]:
        """Return the customer's orders (merged records included), oldest first."""
        target = self._uow.customers.canonical_id(customer_id)
        return self._load(ORDERS.c.customer_id == target)

    def all(self) -> list[Order]:
        """Return every order, oldest first (for exports and the scoring run)."""
        return self._load(sa.true())

    def upsert_refund(self, refund: Refund) -> bool:
        """Store ``refund``, replacing any stored version; return whether it is new.

        Raises
        ------
        NotFoundError
            If the order is not in the store.
        ConflictError
            If the refund's currency is not the order's.
        InputError
            If the amount is not a non-negative integer.
        """
        order = self.require(refund.order_id)
        currency = check_currency(refund.currency)
        if currency != order.currency:
            raise ConflictError(
                f"Refund {refund.refund_id} is in {currency}, its order {order.order_id} "
                f"in {order.currency}.",
                fix="Send the refund in the order's currency.",
            )
        values = {
            "refund_id": check_text(refund.refund_id, field="refund_id", max_length=100),
            "order_id": order.order_id,
            "refunded_at": utc(refund.refunded_at, field="refunded_at"),
            "amount": _minor(refund.amount, "amount"),
            "currency": currency,
            "reason": optional_text(refund.reason, field="reason", max_length=500),
            "lines": [dict(line) for line in refund.lines],
        }
        now = self._now()
        created = insert_ignore(
            self._conn, REFUNDS, {**values, "created_at": now, "updated_at": now}, ("refund_id",)
        )
        if not created:
            self._conn.execute(
                sa.update(REFUNDS)
                .where(REFUNDS.c.refund_id == values["refund_id"])
                .values(**values, updated_at=now)
            )
        return created

    def refunds(self, order_id: str) -> list[Refund]:
        """Return the refunds of an order, oldest first."""
        rows = self._conn.execute(
            sa.select(REFUNDS)
            .where(REFUNDS.c.order_id == order_id)
            .order_by(REFUNDS.c.refunded_at, REFUNDS.c.refund_id)
        )
        return [_refund(r) for r in rows]

    def totals(self) -> dict[str, Mapping[str, int]]:
        """Return, per currency, the number of orders and the sum of their totals."""
        rows = self._conn.execute(
            sa.select(ORDERS.c.currency, sa.func.count(), sa.func.sum(ORDERS.c.total))
            .group_by(ORDERS.c.currency)
            .order_by(ORDERS.c.currency)
        )
        return {r[0]: {"orders": int(r[1]), "total": int(r[2] or 0)} for r in rows}

    def _load(self, where: sa.ColumnElement[bool]) -> list[Order]:
        orders = self._conn.execute(
            sa.select(ORDERS).where(where).order_by(ORDERS.c.ordered_at, ORDERS.c.order_id)
        ).all()
        if not orders:
            return []
        ids = [o.order_id for o in orders]
        lines: dict[str, list[OrderLine]] = {i: [] for i in ids}
        for chunk in range(0, len(ids), 500):
            for row in self._conn.execute(
                sa.select(ORDER_LINES)
                .where(ORDER_LINES.c.order_id.in_(ids[chunk : chunk + 500]))
                .order_by(ORDER_LINES.c.order_id, ORDER_LINES.c.line_no)
            ):
                lines[row.order_id].append(_line(row))
        return [_order(o, lines[o.order_id]) for o in orders]
