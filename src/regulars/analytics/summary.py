"""The per-customer summary: the table every other analysis starts from.

Definitions (shown in the report as they are written here):

- A **sale** is an order that is not ``cancelled`` and was placed on or before ``as_of``
  (end of that day, UTC). Refunded orders were placed, so they count as purchases; their
  refunds are subtracted from revenue. Guest orders (no customer id) are not in the summary.
- Days are calendar days in UTC (``ordered_at.date()``); day differences use whole days.
- ``orders``: sales; ``order_days``: distinct days with a sale (several orders on one day are
  one purchase occasion, as in Fader, Hardie & Lee 2005).
- ``frequency``: repeat purchase days = ``order_days - 1``.
- ``recency_days``: days from the first to the last purchase day (0 for one-time buyers).
- ``t_days``: days from the first purchase day to ``as_of`` (the customer's age).
- ``gross_revenue``: sum of sale totals; ``refunded``: refunds made on or before ``as_of``;
  ``revenue`` = gross - refunded (net).
- ``monetary_value``: mean gross value of a repeat purchase day (the first day excluded);
  null for customers without a repeat purchase.
- ``mean_days_between_orders``: ``recency_days / frequency`` (null without repeats).

Every function returns an Ibis expression; nothing here executes or knows the engine.
"""

from __future__ import annotations

from datetime import date, datetime, time

import ibis
import ibis.expr.types as ir
from ibis import _

__all__ = ["as_of_bounds", "customer_summary", "sales"]


def as_of_bounds(as_of: date) -> ir.TimestampScalar:
    """Return the first instant after ``as_of`` (UTC): sales are strictly before it."""
    end = datetime.combine(as_of, time.min).replace(tzinfo=None)
    return ibis.timestamp(end.isoformat(), timezone="UTC") + ibis.interval(days=1)


def sales(orders: ir.Table, as_of: date) -> ir.Table:
    """Return the orders that are sales as of ``as_of``, with their ``order_day``."""
    cutoff = as_of_bounds(as_of)
    kept = orders.filter((orders.status != "cancelled") & (orders.ordered_at < cutoff))
    return kept.mutate(order_day=kept.ordered_at.date())


def customer_summary(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
) -> ir.Table:
    """Return one row per customer with a sale on or before ``as_of``.

    Parameters
    ----------
    orders, refunds
        Canonical tables (any Ibis backend), one currency only: the caller filters.
    as_of
        The analysis date; nothing after it is seen.

    Returns
    -------
    ibis.Table
        Columns: customer_id, first_order_at, last_order_at, orders, order_days, frequency,
        recency_days, t_days, gross_revenue, refunded, revenue, monetary_value,
        mean_days_between_orders, discounted_orders, refunds.
    """
    sold = sales(orders, as_of).filter(_.customer_id.notnull())
    as_of_day = ibis.date(as_of.isoformat())
    # One pass per (customer, day), then one per customer; the first day's value comes
    # from argmin (portable), so no join back to the daily table is needed.
    daily = sold.group_by(["customer_id", "order_day"]).aggregate(
        day_value=_.total.sum(),
        day_orders=_.count(),
        first_at=_.ordered_at.min(),
        last_at=_.ordered_at.max(),
        day_discounted=(_.discount_codes.length() > 0).ifelse(1, 0).sum(),
    )
    base = daily.group_by("customer_id").aggregate(
        first_order_at=_.first_at.min(),
        last_order_at=_.last_at.max(),
        first_day=_.order_day.min(),
        last_day=_.order_day.max(),
        orders=_.day_orders.sum(),
        order_days=_.count(),
        gross_revenue=_.day_value.sum(),
        first_day_value=_.day_value.argmin(_.order_day),
        discounted_orders=_.day_discounted.sum(),
    )
    cutoff = as_of_bounds(as_of)
    refunded = (
        refunds.filter(refunds.refunded_at < cutoff)
        .join(sold.select("order_id", "customer_id"), "order_id")
        .group_by("customer_id")
        .aggregate(refunded=_.amount.sum(), refunds=_.count())
    )
    joined = base.left_join(refunded, "customer_id")
    zero = ibis.literal(0).cast(joined.gross_revenue.type())
    refunded_total = joined.refunded.cast(joined.gross_revenue.type()).coalesce(zero)
    frequency = joined.order_days - 1
    recency = joined.last_day.delta(joined.first_day, unit="day")
    return joined.select(
        "customer_id",
        "first_order_at",
        "last_order_at",
        orders=joined.orders.cast("int64"),
        order_days=joined.order_days,
        frequency=frequency,
        recency_days=recency,
        t_days=as_of_day.delta(joined.first_day, unit="day"),
        gross_revenue=joined.gross_revenue,
        refunded=refunded_total,
        revenue=joined.gross_revenue - refunded_total,
        monetary_value=(frequency > 0).ifelse(
            (joined.gross_revenue - joined.first_day_value).cast("float64")
            / frequency.cast("float64"),
            ibis.null("float64"),
        ),
        mean_days_between_orders=(frequency > 0).ifelse(
            recency.cast("float64") / frequency.cast("float64"), ibis.null("float64")
        ),
        discounted_orders=joined.discounted_orders.cast("int64").coalesce(0),
        refunds=joined.refunds.coalesce(0),
    )
