"""Churn features: what a churn classifier reads about each customer at ``as_of``.

One row per customer with a sale on or before ``as_of`` (the customers of
:func:`~regulars.analytics.summary.customer_summary`, whose definitions hold here: a sale
is an order that is not cancelled; days are UTC calendar days, ``ordered_at.date()``; a
*purchase day* is a day with at least one sale). Nothing after ``as_of`` is seen.

Columns:

- RFM: ``orders``, ``order_days``, ``frequency`` (repeat purchase days), ``recency_days``
  (first to last purchase day, the BTYD recency), ``t_days`` (first purchase day to
  ``as_of``), ``days_since_last_order`` (last purchase day to ``as_of``), ``revenue``
  (net), ``aov`` (gross revenue / orders), ``monetary_value`` (mean gross value of a repeat
  purchase day; null without repeats). Money is float64.
- Regularity, over the gaps in days between consecutive purchase days: ``mean_gap_days``
  (= recency / frequency; null without a gap), ``std_gap_days`` (sample standard
  deviation; null with fewer than two gaps), ``gap_cv`` (std / mean; null when either is
  null or the mean is 0), ``last_gap_days`` (the gap before the last purchase day; null
  without a gap), ``overdue_ratio`` (``days_since_last_order / mean_gap_days``: above 1,
  the customer is later than their own habit; null without a gap).
- Recent activity: ``orders_30d``, ``orders_90d``, ``orders_365d``: sales on the days
  ``(as_of - n, as_of]``.
- Refunds and discounts: ``refunds`` (refunds made on or before ``as_of`` of the
  customer's sales), ``refunded_share`` (refunded / gross revenue, 0 when gross is not
  positive), ``discounted_share`` (share of sales with a discount code).
- Baskets, only when ``lines`` (order lines) are given: ``distinct_products`` (products
  bought in the customer's sales) and ``lines_per_order`` (order lines per sale with
  lines); null for a customer without lines.
- Engagement, only when ``events`` is given: ``events_30d`` (events of any type on the
  days ``(as_of - 30, as_of]``), ``days_since_last_event`` (null without events),
  ``email_opens`` (``Email Opened`` events). Customers without events get 0 / null.

The expression is portable (DuckDB and Spark): day differences on dates, window ``lag``
for the gaps, no epoch seconds.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.customers import EMAIL_OPENED
from regulars.analytics.summary import as_of_bounds, customer_summary, sales

__all__ = ["ACTIVITY_WINDOWS", "BASKET_COLUMNS", "ENGAGEMENT_COLUMNS", "churn_features"]

ACTIVITY_WINDOWS = (30, 90, 365)
"""The windows (days up to ``as_of``) of the ``orders_<n>d`` columns."""

ENGAGEMENT_COLUMNS = ("events_30d", "days_since_last_event", "email_opens")
"""The columns added when ``events`` is given."""

BASKET_COLUMNS = ("distinct_products", "lines_per_order")
"""The columns added when ``lines`` is given."""


def _gaps(orders: ir.Table, as_of: date) -> ir.Table:
    """Per customer: gap statistics between purchase days and recent sales counts."""
    sold = sales(orders, as_of).filter(_.customer_id.notnull())
    daily = sold.group_by(["customer_id", "order_day"]).aggregate(day_orders=_.count())
    previous = daily.order_day.lag().over(group_by="customer_id", order_by="order_day")
    daily = daily.mutate(gap=daily.order_day.delta(previous, unit="day").cast("float64"))
    counts = {
        f"orders_{days}d": (
            (_.order_day > ibis.date((as_of - timedelta(days=days)).isoformat())).ifelse(
                _.day_orders, 0
            )
        )
        .sum()
        .cast("int64")
        for days in ACTIVITY_WINDOWS
    }
    return daily.group_by("customer_id").aggregate(
        std_gap_days=_.gap.std(how="sample"),
        last_gap_days=_.gap.argmax(_.order_day),
        **counts,
    )


def _engagement(events: ir.Table, as_of: date) -> ir.Table:
    """Per customer with events up to ``as_of``: recent events, last event day, email opens."""
    seen = events.filter((events.occurred_at < as_of_bounds(as_of)) & events.customer_id.notnull())
    seen = seen.mutate(event_day=seen.occurred_at.date())
    since = ibis.date((as_of - timedelta(days=30)).isoformat())
    return seen.group_by("customer_id").aggregate(
        events_30d=(_.event_day > since).ifelse(1, 0).sum().cast("int64"),
        last_event_day=_.event_day.max(),
        email_opens=(_.type == EMAIL_OPENED).ifelse(1, 0).sum().cast("int64"),
    )


def _baskets(orders: ir.Table, lines: ir.Table, as_of: date) -> ir.Table:
    """Per customer with order lines in sales up to ``as_of``: products and lines per sale."""
    sold = sales(orders, as_of).filter(_.customer_id.notnull()).select("order_id", "customer_id")
    joined = lines.select("order_id", "product_id").join(sold, "order_id")
    per = joined.group_by("customer_id").aggregate(
        distinct_products=_.product_id.nunique().cast("int64"),
        lines=_.count(),
        line_orders=_.order_id.nunique(),
    )
    return per.select(
        "customer_id",
        "distinct_products",
        lines_per_order=per.lines.cast("float64") / per.line_orders.cast("float64"),
    )


def churn_features(
    orders: ir.Table,
    refunds: ir.Table,
    events: ir.Table | None = None,
    *,
    as_of: date,
    lines: ir.Table | None = None,
) -> ir.Table:
    """Return the churn features of every customer with a sale on or before ``as_of``.

    Parameters
    ----------
    orders, refunds
        Canonical tables (any Ibis backend), one currency only: the caller filters.
    events
        The canonical events table, or ``None`` to leave out the engagement columns (pass
        ``None`` when the store tracks no events: the columns would say nothing).
    as_of
        The date of the features; nothing after it is seen.
    lines
        The canonical order lines, or ``None`` to leave out the basket columns (pass
        ``None`` when the store's orders have no lines).

    Returns
    -------
    ibis.Table
        One row per customer, ordered by ``customer_id``; the columns are listed in the
        module docstring.
    """
    summary = customer_summary(orders, refunds, as_of=as_of)
    gaps = _gaps(orders, as_of)
    table = summary.left_join(gaps, "customer_id").drop("customer_id_right")
    as_of_day = ibis.date(as_of.isoformat())
    gross = table.gross_revenue.cast("float64")
    orders_f = table.orders.cast("float64")
    mean_gap = table.mean_days_between_orders
    since_last = as_of_day.delta(table.last_order_at.date(), unit="day")
    std_gap = table.std_gap_days
    table = table.select(
        "customer_id",
        "orders",
        "order_days",
        "frequency",
        "recency_days",
        "t_days",
        days_since_last_order=since_last,
        revenue=table.revenue.cast("float64"),
        aov=gross / orders_f,
        monetary_value=table.monetary_value,
        mean_gap_days=mean_gap,
        std_gap_days=std_gap,
        gap_cv=(mean_gap > 0).ifelse(std_gap / mean_gap, ibis.null("float64")),
        last_gap_days=table.last_gap_days,
        overdue_ratio=(mean_gap > 0).ifelse(
            since_last.cast("float64") / mean_gap, ibis.null("float64")
        ),
        **{f"orders_{d}d": table[f"orders_{d}d"].coalesce(0) for d in ACTIVITY_WINDOWS},
        refunds=table.refunds.cast("int64"),
        refunded_share=(gross > 0).ifelse(table.refunded.cast("float64") / gross, 0.0),
        discounted_share=table.discounted_orders.cast("float64") / orders_f,
    )
    if lines is not None:
        baskets = _baskets(orders, lines, as_of)
        table = table.left_join(baskets, "customer_id").drop("customer_id_right")
    if events is not None:
        activity = _engagement(events, as_of)
        table = table.left_join(activity, "customer_id").drop("customer_id_right")
        table = table.mutate(
            events_30d=table.events_30d.coalesce(0),
            days_since_last_event=as_of_day.delta(table.last_event_day, unit="day"),
            email_opens=table.email_opens.coalesce(0),
        ).drop("last_event_day")
    return table.order_by("customer_id")
