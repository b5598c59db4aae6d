"""Distributions: orders per customer, and days between consecutive purchase days.

Sales and purchase days are as in :mod:`regulars.analytics.kpis` (guest orders left out).

- **Orders per customer**: customers by their number of sales up to ``as_of``: 1, 2, ...,
  with the last bucket holding everyone with ``cap`` (10) or more orders.
- **Days between orders**: every gap between two consecutive purchase days of a customer,
  counted in buckets given by their lower bounds (0, 7, 14, 30, 60, 90, 180, 365 by
  default): a gap of ``g`` days is in the bucket of the largest lower bound ``<= g``, so
  bucket 7 holds gaps of 7 to 13 days and bucket 365 every gap of a year or more.

Every bucket is in the result, with 0 when empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import pairwise

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics.kpis import order_facts, purchase_gaps

__all__ = ["DAY_BUCKETS", "DEFINITIONS", "days_between_orders", "orders_per_customer"]

DAY_BUCKETS = (0, 7, 14, 30, 60, 90, 180, 365)
"""Lower bounds (days) of the default buckets of :func:`days_between_orders`."""

DEFINITIONS: dict[str, str] = {
    "orders per customer": "Customers by their number of sales up to as_of; the last bucket "
    "(10+) holds every customer with 10 orders or more.",
    "days between orders": "Gaps, in days, between consecutive purchase days of a customer, "
    "counted in buckets by their lower bound: 0-6, 7-13, 14-29, 30-59, 60-89, 90-179, "
    "180-364 and 365 days or more.",
}
"""The definitions, in words, for the report."""


def _spine(name: str, values: Sequence[int]) -> ir.Table:
    return ibis.memtable({name: [int(v) for v in values]}, schema={name: "int64"})


def orders_per_customer(
    orders: ir.Table, refunds: ir.Table, *, as_of: date, cap: int = 10
) -> ir.Table:
    """Return how many customers have 1, 2, ..., ``cap`` or more orders.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency.
    as_of
        The analysis date.
    cap
        The last bucket: ``cap`` or more orders (10 by default).

    Returns
    -------
    ibis.Table
        Columns orders (1 .. cap; ``cap`` stands for "cap or more") and customers, one row
        per bucket, sorted, empty buckets included with 0.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap!r}")
    facts = order_facts(orders, refunds, as_of=as_of)
    per_customer = facts.group_by("customer_id").aggregate(n=_.count())
    capped = per_customer.mutate(bucket=ibis.least(per_customer.n, cap).cast("int64"))
    counts = capped.group_by("bucket").aggregate(customers=_.count())
    spine = _spine("orders", range(1, cap + 1))
    joined = spine.left_join(counts, spine.orders == counts.bucket)
    return joined.select(
        orders=joined.orders, customers=joined.customers.coalesce(0).cast("int64")
    ).order_by("orders")


def days_between_orders(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
    buckets: Sequence[int] = DAY_BUCKETS,
) -> ir.Table:
    """Return the number of gaps between consecutive purchase days, by bucket.

    Parameters
    ----------
    orders, refunds
        Canonical tables, one currency.
    as_of
        The analysis date.
    buckets
        Increasing lower bounds in days, the first 0 (or less).

    Returns
    -------
    ibis.Table
        Columns days_bucket (the lower bound, in days) and gaps (count), one row per bucket,
        sorted, empty buckets included with 0.
    """
    bounds = [int(b) for b in buckets]
    if not bounds or bounds[0] > 0 or any(a >= b for a, b in pairwise(bounds)):
        raise ValueError(f"buckets must be increasing lower bounds from 0, got {buckets!r}")
    gaps = purchase_gaps(order_facts(orders, refunds, as_of=as_of)).filter(_.gap_days.notnull())
    bucket = ibis.literal(bounds[0], type="int64")
    for lower in bounds[1:]:
        bucket = (gaps.gap_days >= lower).ifelse(ibis.literal(lower, type="int64"), bucket)
    counts = gaps.mutate(bucket=bucket).group_by("bucket").aggregate(gaps=_.count())
    spine = _spine("days_bucket", bounds)
    joined = spine.left_join(counts, spine.days_bucket == counts.bucket)
    return joined.select(
        days_bucket=joined.days_bucket, gaps=joined.gaps.coalesce(0).cast("int64")
    ).order_by("days_bucket")
