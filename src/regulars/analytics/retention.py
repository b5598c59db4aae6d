"""Retention and churn, measured two ways: by customer count and by revenue.

Counting customers treats a customer who spent 10 like one who spent 10,000; weighting by
revenue shows when a few big customers leave. Both are given at several horizons, with
their definitions (:func:`definitions`), as of a date. Sales, purchase days and net revenue
are as in :mod:`regulars.analytics.kpis` (guest orders left out, refunds made on or before
``as_of`` subtracted from the order they refund).

**Retention at horizon h** (days), for the analysis day ``A``:

- the *start window* is the h days ``(A - 2h, A - h]``; the *end window* the h days
  ``(A - h, A]``;
- ``customers_at_start``: customers with a sale in the start window;
- ``retained_customers``: those of them with a sale in the end window;
  ``customer_retention_rate`` = retained / at start; ``customer_churn_rate`` = 1 - it;
- ``revenue_at_start``: the start-window revenue of the customers at start;
- ``retained_revenue``: the start-window revenue of the retained customers;
  ``revenue_retention_rate`` = retained revenue / revenue at start (the revenue-weighted
  share of customers kept); ``revenue_churn_rate`` = 1 - it, the share of the start window's
  revenue that came from customers who did not buy again within h days.

**Per-store churn threshold**: the exact ``q``-quantile (0.9 by default) of the days between
consecutive purchase days of a customer, over all customers. A customer is *churned* when
their last purchase day is more than that many days before ``A``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.kpis import order_facts, purchase_gaps, ratio

__all__ = [
    "RETENTION_COLUMNS",
    "churn_by_threshold",
    "churn_threshold_days",
    "definitions",
    "retention",
    "window_customers",
]

RETENTION_COLUMNS = (
    "horizon_days",
    "customers_at_start",
    "retained_customers",
    "customer_retention_rate",
    "customer_churn_rate",
    "revenue_at_start",
    "retained_revenue",
    "revenue_retention_rate",
    "revenue_churn_rate",
)
"""Columns of :func:`retention`, as in :attr:`regulars.analysis.StoreAnalysis.retention`."""


def definitions(*, quantile: float = 0.9, fallback_days: int = 365) -> dict[str, str]:
    """Return the retention and churn definitions, in words, for the report."""
    return {
        "retention (customers)": "At horizon h days: of the customers with a sale in the h "
        "days before (as_of - h), the share with a sale in the last h days up to as_of. "
        "Customer churn = 1 - customer retention.",
        "retention (revenue)": "At horizon h days: the start-window revenue of the customers "
        "kept (a sale in the last h days) / the start-window revenue of all its customers. "
        "Revenue churn = 1 - revenue retention: the share of revenue from customers who left; "
        "a few big customers leaving shows as a large revenue churn and a small customer churn.",
        "churn threshold": f"Per store: the exact {quantile:.0%} quantile of the days between "
        "consecutive purchase days of a customer (all customers pooled); "
        f"{fallback_days} days when no customer has bought twice.",
        "churned": "A customer whose last purchase day is more than the churn threshold "
        "before as_of. Churned revenue: the lifetime revenue of churned customers.",
    }


def window_customers(facts: ir.Table, start: date, end: date) -> ir.Table:
    """Return each customer's revenue and orders in the days ``(start, end]``.

    Parameters
    ----------
    facts
        :func:`regulars.analytics.kpis.order_facts`.
    start, end
        The window: sales on a day after ``start`` and up to ``end`` (both UTC dates).

    Returns
    -------
    ibis.Table
        Columns: customer_id, revenue (exact decimal), orders.
    """
    lo, hi = ibis.date(start.isoformat()), ibis.date(end.isoformat())
    inside = facts.filter((facts.order_day > lo) & (facts.order_day <= hi))
    return inside.group_by("customer_id").aggregate(revenue=_.net.sum(), orders=_.count())


def _horizon(facts: ir.Table, as_of: date, days: int) -> ir.Table:
    mid = as_of - timedelta(days=days)
    start = window_customers(facts, as_of - timedelta(days=2 * days), mid)
    end = window_customers(facts, mid, as_of).select(kept_customer="customer_id")
    joined = start.left_join(end, start.customer_id == end.kept_customer)
    kept = joined.kept_customer.notnull()
    zero = ibis.literal(0).cast(joined.revenue.type())
    sums = joined.aggregate(
        customers_at_start=_.count(),
        retained_customers=kept.ifelse(1, 0).sum().coalesce(0),
        revenue_at_start=joined.revenue.sum().coalesce(zero),
        retained_revenue=kept.ifelse(joined.revenue, zero).sum().coalesce(zero),
    )
    customer_rate = ratio(sums.retained_customers, sums.customers_at_start)
    revenue_rate = ratio(sums.retained_revenue, sums.revenue_at_start)
    return sums.select(
        horizon_days=ibis.literal(days, type="int64"),
        customers_at_start=sums.customers_at_start,
        retained_customers=sums.retained_customers,
        customer_retention_rate=customer_rate,
        customer_churn_rate=1.0 - customer_rate,
        revenue_at_start=sums.revenue_at_start,
        retained_revenue=sums.retained_revenue,
        revenue_retention_rate=revenue_rate,
        revenue_churn_rate=1.0 - revenue_rate,
    )


def retention(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
    horizons: Sequence[int] = (30, 90, 365),
) -> ir.Table:
    """Return customer and revenue retention and churn at each horizon.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency (see :func:`regulars.analytics.kpis.single_currency`).
    as_of
        The analysis date: the end window ends on it.
    horizons
        Horizons in days (positive integers), one row each.

    Returns
    -------
    ibis.Table
        One row per horizon, sorted, with :data:`RETENTION_COLUMNS` (definitions in the
        module docstring and :func:`definitions`). Rates are null when there is no customer
        (or no positive revenue) at start; money columns are exact decimals.
    """
    if not horizons or any(int(h) != h or h <= 0 for h in horizons):
        raise ValueError(f"horizons must be positive whole numbers of days, got {horizons!r}")
    facts = order_facts(orders, refunds, as_of=as_of)
    rows = [_horizon(facts, as_of, int(h)) for h in sorted(set(horizons))]
    return ibis.union(*rows, distinct=False).order_by("horizon_days")


def churn_threshold_days(
    orders: ir.Table, refunds: ir.Table, *, as_of: date, quantile: float = 0.9
) -> ir.FloatingScalar:
    """Return the store's churn threshold: a quantile of the days between purchase days.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency.
    as_of
        The analysis date.
    quantile
        Which quantile (exact, linear interpolation), 0.9 by default.

    Returns
    -------
    ibis.FloatingScalar
        Days; null when no customer has two purchase days.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    gaps = purchase_gaps(order_facts(orders, refunds, as_of=as_of))
    return gaps.gap_days.quantile(quantile).cast("float64")


