"""Headline KPIs of a store, overall and by month or quarter, as of a date.

Definitions (shown in the report as they are written in :data:`DEFINITIONS`). A **sale** and
a **purchase day** are as in :mod:`regulars.analytics.summary`: orders not cancelled, placed
on or before ``as_of``; several orders of one customer on one UTC day are one purchase day.

- Guest orders (no customer id) are left out of every KPI: they cannot be told new or
  returning. The store overview counts them.
- An order's **net value** is its total less the refunds made on it on or before ``as_of``.
  Refunds belong to the order they refund (its period, its customer): ``revenue`` of a
  period is the net value of the sales placed in it, so the periods add up to the overall
  revenue, and a late refund lowers the period of the order, not the period of the refund.
- **First orders** are the sales placed on a customer's first purchase day; the others are
  **repeat orders**.

Money sums stay exact decimals; ratios are floats, null (never NaN) when the denominator is
zero. One currency per call: filter with :func:`single_currency` first.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.summary import as_of_bounds, sales
from regulars.errors import InputError

__all__ = [
    "DEFINITIONS",
    "KPI_COLUMNS",
    "Period",
    "currencies",
    "kpis_by_period",
    "order_facts",
    "overall_kpis",
    "purchase_gaps",
    "ratio",
    "require_single_currency",
    "single_currency",
]

Period = Literal["month", "quarter"]

KPI_COLUMNS = (
    "customers",
    "new_customers",
    "returning_customers",
    "orders",
    "revenue",
    "aov",
    "aov_first",
    "aov_repeat",
    "purchase_frequency",
    "repeat_purchase_rate",
    "returning_revenue_share",
    "median_days_to_second_order",
    "median_days_between_orders",
)
"""The KPI names, as in :attr:`regulars.analysis.StoreAnalysis.kpis`, in this order."""

DEFINITIONS: dict[str, str] = {
    "sale": "An order not cancelled, placed on or before the analysis date. Guest orders "
    "(no customer id) are left out of the KPIs.",
    "purchase day": "A UTC calendar day on which a customer has at least one sale; several "
    "orders on one day are one purchase occasion.",
    "revenue": "Net value of the sales: order totals less the refunds made on those orders "
    "on or before the analysis date. A refund belongs to the period of the order it refunds.",
    "customers": "Customers with a sale (overall: ever; in a period: in that period).",
    "new customers": "Overall: customers with one purchase day so far. In a period: customers "
    "whose first purchase day is in the period.",
    "returning customers": "Overall: customers with two or more purchase days. In a period: "
    "customers with a sale in the period whose first purchase day is before it.",
    "aov": "Average order value: revenue / orders. First orders are the sales on a customer's "
    "first purchase day; repeat orders are the others.",
    "purchase frequency": "Orders per customer: orders / customers (overall, or in the period).",
    "repeat purchase rate": "Returning customers / customers: overall, the share of customers "
    "with two or more purchase days; in a period, the share of its customers who are returning.",
    "returning revenue share": "Revenue of returning customers / revenue.",
    "median days to second order": "Exact median, over customers with two or more purchase "
    "days, of the days from the first to the second purchase day (in a period: customers whose "
    "second purchase day is in it).",
    "median days between orders": "Exact median of the days between consecutive purchase days "
    "of a customer, over all customers (in a period: gaps ending in it).",
}
"""The KPI definitions, in words, for the report."""

_TRUNCATE = {"month": "M", "quarter": "Q"}


# -- currencies -------------------------------------------------------------------------------
def currencies(orders: ir.Table) -> ir.Table:
    """Return the distinct currencies of the orders (column ``currency``), sorted."""
    return orders.select("currency").distinct().order_by("currency")


def single_currency(orders: ir.Table, currency: str | None) -> ir.Table:
    """Return the orders in one currency, for the analytics functions (one currency per call).

    Parameters
    ----------
    orders
        Canonical orders.
    currency
        ISO 4217 code to keep; ``None`` returns ``orders`` unchanged (the caller has checked,
        e.g. with :func:`require_single_currency`, that there is only one).

    Returns
    -------
    ibis.Table
        The orders filtered on ``currency``. Refunds need no filter: every function joins them
        to these orders by ``order_id``.
    """
    if currency is None:
        return orders
    return orders.filter(orders.currency == currency.upper())


def require_single_currency(orders: ir.Table) -> str | None:
    """Return the only currency of the orders (``None`` when there is no order).

    This executes a small query (the distinct currencies) on the orders' backend.

    Raises
    ------
    InputError
        When the orders hold several currencies: amounts are never summed across them.
    """
    found = [str(r["currency"]) for r in currencies(orders).to_pyarrow().to_pylist()]
    if len(found) > 1:
        raise InputError(
            "The orders are in several currencies; amounts are never added across currencies.",
            column="currency",
            value=", ".join(found),
            expected="one currency per analysis",
            fix="Choose one with --currency " + found[0] + " (or analyse each in turn).",
        )
    return found[0] if found else None


# -- building blocks --------------------------------------------------------------------------
def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """Return ``numerator / denominator`` as float64, null when the denominator is not > 0."""
    den = denominator.cast("float64")
    return (den > 0).ifelse(numerator.cast("float64") / den, ibis.null("float64"))


def order_facts(orders: ir.Table, refunds: ir.Table, *, as_of: date) -> ir.Table:
    """Return one row per sale of an identified customer, with its net value.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency.
    as_of
        The analysis date: later orders and refunds are not seen.

    Returns
    -------
    ibis.Table
        Columns: order_id, customer_id, ordered_at, order_day (UTC date), net (total less
        refunds made on or before ``as_of``, exact decimal), first_day (the customer's first
        purchase day), is_first (placed on ``first_day``).
    """
    sold = sales(orders, as_of).filter(_.customer_id.notnull())
    money = sold.total.type()
    refunded = (
        refunds.filter(refunds.refunded_at < as_of_bounds(as_of))
        .group_by("order_id")
        .aggregate(refunded=_.amount.sum())
        .rename(refunded_order="order_id")
    )
    firsts = sold.group_by("customer_id").aggregate(first_day=_.order_day.min())
    firsts = firsts.rename(first_customer="customer_id")
    joined = sold.left_join(refunded, sold.order_id == refunded.refunded_order).inner_join(
        firsts, _.customer_id == firsts.first_customer
    )
    net = joined.total - joined.refunded.cast(money).coalesce(ibis.literal(0).cast(money))
    return joined.select(
        "order_id",
        "customer_id",
        "ordered_at",
        "order_day",
        net=net,
        first_day=joined.first_day,
        is_first=joined.order_day == joined.first_day,
    )


def purchase_gaps(facts: ir.Table) -> ir.Table:
    """Return one row per purchase day with the days since the customer's previous one.

    Parameters
    ----------
    facts
        :func:`order_facts` (or any table with customer_id and order_day).

    Returns
    -------
    ibis.Table
        Columns: customer_id, order_day, first_day, gap_days (null on the first purchase
        day). Purchase days are distinct, so the window order has no ties.
    """
    days = facts.select("customer_id", "order_day").distinct()
    previous = days.order_day.lag().over(group_by="customer_id", order_by="order_day")
    days = days.mutate(previous_day=previous)
    first = days.order_day.min().over(group_by="customer_id")
    return days.select(
        "customer_id",
        "order_day",
        first_day=first,
        gap_days=days.order_day.delta(days.previous_day, unit="day"),
    )


def _second_days(facts: ir.Table) -> ir.Table:
    """One row per customer with 2+ purchase days: second_day and days_to_second."""
    later = facts.filter(_.order_day > _.first_day)
    second = later.group_by("customer_id").aggregate(
        first_day=_.first_day.min(), second_day=_.order_day.min()
    )
    return second.mutate(days_to_second=second.second_day.delta(second.first_day, unit="day"))


def _kpi_select(t: ir.Table) -> list[ir.Value]:
    """Return the KPI columns from aggregated counts and sums (customers, orders, ...)."""
    return [
        t.customers,
        t.new_customers,
        (t.customers - t.new_customers).name("returning_customers"),
        t.orders,
        t.revenue,
        ratio(t.revenue, t.orders).name("aov"),
        ratio(t.first_revenue, t.first_orders).name("aov_first"),
        ratio(t.revenue - t.first_revenue, t.orders - t.first_orders).name("aov_repeat"),
        ratio(t.orders, t.customers).name("purchase_frequency"),
        ratio(t.customers - t.new_customers, t.customers).name("repeat_purchase_rate"),
        ratio(t.returning_revenue, t.revenue).name("returning_revenue_share"),
        t.median_days_to_second_order.cast("float64").name("median_days_to_second_order"),
        t.median_days_between_orders.cast("float64").name("median_days_between_orders"),
    ]


def _order_sums(t: ir.Table) -> dict[str, ir.Value]:
    zero = ibis.literal(0).cast(t.net.type())
    return {
        "orders": t.count(),
        "revenue": t.net.sum().coalesce(zero),
        "first_orders": t.is_first.ifelse(1, 0).sum().coalesce(0),
        "first_revenue": t.is_first.ifelse(t.net, zero).sum().coalesce(zero),
    }


# -- overall ----------------------------------------------------------------------------------
def overall_kpis(orders: ir.Table, refunds: ir.Table, *, as_of: date) -> ir.Table:
    """Return the headline KPIs of the whole history up to ``as_of``, as one row.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency (see :func:`single_currency`).
    as_of
        The analysis date.

    Returns
    -------
    ibis.Table
        One row with the columns :data:`KPI_COLUMNS` (definitions in :data:`DEFINITIONS`):
        counts are integers (0 on an empty store), ``revenue`` an exact decimal, ratios and
        medians float64 or null when undefined.
    """
    facts = order_facts(orders, refunds, as_of=as_of)
    zero = ibis.literal(0).cast(facts.net.type())
    per_customer = facts.group_by("customer_id").aggregate(
        days=_.order_day.nunique(), revenue=_.net.sum()
    )
    customers = per_customer.aggregate(
        customers=_.count(),
        new_customers=(_.days < 2).ifelse(1, 0).sum().coalesce(0),
        returning_revenue=(_.days >= 2).ifelse(_.revenue, zero).sum().coalesce(zero),
    )
    sums = facts.aggregate(**_order_sums(facts))
    second = _second_days(facts).aggregate(median_days_to_second_order=_.days_to_second.median())
    gaps = purchase_gaps(facts).aggregate(median_days_between_orders=_.gap_days.median())
    row = customers.cross_join(sums).cross_join(second).cross_join(gaps)
    return row.select(*_kpi_select(row))


# -- by period --------------------------------------------------------------------------------
def _period_index(day: ir.DateValue, period: Period) -> ir.IntegerValue:
    if period == "month":
        return day.year() * 12 + day.month() - 1
    return day.year() * 4 + (day.month() - 1) // 3


def _period_start(index: ir.IntegerValue, period: Period) -> ir.DateValue:
    per_year = 12 if period == "month" else 4
    month = (index % per_year) * (12 // per_year) + 1
    return ibis.date(index // per_year, month, 1)


def kpis_by_period(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
    period: Period = "month",
) -> ir.Table:
    """Return the KPIs of each month (or quarter), from the first sale's to ``as_of``'s.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency (see :func:`single_currency`).
    as_of
        The analysis date: its period is the last row (a partial period).
    period
        ``"month"`` or ``"quarter"``.

    Returns
    -------
    ibis.Table
        One row per period, periods without a sale included (with zero counts and null
        ratios), sorted: ``period_start`` (date, first day of the period) and the columns
        :data:`KPI_COLUMNS` for the period (definitions in :data:`DEFINITIONS`).
    """
    if period not in _TRUNCATE:
        raise ValueError(f"period must be 'month' or 'quarter', got {period!r}")
    facts = order_facts(orders, refunds, as_of=as_of)
    facts = facts.mutate(
        period=_period_index(facts.order_day, period),
        first_period=_period_index(facts.first_day, period),
    )
    zero = ibis.literal(0).cast(facts.net.type())

    per_customer = facts.group_by(["period", "customer_id", "first_period"]).aggregate(
        revenue=_.net.sum()
    )
    is_new = per_customer.first_period == per_customer.period
    customers = per_customer.group_by("period").aggregate(
        customers=_.count(),
        new_customers=is_new.ifelse(1, 0).sum(),
        returning_revenue=is_new.ifelse(zero, per_customer.revenue).sum(),
    )
    sums = facts.group_by("period").aggregate(**_order_sums(facts))
    second = _second_days(facts)
    second = (
        second.mutate(period=_period_index(second.second_day, period))
        .group_by("period")
        .aggregate(median_days_to_second_order=_.days_to_second.median())
    )
    gaps = purchase_gaps(facts).filter(_.gap_days.notnull())
    gaps = (
        gaps.mutate(period=_period_index(gaps.order_day, period))
        .group_by("period")
        .aggregate(median_days_between_orders=_.gap_days.median())
    )

    last = _period_index(ibis.date(as_of.isoformat()), period)
    bounds = facts.aggregate(lo=_.period.min())
    spine = bounds.select(period=ibis.range(bounds.lo, last + 1).unnest())
    row = spine
    for part in (customers, sums, second, gaps):
        part = part.rename(part_period="period")
        row = row.left_join(part, row.period == part.part_period).drop("part_period")
    row = row.mutate(
        customers=_.customers.coalesce(0),
        new_customers=_.new_customers.coalesce(0),
        returning_revenue=_.returning_revenue.coalesce(zero),
        orders=_.orders.coalesce(0),
        revenue=_.revenue.coalesce(zero),
        first_orders=_.first_orders.coalesce(0),
        first_revenue=_.first_revenue.coalesce(zero),
    )
    out = row.select(_period_start(row.period, period).name("period_start"), *_kpi_select(row))
    return out.order_by("period_start")
