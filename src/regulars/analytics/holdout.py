"""The calibration / holdout split of a store's history, for honest model evaluation.

A model is fitted on what was known at ``cutoff`` and judged on what happened next.
The split follows Fader, Hardie & Lee (2005) and the definitions of
:mod:`regulars.analytics.summary`:

- **Who**: the customers with a sale on or before ``cutoff`` (the calibration customers).
  Customers first seen after the cutoff are left out: no model fitted at the cutoff could
  have known them.
- **Calibration**: :func:`~regulars.analytics.summary.customer_summary` at ``cutoff``
  (frequency in repeat purchase days, recency and age in days, monetary value...).
- **Holdout**: the days ``(cutoff, cutoff + horizon_days]``, in UTC. The cutoff day is
  calibration to its last instant: an order at 23:59:59 UTC on the cutoff day is
  calibration, one at 00:00 UTC the next day is holdout.
- ``holdout_purchases``: distinct days with a sale in the holdout (several orders on one
  day are one purchase, as in the calibration's ``frequency``). Calibration purchase days
  never overlap them, so ``frequency + holdout_purchases`` are the repeat purchase days
  seen by the end of the holdout.
- ``holdout_orders``: sales in the holdout; ``holdout_gross_revenue``: their totals.
- ``holdout_refunded``: refunds made on or before the last holdout day *of holdout sales*;
  ``holdout_revenue`` = gross - refunded (net). A refund made in the holdout of an order
  placed before the cutoff is not holdout revenue: it undoes a calibration purchase, which
  no spend forecast predicts; the calibration's own ``revenue`` only counts refunds made
  by the cutoff, so such a refund is counted nowhere (a known, small gap).

The tracking plot (cumulative repeat purchases, actual against the models' unconditional
forecasts) uses :func:`daily_first_purchases` and :func:`daily_repeat_purchases`.

Every function returns an Ibis expression; nothing here executes or knows the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.summary import as_of_bounds, customer_summary, sales
from regulars.errors import InputError

__all__ = [
    "CALIBRATION_COLUMNS",
    "DEFINITIONS",
    "calibration_holdout",
    "daily_first_purchases",
    "daily_repeat_purchases",
    "holdout_end",
    "tables_as_of",
    "tracking_days",
]

DEFINITIONS: dict[str, str] = {
    "split": "Calibration: everything on or before the cutoff day (UTC). Holdout: the days "
    "after it, up to cutoff + horizon. Only customers with a sale by the cutoff are scored; "
    "customers first seen in the holdout are left out (no model could have known them).",
    "purchase": "A purchase is a day with at least one sale (orders not cancelled): several "
    "orders on one day are one purchase, in the calibration and in the holdout alike.",
    "holdout_revenue": "Net revenue of the holdout's sales: their totals minus refunds of "
    "those sales made by the end of the holdout (refunds, in the holdout, of orders placed "
    "before the cutoff are not holdout revenue).",
    "tracking": "Cumulative repeat purchases of the calibration customers, week by week: "
    "actual, and each model's unconditional forecast, the sum over customers of "
    "E[X(t - first purchase day)] (FHL 2005, equation 9).",
}
"""Term -> its definition in words, for the report."""

CALIBRATION_COLUMNS = (
    "first_order_at",
    "orders",
    "order_days",
    "frequency",
    "recency_days",
    "t_days",
    "monetary_value",
    "gross_revenue",
    "revenue",
)
"""The columns of the calibration summary that :func:`calibration_holdout` keeps."""


def holdout_end(cutoff: date, horizon_days: int) -> date:
    """Return the last day of the holdout ``(cutoff, cutoff + horizon_days]``.

    Raises
    ------
    InputError
        When ``horizon_days`` is not a whole number of days >= 1.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise InputError(
            f"The holdout horizon must be a whole number of days >= 1, got {horizon_days!r}.",
            fix="Give the horizon in whole days, e.g. 91 for 13 weeks.",
        )
    return cutoff + timedelta(days=horizon_days)


