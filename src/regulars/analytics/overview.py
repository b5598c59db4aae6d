"""A first look at a store: what the workspace holds, in a handful of numbers.

Orders with status ``cancelled`` are not sales and are left out of order counts and
revenue; refunds are subtracted from revenue. Money is never summed across currencies:
revenue and average order value are given per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import ibis
import ibis.expr.types as ir
from ibis import _

__all__ = ["CurrencyFigures", "StoreOverview", "store_overview"]


@dataclass(frozen=True)
class CurrencyFigures:
    """Sales in one currency."""

    currency: str
    orders: int
    gross_revenue: Decimal
    refunded: Decimal

    @property
    def net_revenue(self) -> Decimal:
        """Gross revenue less refunds."""
        return self.gross_revenue - self.refunded

    @property
    def average_order_value(self) -> Decimal:
        """Gross revenue per order, before refunds."""
        return self.gross_revenue / self.orders if self.orders else Decimal(0)


@dataclass(frozen=True)
class StoreOverview:
    """Headline facts about a store's order history."""

    customers: int
    repeat_customers: int
    orders: int
    guest_orders: int
    cancelled_orders: int
    refunds: int
    events: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    by_currency: tuple[CurrencyFigures, ...]

    @property
    def repeat_purchase_rate(self) -> float:
        """Share of customers with two or more orders."""
        return self.repeat_customers / self.customers if self.customers else 0.0

    def rows(self) -> list[tuple[str, str]]:
        """Return the facts as (label, formatted value) pairs, for printing."""

        def day(ts: datetime | None) -> str:
            return ts.date().isoformat() if ts else "-"

        rows = [
            ("customers", f"{self.customers:,}"),
            ("orders (not cancelled)", f"{self.orders:,}"),
            ("guest orders", f"{self.guest_orders:,}"),
            ("cancelled orders", f"{self.cancelled_orders:,}"),
            ("refunds", f"{self.refunds:,}"),
            ("repeat customers (2+ orders)", f"{self.repeat_customers:,}"),
            ("repeat-purchase rate", f"{self.repeat_purchase_rate:.1%}"),
            ("first order", day(self.first_order_at)),
            ("last order", day(self.last_order_at)),
            ("events", f"{self.events:,}"),
        ]
        for cur in self.by_currency:
            rows += [
                (f"net revenue ({cur.currency})", f"{cur.net_revenue:,.2f}"),
                (f"average order value ({cur.currency})", f"{cur.average_order_value:,.2f}"),
            ]
        return rows


def _int(expr: ir.Scalar) -> int:
    value = expr.execute()
    return int(value) if value is not None else 0


def store_overview(
    *, orders: ir.Table, refunds: ir.Table, customers: ir.Table, events: ir.Table
) -> StoreOverview:
    """Compute the headline facts of a store from its canonical tables.

    Parameters
    ----------
    orders, refunds, customers, events
        Canonical tables (see :mod:`regulars.schema`) on any Ibis backend.

    Returns
    -------
    StoreOverview
        Counts, date range, repeat-purchase rate and revenue per currency.
    """
    del customers  # customers without orders do not count as customers of the store here
    sales = orders.filter(orders.status != "cancelled")
    buyers = (
        sales.filter(sales.customer_id.notnull())
        .group_by("customer_id")
        .aggregate(n_orders=_.count())
    )
    span = sales.aggregate(first=sales.ordered_at.min(), last=sales.ordered_at.max()).execute()
    gross = sales.group_by("currency").aggregate(orders=_.count(), revenue=_.total.sum())
    refunded = refunds.group_by("currency").aggregate(refunded=refunds.amount.sum())
    per_currency = (
        gross.left_join(refunded, "currency")
        .select("currency", "orders", "revenue", refunded=ibis.coalesce(refunded.refunded, 0))
        .order_by("currency")
        .to_pyarrow()
        .to_pylist()
    )
    first = span["first"].iloc[0] if len(span) else None
    last = span["last"].iloc[0] if len(span) else None
    return StoreOverview(
        customers=_int(buyers.count()),
        repeat_customers=_int(buyers.filter(buyers.n_orders >= 2).count()),
        orders=_int(sales.count()),
        guest_orders=_int(sales.filter(sales.customer_id.isnull()).count()),
        cancelled_orders=_int(orders.filter(orders.status == "cancelled").count()),
        refunds=_int(refunds.count()),
        events=_int(events.count()),
        first_order_at=None if first is None or first != first else first.to_pydatetime(),
        last_order_at=None if last is None or last != last else last.to_pydatetime(),
        by_currency=tuple(
            CurrencyFigures(
                currency=r["currency"],
                orders=int(r["orders"]),
                gross_revenue=Decimal(r["revenue"] or 0),
                refunded=Decimal(r["refunded"] or 0),
            )
            for r in per_currency
        ),
    )
