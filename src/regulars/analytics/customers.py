"""The customer table: one row per customer with everything the analytics know about them.

It is an Ibis expression; the caller executes it and writes it (``regulars customers DATA
--out customers.parquet``). Customers are those with a sale on or before ``as_of`` (see
:mod:`regulars.analytics.summary`); registered customers who never bought are not in it.

Columns, beyond the summary's (customer_id, first_order_at, last_order_at, orders,
order_days, frequency, recency_days, t_days, gross_revenue, refunded, revenue,
monetary_value, mean_days_between_orders, discounted_orders, refunds):

- ``aov``: net revenue / orders.
- ``days_since_last_order``, ``revenue_cents``, ``r_score``, ``f_score``, ``m_score``,
  ``fm_score``, ``rfm_segment``: see :mod:`regulars.analytics.rfm`.
- ``historic_clv``: the customer's net revenue in the last ``P`` days (365 by default) x the
  store's expected lifespan in days / ``P``, i.e. the customer's own AOV x purchase frequency
  in the window x the store's lifespan, as in :mod:`regulars.analytics.clv` (0 for a
  customer without a sale in the window). The store's historic CLV is the mean of this
  column over the customers with a sale in the window.
- ``top_category``: the category with the largest line totals over the customer's sales
  (ties: the first name in sort order); null without order lines or categories.
- ``country``, ``city``, ``gender``: from the customers table; ``age``: whole years at
  ``as_of`` from ``birthday``.
- ``email_opens``: the customer's ``Email Opened`` events; ``email_opens_tracked``: whether
  the events hold any ``Email Opened`` event; ``days_since_last_event``: days from the last
  event of any type to ``as_of`` (null without events). Events after ``as_of`` are not seen.
- ``revenue_rank``: 1 for the largest net revenue (ranked in cents, ties by customer_id);
  ``revenue_rank_percent`` = ``(revenue_rank - 1) * 100 / customers``.
- ``segments``: the names of the segments (:mod:`regulars.analytics.segments`) the customer
  is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.clv import ALL, historic_clv
from regulars.analytics.kpis import order_facts
from regulars.analytics.retention import window_customers
from regulars.analytics.rfm import DEFAULT_SEGMENT_MAP, SegmentMap, Ties, rfm_scores
from regulars.analytics.segments import Segment, default_segments, segment_membership
from regulars.analytics.summary import as_of_bounds, customer_summary, sales

__all__ = ["EMAIL_OPENED", "customer_activity", "customer_table", "top_categories"]

EMAIL_OPENED = "Email Opened"
"""The event type of an email open (Segment's email spec)."""


def top_categories(orders: ir.Table, order_lines: ir.Table, *, as_of: date) -> ir.Table:
    """Return each customer's ``top_category`` (largest line totals; ties: first by name)."""
    sold = sales(orders, as_of).filter(_.customer_id.notnull()).select("order_id", "customer_id")
    lines = order_lines.filter(order_lines.category.notnull()).select(
        "order_id", "category", "line_total"
    )
    spent = (
        lines.join(sold, "order_id")
        .group_by(["customer_id", "category"])
        .aggregate(spent=_.line_total.sum())
    )
    ranked = spent.mutate(
        _rn=ibis.row_number().over(
            group_by="customer_id", order_by=[ibis.desc("spent"), "category"]
        )
    )
    return ranked.filter(ranked._rn == 0).select("customer_id", top_category=ranked.category)


def customer_activity(
    events: ir.Table, *, as_of: date, email_opened: str = EMAIL_OPENED
) -> ir.Table:
    """Return, per customer with events up to ``as_of``, email opens and the last event day.

    Returns
    -------
    ibis.Table
        customer_id, email_opens, last_event_day.
    """
    seen = events.filter((events.occurred_at < as_of_bounds(as_of)) & events.customer_id.notnull())
    return seen.group_by("customer_id").aggregate(
        email_opens=(_.type == email_opened).ifelse(1, 0).sum(),
        last_event_day=_.occurred_at.date().max(),
    )


def _age(birthday: ir.DateValue, as_of: date) -> ir.IntegerValue:
    before_birthday = (birthday.month() * 100 + birthday.day()) > (as_of.month * 100 + as_of.day)
    return as_of.year - birthday.year() - before_birthday.ifelse(1, 0)


def customer_table(
    orders: ir.Table,
    refunds: ir.Table,
    order_lines: ir.Table | None = None,
    customers: ir.Table | None = None,
    events: ir.Table | None = None,
    *,
    as_of: date,
    segments: Sequence[Segment] | None = None,
    segment_map: SegmentMap = DEFAULT_SEGMENT_MAP,
    ties: Ties = "share",
    clv_period_days: int = 365,
    max_lifespan_days: int = 3650,
) -> ir.Table:
    """Return the customer table (see the module docstring for every column).

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency.
    order_lines, customers, events
        Optional canonical tables: without them the columns they feed are null (email opens
        0, not tracked).
    as_of
        The analysis date; nothing after it is seen.
    segments
        The declared segments (default :func:`regulars.analytics.segments.default_segments`).
    segment_map, ties
        The RFM segment map and ties policy (:func:`regulars.analytics.rfm.rfm_scores`).
    clv_period_days, max_lifespan_days
        ``P`` and the lifespan cap of the historic CLV (:mod:`regulars.analytics.clv`).

    Returns
    -------
    ibis.Table
        One row per customer, ordered by ``customer_id``.
    """
    summary = customer_summary(orders, refunds, as_of=as_of)
    table = rfm_scores(summary, segment_map=segment_map, ties=ties)

    facts = order_facts(orders, refunds, as_of=as_of)
    window = window_customers(facts, as_of - timedelta(days=clv_period_days), as_of).select(
        "customer_id", window_revenue="revenue"
    )
    lifespan = (
        historic_clv(
            orders,
            refunds,
            as_of=as_of,
            period_days=clv_period_days,
            max_lifespan_days=max_lifespan_days,
        )
        .filter(_.segment == ALL)
        .select(store_lifespan_days="lifespan_days")
    )
    table = table.left_join(window, "customer_id").drop("customer_id_right").cross_join(lifespan)
    table = table.mutate(
        historic_clv=table.window_revenue.cast("float64").coalesce(0.0)
        * table.store_lifespan_days
        / float(clv_period_days)
    ).drop("window_revenue", "store_lifespan_days")

    if order_lines is not None:
        top = top_categories(orders, order_lines, as_of=as_of)
        table = table.left_join(top, "customer_id").drop("customer_id_right")
    else:
        table = table.mutate(top_category=ibis.null("string"))

    if customers is not None:
        known = customers.select(
            "customer_id", "country", "city", "gender", age=_age(customers.birthday, as_of)
        )
        table = table.left_join(known, "customer_id").drop("customer_id_right")
    else:
        table = table.mutate(
            country=ibis.null("string"),
            city=ibis.null("string"),
            gender=ibis.null("string"),
            age=ibis.null("int64"),
        )

    as_of_day = ibis.date(as_of.isoformat())
    if events is not None:
        activity = customer_activity(events, as_of=as_of)
        tracked = activity.aggregate(email_opens_tracked=(_.email_opens.sum() > 0).fill_null(False))
        table = table.left_join(activity, "customer_id").drop("customer_id_right")
        table = table.cross_join(tracked)
        table = table.mutate(
            email_opens=table.email_opens.coalesce(0),
            days_since_last_event=as_of_day.delta(table.last_event_day, unit="day"),
        ).drop("last_event_day")
    else:
        table = table.mutate(
            email_opens=ibis.literal(0, type="int64"),
            email_opens_tracked=ibis.literal(False),
            days_since_last_event=ibis.null("int64"),
        )

    n = table.customer_id.count().over(ibis.window())
    rank = ibis.row_number().over(order_by=[table.revenue_cents.desc(), table.customer_id])
    table = table.mutate(
        aov=table.revenue.cast("float64") / table.orders.cast("float64"),
        revenue_rank=rank + 1,
        revenue_rank_percent=rank.cast("float64") * 100.0 / n.cast("float64"),
    )
    chosen = default_segments() if segments is None else segments
    table = table.mutate(segments=segment_membership(table, chosen))
    return table.order_by("customer_id")