def tracking_days(first_day: date, cutoff: date, end: date) -> list[date]:
    """Return week ends for the tracking plot: every 7 days back and forth from ``cutoff``.

    The first is the earliest week end on or after the day before ``first_day`` (the first
    sale), so the cutoff is a whole number of weeks after it only when the data starts on
    a week boundary; the last is ``end`` (the holdout's last day), a partial week if need be.
    """
    back = (cutoff - (first_day - timedelta(days=1))).days // 7
    days = [cutoff - timedelta(days=7 * k) for k in range(back, 0, -1)] + [cutoff]
    ahead = (end - cutoff).days
    days += [cutoff + timedelta(days=7 * k) for k in range(1, ahead // 7 + 1)]
    if days[-1] < end:
        days.append(end)
    return days


def _holdout_sales(orders: ir.Table, cutoff: date, horizon_days: int) -> ir.Table:
    """Sales of known customers placed in the holdout days, with their ``order_day``."""
    sold = sales(orders, holdout_end(cutoff, horizon_days))
    return sold.filter(sold.customer_id.notnull() & (sold.ordered_at >= as_of_bounds(cutoff)))


def calibration_holdout(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    cutoff: date,
    horizon_days: int,
) -> ir.Table:
    """Return one row per calibration customer: their summary at ``cutoff`` and their holdout.

    Parameters
    ----------
    orders, refunds
        Canonical tables (any Ibis backend), one currency only: the caller filters.
    cutoff
        The last day of the calibration period (UTC, whole day included).
    horizon_days
        The length of the holdout in whole days: ``(cutoff, cutoff + horizon_days]``.

    Returns
    -------
    ibis.Table
        Columns: customer_id, first_order_at, orders, order_days, frequency, recency_days,
        t_days, monetary_value, gross_revenue, revenue (calibration, as in
        :func:`~regulars.analytics.summary.customer_summary`), holdout_purchases,
        holdout_orders (int64, 0 without a holdout sale), holdout_gross_revenue,
        holdout_refunded, holdout_revenue (the money type of ``total``, 0 without).

    Raises
    ------
    InputError
        When ``horizon_days`` is not a whole number of days >= 1.
    """
    last_day = holdout_end(cutoff, horizon_days)
    calibration = customer_summary(orders, refunds, as_of=cutoff).select(
        "customer_id", *CALIBRATION_COLUMNS
    )
    later = _holdout_sales(orders, cutoff, horizon_days)
    refunded = (
        refunds.filter(refunds.refunded_at < as_of_bounds(last_day))
        .join(later.select("order_id"), "order_id")
        .select("order_id", refund_amount=_.amount)
        .group_by("order_id")
        .aggregate(order_refunded=_.refund_amount.sum())
    )
    with_refunds = later.left_join(refunded, "order_id")
    money = with_refunds.total.type()
    zero = ibis.literal(0).cast(money)
    holdout = with_refunds.group_by("customer_id").aggregate(
        holdout_purchases=with_refunds.order_day.nunique(),
        holdout_orders=with_refunds.count(),
        holdout_gross_revenue=with_refunds.total.sum(),
        holdout_refunded=with_refunds.order_refunded.cast(money).coalesce(zero).sum(),
    )
    joined = calibration.left_join(holdout, "customer_id")
    gross = joined.holdout_gross_revenue.cast(money).coalesce(zero)
    refunded_total = joined.holdout_refunded.cast(money).coalesce(zero)
    return joined.select(
        "customer_id",
        *CALIBRATION_COLUMNS,
        holdout_purchases=joined.holdout_purchases.cast("int64").coalesce(0),
        holdout_orders=joined.holdout_orders.cast("int64").coalesce(0),
        holdout_gross_revenue=gross,
        holdout_refunded=refunded_total,
        holdout_revenue=gross - refunded_total,
    )


def _customer_days(orders: ir.Table, cutoff: date, horizon_days: int) -> ir.Table:
    """Distinct (customer, sale day) up to the holdout end, of calibration customers only."""
    sold = sales(orders, holdout_end(cutoff, horizon_days)).filter(_.customer_id.notnull())
    days = sold.select("customer_id", "order_day").distinct()
    first = days.group_by("customer_id").aggregate(first_day=_.order_day.min())
    known = first.filter(first.first_day <= ibis.date(cutoff.isoformat()))
    return days.join(known, "customer_id")


def daily_first_purchases(orders: ir.Table, *, cutoff: date) -> ir.Table:
    """Return how many calibration customers made their first purchase on each day.

    Parameters
    ----------
    orders
        Canonical orders, one currency only.
    cutoff
        The last day of the calibration period: customers first seen after it are left out.

    Returns
    -------
    ibis.Table
        Columns: day (date, on or before ``cutoff``), customers (int64); one row per day
        with at least one first purchase, in no particular order.
    """
    sold = sales(orders, cutoff).filter(_.customer_id.notnull())
    first = sold.group_by("customer_id").aggregate(day=_.order_day.min())
    return first.group_by("day").aggregate(customers=_.count().cast("int64"))


def daily_repeat_purchases(orders: ir.Table, *, cutoff: date, horizon_days: int) -> ir.Table:
    """Return the repeat purchases of calibration customers on each day up to the holdout end.

    A repeat purchase is a (customer, day) with a sale that is not the customer's first
    purchase day; several orders on one day are one purchase.

    Parameters
    ----------
    orders
        Canonical orders, one currency only.
    cutoff
        The last calibration day: customers first seen after it are left out.
    horizon_days
        The length of the holdout in whole days; days after ``cutoff + horizon_days`` are
        left out.

    Returns
    -------
    ibis.Table
        Columns: day (date), repeat_purchases (int64); one row per day with at least one,
        in no particular order.
    """
    days = _customer_days(orders, cutoff, horizon_days)
    repeats = days.filter(days.order_day > days.first_day)
    return repeats.group_by(day=repeats.order_day).aggregate(
        repeat_purchases=_.count().cast("int64")
    )


def tables_as_of(tables: Mapping[str, ir.Table], cutoff: date) -> dict[str, ir.Table]:
    """Return the canonical tables as they stood at the end of ``cutoff`` (UTC).

    Orders, refunds and events after it are removed, with the lines of removed orders
    and the customers created after it (customers without a creation time are kept).
    An order's ``status`` is its current one: a later cancellation is still visible.
    """
    bound = as_of_bounds(cutoff)
    seen = dict(tables)
    orders = tables["orders"].filter(tables["orders"].ordered_at < bound)
    seen["orders"] = orders
    if "refunds" in tables:
        seen["refunds"] = tables["refunds"].filter(tables["refunds"].refunded_at < bound)
    if "order_lines" in tables:
        lines = tables["order_lines"]
        seen["order_lines"] = lines.filter(lines.order_id.isin(orders.order_id))
    if "events" in tables:
        seen["events"] = tables["events"].filter(tables["events"].occurred_at < bound)
    if "customers" in tables:
        c = tables["customers"]
        seen["customers"] = c.filter(c.created_at.isnull() | (c.created_at < bound))
    return seen
