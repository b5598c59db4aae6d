"""Baskets: what each customer bought, order by order, as arrays the recommenders work on.

A **basket** is one sale (an order that is not cancelled, placed on or before ``as_of``, with
a customer id: see :mod:`regulars.analytics.summary`). Its items are the distinct products
of its lines; a product on two lines of one order counts once, with the lines' spend summed.

:func:`basket_lines` is the Ibis expression (any engine); :class:`Baskets` holds its result
as integer-coded numpy arrays, one entry per (basket, product), sorted by customer and then
basket. Nothing here reads files or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from regulars.analytics.summary import sales

__all__ = ["Baskets", "basket_lines"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def basket_lines(orders: ir.Table, order_lines: ir.Table, *, as_of: date) -> ir.Table:
    """Return the product lines of every customer's sales up to ``as_of`` (an Ibis expression).

    Parameters
    ----------
    orders, order_lines
        Canonical tables of one backend (one currency: the caller filters the orders).
    as_of
        The last day seen (included).

    Returns
    -------
    ibis.expr.types.Table
        ``customer_id, order_id, ordered_at, product_id, spend`` (spend: the product's line
        totals in the order, as a float).
    """
    sold = sales(orders, as_of).filter(lambda t: t.customer_id.notnull())
    sold = sold.select("order_id", "customer_id", "ordered_at")
    lines = order_lines.select("order_id", "product_id", "line_total")
    joined = lines.join(sold, "order_id")
    return joined.group_by(["customer_id", "order_id", "ordered_at", "product_id"]).aggregate(
        spend=joined.line_total.sum().cast("float64")
    )


def _codes(values: pd.Series) -> tuple[IntArray, npt.NDArray[Any]]:
    """Return integer codes of ``values`` (as text) and the sorted distinct values."""
    codes, uniques = pd.factorize(values.astype(str), sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


@dataclass(frozen=True)
class Baskets:
    """Every customer's baskets, integer-coded.

    One entry per (basket, product), sorted by customer, then basket.

    Attributes
    ----------
    customer
        Customer index of the entry (into ``customer_ids``).
    item
        Product index of the entry (into ``item_ids``).
    basket
        The basket's position in the customer's history: 0 for the first, 1 for the next...
    age_days
        Days from the basket to the end of ``as_of`` (0 = bought at the very end of as_of).
    spend
        The product's spend in the basket.
    customer_ids, item_ids
        The ids behind the indices.
    as_of
        The last day seen.
    view_days
        Per customer, when they are looked at, in days before the end of ``as_of`` (0 for
        all but in :meth:`split_last`, where it is the time of their held-out basket).
    """

    customer: IntArray
    item: IntArray
    basket: IntArray
    age_days: FloatArray
    spend: FloatArray
    customer_ids: npt.NDArray[Any]
    item_ids: npt.NDArray[Any]
    as_of: date
    view_days: FloatArray

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return int(self.customer_ids.size)

    @property
    def n_items(self) -> int:
        """Number of products."""
        return int(self.item_ids.size)

    @property
    def n_entries(self) -> int:
        """Number of (basket, product) entries."""
        return int(self.item.size)

    def baskets_per_customer(self) -> IntArray:
        """Return the number of baskets of each customer (0 for none)."""
        counts = np.zeros(self.n_customers, dtype=np.int64)
        np.maximum.at(counts, self.customer, self.basket + 1)
        return counts

    def basket_ages(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Return (customer, basket, age in days) of each basket, in entry order."""
        key = self.customer * (int(self.basket.max(initial=0)) + 1) + self.basket
        _, first = np.unique(key, return_index=True)
        return self.customer[first], self.basket[first], self.age_days[first]

    def select(self, keep: BoolArray) -> Baskets:
        """Return the entries where ``keep`` holds (same indices; baskets not renumbered)."""
        return Baskets(
            self.customer[keep],
            self.item[keep],
            self.basket[keep],
            self.age_days[keep],
            self.spend[keep],
            self.customer_ids,
            self.item_ids,
            self.as_of,
            self.view_days,
        )

    def split_last(self, n_last: int = 1) -> tuple[Baskets, Baskets]:
        """Split off each customer's last ``n_last`` baskets: (earlier baskets, last ones).

        Only customers with more than ``n_last`` baskets are split; the others keep every
        basket in the earlier part. In the earlier part each split customer is looked at
        (``view_days``) when their first held-out basket was bought: the moment a
        recommendation for that basket would have been shown.
        """
        count = self.baskets_per_customer()[self.customer]
        late = (count > n_last) & (self.basket >= count - n_last)
        history, truth = self.select(~late), self.select(late)
        view = self.view_days.copy()
        np.maximum.at(view, truth.customer, truth.age_days)  # the earliest held-out basket
        history = Baskets(
            history.customer,
            history.item,
            history.basket,
            history.age_days,
            history.spend,
            history.customer_ids,
            history.item_ids,
            history.as_of,
            view,
        )
        return history, truth

    @classmethod
    def from_frame(cls, frame: pd.DataFrame | pa.Table, *, as_of: date) -> Baskets:
        """Build from rows of :func:`basket_lines`.

        The rows need ``customer_id, order_id, ordered_at, product_id`` and optionally
        ``spend``. Orders are put in time order per customer (ties broken by order id); the
        customer and product ids are coded in sorted order.
        """
        df = frame.to_pandas() if isinstance(frame, pa.Table) else frame
        if df.empty:
            return cls.empty(as_of)
        customer, customer_ids = _codes(df["customer_id"])
        item, item_ids = _codes(df["product_id"])
        end = pd.Timestamp(datetime.combine(as_of, time.min), tz="UTC") + pd.Timedelta(days=1)
        ordered_at = pd.to_datetime(df["ordered_at"], utc=True)
        age = ((end - ordered_at).dt.total_seconds() / 86400.0).to_numpy(dtype=float)
        spend = (
            df["spend"].to_numpy(dtype=float) if "spend" in df else np.zeros(len(df), dtype=float)
        )
        order, _ = _codes(df["order_id"])
        # One entry per (order, product): a product on two lines of an order counts once.
        key = order.astype(np.int64) * item_ids.size + item
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        spend = np.bincount(inverse, weights=spend, minlength=uniq.size).astype(float)
        customer, item, order, age = customer[first], item[first], order[first], age[first]
        # Baskets in time order per customer: oldest (largest age) first, then by order id.
        basket_order = np.lexsort((order, -age, customer))
        customer, item, order = customer[basket_order], item[basket_order], order[basket_order]
        age, spend = age[basket_order], spend[basket_order]
        new_basket = np.ones(order.size, dtype=bool)
        new_basket[1:] = (order[1:] != order[:-1]) | (customer[1:] != customer[:-1])
        new_customer = np.ones(order.size, dtype=bool)
        new_customer[1:] = customer[1:] != customer[:-1]
        running = np.cumsum(new_basket) - 1
        start_of_customer = np.maximum.accumulate(np.where(new_customer, running, 0))
        basket = running - start_of_customer
        return cls(
            customer.astype(np.int64),
            item.astype(np.int64),
            basket.astype(np.int64),
            age,
            spend,
            customer_ids,
            item_ids,
            as_of,
            np.zeros(customer_ids.size),
        )

    @classmethod
    def empty(cls, as_of: date) -> Baskets:
        """Return baskets with no customer."""
        none = np.zeros(0, dtype=np.int64)
        return cls(
            none,
            none,
            none,
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, dtype=object),
            np.zeros(0, dtype=object),
            as_of,
            np.zeros(0),
        )