def churn_by_threshold(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
    threshold_days: float | None = None,
    quantile: float = 0.9,
    fallback_days: int = 365,
) -> ir.Table:
    """Return how many customers, and how much of the revenue, have churned as of ``as_of``.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency.
    as_of
        The analysis date.
    threshold_days
        Churned: no purchase day in the last ``threshold_days`` days (strictly more days
        since the last one). ``None``: the store's threshold, :func:`churn_threshold_days`.
    quantile
        The quantile for the store's threshold.
    fallback_days
        The threshold when the store's cannot be computed (no customer bought twice).

    Returns
    -------
    ibis.Table
        One row: threshold_days, customers, churned_customers, customer_churn_rate, revenue,
        churned_revenue, revenue_churn_rate (lifetime net revenue of the churned customers /
        lifetime net revenue of all customers).
    """
    facts = order_facts(orders, refunds, as_of=as_of)
    per_customer = facts.group_by("customer_id").aggregate(
        last_day=_.order_day.max(), revenue=_.net.sum()
    )
    if threshold_days is None:
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
        gaps = purchase_gaps(facts)
        found = gaps.aggregate(found=gaps.gap_days.quantile(quantile).cast("float64"))
        per_customer = per_customer.cross_join(
            found.select(threshold=found.found.coalesce(float(fallback_days)))
        )
    else:
        per_customer = per_customer.mutate(threshold=ibis.literal(float(threshold_days)))
    since = ibis.date(as_of.isoformat()).delta(per_customer.last_day, unit="day")
    churned = since.cast("float64") > per_customer.threshold
    zero = ibis.literal(0).cast(per_customer.revenue.type())
    sums = per_customer.aggregate(
        threshold_days=per_customer.threshold.max(),
        customers=_.count(),
        churned_customers=churned.ifelse(1, 0).sum().coalesce(0),
        revenue=per_customer.revenue.sum().coalesce(zero),
        churned_revenue=churned.ifelse(per_customer.revenue, zero).sum().coalesce(zero),
    )
    return sums.select(
        threshold_days=sums.threshold_days,
        customers=sums.customers,
        churned_customers=sums.churned_customers,
        customer_churn_rate=ratio(sums.churned_customers, sums.customers),
        revenue=sums.revenue,
        churned_revenue=sums.churned_revenue,
        revenue_churn_rate=ratio(sums.churned_revenue, sums.revenue),
    )
