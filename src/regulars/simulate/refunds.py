"""Refunds: a few percent of orders, fully or partly refunded within 30 days.

A full refund returns the order's total and lists every line. A partial refund returns some
units of one line, net of the order's percentage discount, so it is always below the total;
an order of a single unit is always refunded in full. A refund that would fall after the
observation period is not in the data, and its order stays ``paid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.simulate.baskets import Lines
from regulars.simulate.catalogue import Catalogue
from regulars.simulate.columns import money, prefixed_ids, timestamps
from regulars.simulate.parameters import Period, StoreParameters

__all__ = ["RefundBatch", "draw_refunds"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_REASONS_FULL = ("damaged in transit", "not as described", "changed mind", "late delivery")
_REASONS_PARTIAL = ("damaged in transit", "missing item", "goodwill")


@dataclass(frozen=True)
class RefundBatch:
    """Refunds of a chunk's orders.

    Parameters
    ----------
    order
        Chunk-local order index refunded.
    seconds
        When, in seconds since the start.
    amount
        Amount refunded, cents.
    partial
        Whether the refund is partial.
    reason
        Index into the reasons of its kind.
    line_refund
        Refund index of each refunded line (grouped by refund).
    line_product, line_quantity, line_amount
        Refunded product, units and amount (cents) of each refunded line.
    """

    order: IntArray
    seconds: IntArray
    amount: IntArray
    partial: BoolArray
    reason: IntArray
    line_refund: IntArray
    line_product: IntArray
    line_quantity: IntArray
    line_amount: IntArray

    def table(
        self,
        order_id: pa.Array,
        first_number: int,
        catalogue: Catalogue,
        period: Period,
        currency: str,
    ) -> pa.Table:
        """Return the ``refunds`` table (before conforming to the canonical schema).

        Parameters
        ----------
        order_id
            Ids of the chunk's orders.
        first_number
            Global number of the first refund (refund ids are numbered across chunks).
        catalogue
            The catalogue.
        period
            The simulated period.
        currency
            The store's currency code.

        Returns
        -------
        pyarrow.Table
            One row per refund, with the refunded lines.
        """
        n = self.order.size
        reason = pc.if_else(
            pa.array(self.partial),
            pa.array(_REASONS_PARTIAL).take(pa.array(self.reason % len(_REASONS_PARTIAL))),
            pa.array(_REASONS_FULL).take(pa.array(self.reason % len(_REASONS_FULL))),
        )
        items = pa.StructArray.from_arrays(
            [
                pa.array(catalogue.product_id).take(pa.array(self.line_product)),
                pa.array(self.line_quantity),
                money(self.line_amount),
            ],
            names=["product_id", "quantity", "amount"],
        )
        offsets = np.concatenate(([0], np.cumsum(np.bincount(self.line_refund, minlength=n))))
        return pa.table(
            {
                "refund_id": prefixed_ids("R", first_number + np.arange(n, dtype=np.int64), 9),
                "order_id": order_id.take(pa.array(self.order)),
                "refunded_at": timestamps(self.seconds, period.start_epoch_seconds),
                "amount": money(self.amount),
                "currency": pa.array([currency] * n, type=pa.string()),
                "reason": reason,
                "lines": pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), items),
            }
        )


def draw_refunds(
    rng: np.random.Generator,
    *,
    lines: Lines,
    unit_price: IntArray,
    seconds: IntArray,
    subtotal: IntArray,
    discount: IntArray,
    total: IntArray,
    refundable: BoolArray,
    params: StoreParameters,
    end: float,
) -> RefundBatch:
    """Draw the refunds of a chunk's orders.

    Parameters
    ----------
    rng
        Random generator of the chunk's orders.
    lines
        The orders' lines.
    unit_price
        Unit price of each line, cents.
    seconds
        Time of each order, seconds since the start.
    subtotal, discount, total
        Amounts of each order, cents.
    refundable
        Whether each order may be refunded (paid, not cancelled).
    params
        Population parameters (refund rate, share of partial refunds).
    end
        End of the observation period, days: later refunds are not in the data.

    Returns
    -------
    RefundBatch
        The refunds, at most one per order.
    """
    n_orders = seconds.size
    offsets = lines.offsets(n_orders)
    refund_seconds = seconds + np.floor(rng.uniform(2, 30, n_orders) * 86400).astype(np.int64)
    chosen = (
        refundable & (rng.random(n_orders) < params.refund_rate) & (refund_seconds < end * 86400)
    )
    order = np.flatnonzero(chosen)
    n_lines = offsets[order + 1] - offsets[order]
    pick = offsets[order] + np.floor(rng.random(order.size) * n_lines).astype(np.int64)
    max_units = np.where(n_lines > 1, lines.quantity[pick], lines.quantity[pick] - 1)
    partial = (rng.random(order.size) < params.partial_refund_share) & (max_units >= 1)
    units = 1 + np.floor(rng.random(order.size) * np.maximum(max_units, 1)).astype(np.int64)
    gross = units * unit_price[pick]
    net = subtotal[order] - discount[order]
    partial_amount = (gross * net + subtotal[order] // 2) // subtotal[order]
    amount = np.where(partial, partial_amount, total[order])

    # Refunded lines: every line of a full refund, the picked line of a partial one.
    count = np.where(partial, 1, n_lines)
    line_refund = np.repeat(np.arange(order.size, dtype=np.int64), count)
    within = np.arange(line_refund.size) - np.repeat(np.cumsum(count) - count, count)
    line = np.where(partial[line_refund], pick[line_refund], offsets[order][line_refund] + within)
    line_quantity = np.where(partial[line_refund], units[line_refund], lines.quantity[line])
    line_amount = np.where(
        partial[line_refund], partial_amount[line_refund], unit_price[line] * line_quantity
    )
    return RefundBatch(
        order=order,
        seconds=refund_seconds[order],
        amount=amount,
        partial=partial,
        reason=rng.integers(0, 12, order.size),
        line_refund=line_refund,
        line_product=lines.product[line],
        line_quantity=line_quantity,
        line_amount=line_amount,
    )
