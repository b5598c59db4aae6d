"""Acquisition cohorts: who came when, and how they kept buying.

Definitions (shown in the report as they are written here):

- A customer's **first order** is their earliest sale (see :mod:`regulars.analytics.summary`);
  orders placed at the same instant are ordered by ``order_id``.
- The **cohort** is the calendar month (or ISO week starting on Monday, or quarter) of the
  first order, named by its first day. **Period** ``p`` is the ``p``-th calendar month (week,
  quarter) after it: months are counted as ``year * 12 + month``, quarters as
  ``year * 4 + quarter``, weeks as whole days since a Monday divided by 7. Period 0 is the
  acquisition period, so its active share is 100%.
- ``cohort_size``: customers acquired in the cohort. ``active_customers``: those with a sale
  in the period; ``active_share`` = active / size.
- ``revenue``: the period's sale totals less the refunds (made on or before ``as_of``) of those
  same orders. ``cumulative_revenue_per_customer``: revenue of periods ``0..p`` divided by the
  cohort size (the LTV curve).
- Every (cohort, period) up to the period holding ``as_of`` is present, with zeros where
  nobody bought.
- Filters describe the acquisition: ``first_category`` is the category of the first order's
  largest line (highest ``line_total``; ties: lowest ``line_no``); ``first_discount_code`` the
  first code listed on the first order; ``first_channel`` the first order's channel;
  ``country`` the customer's country in the customers table.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Literal

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.kpis import order_facts
from regulars.analytics.summary import sales
from regulars.errors import ConfigError

__all__ = ["CohortFilter", "Granularity", "acquisition", "cohort_matrix"]

Granularity = Literal["week", "month", "quarter"]

_MONDAY = "1970-01-05"
"""A Monday: weeks are counted from it."""


@dataclass(frozen=True)
class CohortFilter:
    """Which customers to keep, by how they were acquired (``None``: no condition).

    Each field takes one value or a collection of values (any of them matches).
    """

    first_category: str | Collection[str] | None = None
    first_discount_code: str | Collection[str] | None = None
    country: str | Collection[str] | None = None
    first_channel: str | Collection[str] | None = None

    def predicate(self, table: ir.Table) -> ir.BooleanValue:
        """Return the condition over an :func:`acquisition` table."""
        condition: ir.BooleanValue = ibis.literal(True)
        for name in ("first_category", "first_discount_code", "country", "first_channel"):
            wanted = getattr(self, name)
            if wanted is None:
                continue
            values = [wanted] if isinstance(wanted, str) else sorted(wanted)
            condition = condition & table[name].isin(values)
        return condition


def _period_index(day: ir.DateValue, granularity: Granularity) -> ir.IntegerValue:
    if granularity == "month":
        return day.year() * 12 + day.month() - 1
    if granularity == "quarter":
        return day.year() * 4 + day.quarter() - 1
    return day.delta(ibis.date(_MONDAY), unit="day") // 7


def _period_start(day: ir.DateValue, granularity: Granularity) -> ir.DateValue:
    if granularity == "month":
        return ibis.date(day.year(), day.month(), 1)
    if granularity == "quarter":
        return ibis.date(day.year(), (day.quarter() - 1) * 3 + 1, 1)
    return day - day.day_of_week.index().as_interval("D")


def _check_granularity(granularity: str) -> Granularity:
    if granularity not in ("week", "month", "quarter"):
        raise ConfigError(
            f"Unknown cohort period {granularity!r}.", fix="Use week, month or quarter."
        )
    return granularity  # type: ignore[return-value]


def acquisition(
    orders: ir.Table,
    order_lines: ir.Table | None = None,
    customers: ir.Table | None = None,
    *,
    as_of: date,
) -> ir.Table:
    """Return one row per customer describing their first order.

    Parameters
    ----------
    orders
        Canonical orders (one currency).
    order_lines
        Canonical order lines, for ``first_category`` (null without them).
    customers
        Canonical customers, for ``country`` (null without them).
    as_of
        The analysis date; nothing after it is seen.

    Returns
    -------
    ibis.Table
        customer_id, first_order_id, first_order_at, first_day, first_channel,
        first_discount_code, first_category, country.
    """
    sold = sales(orders, as_of).filter(_.customer_id.notnull())
    ranked = sold.mutate(
        _rn=ibis.row_number().over(group_by="customer_id", order_by=["ordered_at", "order_id"])
    )
    codes = ranked.discount_codes
    first = ranked.filter(ranked._rn == 0).select(
        "customer_id",
        first_order_id=ranked.order_id,
        first_order_at=ranked.ordered_at,
        first_day=ranked.order_day,
        first_channel=ranked.channel,
        first_discount_code=(codes.length() > 0).ifelse(codes[0], ibis.null("string")),
    )
    if order_lines is not None:
        lines = order_lines.select("order_id", "line_no", "line_total", "category")
        lines = lines.semi_join(first, lines.order_id == first.first_order_id)
        top = lines.mutate(
            _rn=ibis.row_number().over(
                group_by="order_id", order_by=[ibis.desc("line_total"), "line_no"]
            )
        )
        top = top.filter(top._rn == 0).select(
            first_order_id=top.order_id, first_category=top.category
        )
        first = first.left_join(top, "first_order_id").drop("first_order_id_right")
    else:
        first = first.mutate(first_category=ibis.null("string"))
    if customers is not None:
        where = customers.select("customer_id", "country")
        first = first.left_join(where, "customer_id").drop("customer_id_right")
    else:
        first = first.mutate(country=ibis.null("string"))
    return first


def cohort_matrix(
    orders: ir.Table,
    refunds: ir.Table,
    order_lines: ir.Table | None = None,
    customers: ir.Table | None = None,
    *,
    as_of: date,
    granularity: Granularity = "month",
    where: CohortFilter | None = None,
) -> ir.Table:
    """Return the cohort table in long format: one row per (cohort, period).

    Parameters
    ----------
    orders, refunds
        Canonical tables (one currency).
    order_lines, customers
        Needed only to filter on ``first_category`` or ``country``.
    as_of
        The analysis date; periods run up to the one holding it.
    granularity
        ``month`` (default), ``week`` or ``quarter``.
    where
        Keep only the customers acquired this way (see :class:`CohortFilter`).

    Returns
    -------
    ibis.Table
        cohort (date), period (int), cohort_size, active_customers, active_share (float),
        revenue (decimal), cumulative_revenue_per_customer (float), ordered by cohort and
        period.
    """
    granularity = _check_granularity(granularity)
    if where is not None:
        if where.first_category is not None and order_lines is None:
            raise ConfigError(
                "Filtering cohorts on first_category needs the order lines.",
                fix="Pass order_lines=workspace.table('order_lines').",
            )
        if where.country is not None and customers is None:
            raise ConfigError(
                "Filtering cohorts on country needs the customers table.",
                fix="Pass customers=workspace.table('customers').",
            )
    acq = acquisition(orders, order_lines, customers, as_of=as_of)
    if where is not None:
        acq = acq.filter(where.predicate(acq))
    acq = acq.select(
        "customer_id",
        cohort=_period_start(acq.first_day, granularity),
        cohort_index=_period_index(acq.first_day, granularity),
    )
    sizes = acq.group_by(["cohort", "cohort_index"]).aggregate(cohort_size=_.count())

    net = order_facts(orders, refunds, as_of=as_of).select("customer_id", "order_day", "net")
    net = net.join(acq, "customer_id")
    net = net.mutate(period=_period_index(net.order_day, granularity) - net.cohort_index)
    cells = net.group_by(["cohort", "period"]).aggregate(
        active_customers=_.customer_id.nunique(), revenue=_.net.sum()
    )

    last_index = _period_index(ibis.date(as_of.isoformat()), granularity)
    grid = sizes.select(
        "cohort",
        "cohort_size",
        period=ibis.range(0, last_index - sizes.cohort_index + 1).unnest(),
    )
    money = cells.revenue.type()
    full = grid.left_join(cells, ["cohort", "period"]).select(
        "cohort",
        "period",
        "cohort_size",
        active_customers=_.active_customers.coalesce(0),
        revenue=_.revenue.coalesce(ibis.literal(0).cast(money)),
    )
    running = full.revenue.sum().over(group_by="cohort", order_by="period", rows=(None, 0))
    return full.mutate(
        active_share=full.active_customers.cast("float64") / full.cohort_size.cast("float64"),
        cumulative_revenue_per_customer=running.cast("float64") / full.cohort_size.cast("float64"),
    ).order_by(["cohort", "period"])
