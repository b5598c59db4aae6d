"""Historic customer lifetime value by the classic formula, overall and per segment.

``CLV = AOV x purchase frequency x expected lifespan`` (e.g. Gupta & Lehmann 2003, with the
expected lifetime of a customer kept with a constant retention rate ``r`` per period being
``1 / (1 - r)`` periods). Every factor is measured on the data, for a period of ``P`` days
(365 by default) ending on ``as_of``:

- ``aov``: net revenue / orders of the sales in the last ``P`` days;
- ``purchase_frequency``: orders per customer in the last ``P`` days (orders / customers
  with a sale in that window);
- ``churn``: the customer churn rate at horizon ``P`` (:mod:`regulars.analytics.retention`):
  of the customers with a sale in the ``P`` days before the window, the share with no sale
  in the window;
- ``lifespan_days`` = ``P / churn``: the expected lifetime in days (geometric lifetime),
  capped at ``max_lifespan_days`` (10 years by default) when churn is 0 or tiny;
- ``clv`` = ``aov x purchase_frequency x lifespan_days / P``.

Per segment, every factor is measured on the customers of the segment. A factor that
cannot be measured (no sale in the window, no customer in the start window) is null, and so
is the CLV. Sales, net revenue and purchase days are as in :mod:`regulars.analytics.kpis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.kpis import order_facts, ratio
from regulars.analytics.retention import window_customers

__all__ = ["ALL", "CLV_COLUMNS", "UNASSIGNED", "definitions", "historic_clv"]

CLV_COLUMNS = ("segment", "customers", "aov", "purchase_frequency", "lifespan_days", "clv")
"""Columns of :func:`historic_clv`, as in :attr:`regulars.analysis.StoreAnalysis.historic_clv`."""

ALL = "all"
"""The segment name of the whole store (the first row)."""

UNASSIGNED = "unassigned"
"""The segment of customers the segment table leaves out (or gives a null segment)."""


def definitions(*, period_days: int = 365, max_lifespan_days: int = 3650) -> dict[str, str]:
    """Return the CLV definition and formula, in words, for the report."""
    p = period_days
    return {
        "historic clv": "CLV = AOV x purchase frequency x expected lifespan. "
        f"AOV = net revenue / orders of the sales in the last {p} days; "
        f"purchase frequency = orders per customer in the last {p} days; "
        f"expected lifespan (days) = {p} / churn, where churn is the share of the customers "
        f"with a sale in the {p} days before that window who made no sale in it (a customer "
        "kept with probability r per period stays 1 / (1 - r) periods on average); "
        f"capped at {max_lifespan_days} days. "
        f"CLV = AOV x purchase frequency x lifespan days / {p}. "
        "Per segment, each factor is measured on the segment's customers.",
    }


def _segment_table(
    segments: ir.Table | Mapping[str, str] | None, segment_column: str
) -> ir.Table | None:
    if segments is None:
        return None
    if isinstance(segments, Mapping):
        keys = [str(k) for k in segments]
        return ibis.memtable(
            {"seg_customer": keys, "segment": [str(v) for v in segments.values()]},
            schema={"seg_customer": "string", "segment": "string"},
        )
    if "customer_id" not in segments.columns or segment_column not in segments.columns:
        raise ValueError(f"the segment table needs columns customer_id and {segment_column!r}")
    return segments.select(
        seg_customer=segments.customer_id.cast("string"),
        segment=segments[segment_column].cast("string"),
    ).distinct()


def _with_segment(table: ir.Table, seg: ir.Table | None) -> ir.Table:
    if seg is None:
        return table.mutate(segment=ibis.literal(ALL))
    joined = table.left_join(seg, table.customer_id == seg.seg_customer).drop("seg_customer")
    return joined.mutate(segment=joined.segment.coalesce(UNASSIGNED))


def _factors(
    window: ir.Table, start: ir.Table, seg: ir.Table | None, period_days: int, cap: int
) -> ir.Table:
    zero = ibis.literal(0).cast(window.revenue.type())
    win = (
        _with_segment(window, seg)
        .group_by("segment")
        .aggregate(customers=_.count(), orders=_.orders.sum(), revenue=_.revenue.sum())
    )
    kept_ids = window.select(kept_customer="customer_id")
    marked = start.left_join(kept_ids, start.customer_id == kept_ids.kept_customer)
    marked = marked.mutate(kept=marked.kept_customer.notnull()).drop("kept_customer")
    churn = (
        _with_segment(marked, seg)
        .group_by("segment")
        .aggregate(at_start=_.count(), churned=(~_.kept).ifelse(1, 0).sum())
    )
    churn = churn.rename(churn_segment="segment")
    both = win.outer_join(churn, win.segment == churn.churn_segment)
    both = both.mutate(
        segment=both.segment.coalesce(both.churn_segment),
        customers=both.customers.coalesce(0),
        orders=both.orders.coalesce(0),
        revenue=both.revenue.coalesce(zero),
    )
    aov = ratio(both.revenue, both.orders)
    frequency = ratio(both.orders, both.customers)
    churn_rate = ratio(both.churned, both.at_start)
    lifespan = (churn_rate * cap > period_days).ifelse(
        period_days / churn_rate, ibis.literal(float(cap))
    )
    lifespan = churn_rate.isnull().ifelse(ibis.null("float64"), lifespan)
    return both.select(
        segment=both.segment,
        customers=both.customers,
        aov=aov,
        purchase_frequency=frequency,
        lifespan_days=lifespan,
        clv=aov * frequency * lifespan / float(period_days),
    )


def historic_clv(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
    segments: ir.Table | Mapping[str, str] | None = None,
    segment_column: str = "segment",
    period_days: int = 365,
    max_lifespan_days: int = 3650,
) -> ir.Table:
    """Return the historic CLV of the store and of each segment.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency (see :func:`regulars.analytics.kpis.single_currency`).
    as_of
        The analysis date: the measurement window ends on it.
    segments
        Which segment each customer is in: a table with ``customer_id`` and
        ``segment_column`` (e.g. the customers table and ``"country"``, or RFM segments), or
        a mapping customer id -> segment. Customers it leaves out are ``"unassigned"``.
        ``None``: only the store as a whole.
    segment_column
        The segment column of a ``segments`` table.
    period_days
        The period ``P`` of the formula (module docstring), in days.
    max_lifespan_days
        The cap on the expected lifespan.

    Returns
    -------
    ibis.Table
        :data:`CLV_COLUMNS`: one row for the store (segment ``"all"``) first, then one per
        segment with a customer in either window, sorted by name. ``customers`` is the
        number of customers with a sale in the window; ``purchase_frequency`` is per ``P``
        days; ``clv`` is null where a factor cannot be measured.
    """
    if period_days <= 0 or max_lifespan_days <= 0:
        raise ValueError("period_days and max_lifespan_days must be positive")
    facts = order_facts(orders, refunds, as_of=as_of)
    mid = as_of - timedelta(days=period_days)
    window = window_customers(facts, mid, as_of)
    start = window_customers(facts, as_of - timedelta(days=2 * period_days), mid)
    overall = _factors(window, start, None, period_days, max_lifespan_days)
    # The store's row exists even when nothing was sold in either window.
    base = ibis.memtable({"base_segment": [ALL]}, schema={"base_segment": "string"})
    overall = base.left_join(overall, base.base_segment == overall.segment)
    overall = overall.mutate(
        segment=overall.base_segment, customers=overall.customers.coalesce(0)
    ).select(*CLV_COLUMNS)
    parts = [overall.mutate(rank=ibis.literal(0))]
    seg = _segment_table(segments, segment_column)
    if seg is not None:
        by_segment = _factors(window, start, seg, period_days, max_lifespan_days)
        parts.append(by_segment.mutate(rank=ibis.literal(1)))
    out = ibis.union(*parts, distinct=False)
    return out.order_by(["rank", "segment"]).select(*CLV_COLUMNS)
