"""Orders of a chunk of customers: baskets, discount codes, totals, cancellations and refunds.

Every purchase of the BG/NBD process in the observation period becomes an order (paid, or
refunded later). Two kinds of orders are added outside the process: guest checkouts (no
customer) and cancelled orders (a customer places an extra order a few hours after a purchase,
then cancels it; the payment is voided, so there is no refund row). The ground truth therefore
counts a customer's orders whose status is not ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.schema import ORDER_STATUSES
from regulars.simulate.baskets import Lines, draw_lines
from regulars.simulate.catalogue import Catalogue
from regulars.simulate.columns import money, money_text, prefixed_ids, timestamps
from regulars.simulate.customers import COUNTRIES, CustomerBatch, draw_affinity
from regulars.simulate.parameters import Period, StoreParameters
from regulars.simulate.purchases import Purchases
from regulars.simulate.refunds import RefundBatch, draw_refunds
from regulars.simulate.seasonality import Seasonality

__all__ = ["DISCOUNT_CODES", "OrderBatch", "build_orders"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DISCOUNT_CODES: tuple[tuple[str, int], ...] = (
    ("WELCOME10", 10),
    ("SPRING15", 15),
    ("FREESHIP", 0),
    ("THANKYOU5", 5),
    ("BFCM20", 20),
)
"""Discount codes and their percentage off the subtotal (FREESHIP: free shipping instead)."""

PAID, CANCELLED, REFUNDED, PARTIALLY_REFUNDED = (
    ORDER_STATUSES.index(status)
    for status in ("paid", "cancelled", "refunded", "partially_refunded")
)
_WELCOME, _FREESHIP, _BFCM = 0, 2, 4
_TAX_BASIS_POINTS = {"US": 725, "CA": 500}
_SOURCE = "regulars simulate"


@dataclass(frozen=True)
class OrderBatch:
    """The orders of one chunk, sorted by time, with their lines and refunds.

    Parameters
    ----------
    first_number
        Global number of the chunk's first order (order ids are numbered across chunks).
    first_refund_number
        Global number of the chunk's first refund.
    time
        Time of each order, days since the start.
    seconds
        Time of each order, whole seconds since the start.
    customer
        Chunk-local customer index, or -1 for a guest checkout.
    guest
        Chunk-local guest index, or -1 for a customer's order.
    n_guests
        Number of guests (each checks out once, maybe with a cancelled duplicate).
    status
        Index into :data:`regulars.schema.ORDER_STATUSES`.
    code
        Index into :data:`DISCOUNT_CODES`, or -1.
    subtotal, discount, shipping, tax, total
        Amounts in cents.
    channel_app
        Whether the order came through the mobile app (else the web shop).
    lines
        The order lines (``lines.basket`` is the order index).
    refunds
        The refunds.
    """

    first_number: int
    first_refund_number: int
    time: FloatArray
    seconds: IntArray
    customer: IntArray
    guest: IntArray
    n_guests: int
    status: IntArray
    code: IntArray
    subtotal: IntArray
    discount: IntArray
    shipping: IntArray
    tax: IntArray
    total: IntArray
    channel_app: BoolArray
    lines: Lines
    refunds: RefundBatch

    @property
    def size(self) -> int:
        """Number of orders."""
        return int(self.time.size)

    @property
    def order_id(self) -> pa.Array:
        """Order ids (``O`` and nine digits)."""
        return prefixed_ids("O", self.first_number + np.arange(self.size, dtype=np.int64), 9)

    def customer_id(self, customers: CustomerBatch) -> pa.Array:
        """Return the customer id of each order (null for guests)."""
        index = pa.array(self.customer, mask=self.customer < 0)
        return customers.customer_id.take(index)

    def tables(
        self, customers: CustomerBatch, catalogue: Catalogue, period: Period, currency: str
    ) -> dict[str, pa.Table]:
        """Return the ``orders``, ``order_lines`` and ``refunds`` tables of the chunk.

        Parameters
        ----------
        customers
            The chunk's customers.
        catalogue
            The catalogue.
        period
            The simulated period.
        currency
            The store's currency code.

        Returns
        -------
        dict of str to pyarrow.Table
            The three tables, before conforming to the canonical schemas.
        """
        n = self.size
        order_id = self.order_id
        codes = pa.array([c for c, _ in DISCOUNT_CODES])
        code_lists = pa.ListArray.from_arrays(
            pa.array(np.concatenate(([0], np.cumsum(self.code >= 0))).astype(np.int32)),
            codes.take(pa.array(self.code[self.code >= 0])),
        )
        orders = pa.table(
            {
                "order_id": order_id,
                "customer_id": self.customer_id(customers),
                "ordered_at": timestamps(self.seconds, period.start_epoch_seconds),
                "currency": pa.array([currency]).take(pa.array(np.zeros(n, dtype=np.int64))),
                "subtotal": money(self.subtotal),
                "discount_total": money(self.discount),
                "shipping_total": money(self.shipping),
                "tax_total": money(self.tax),
                "total": money(self.total),
                "status": pa.array(ORDER_STATUSES).take(pa.array(self.status)),
                "discount_codes": code_lists,
                "channel": pc.if_else(pa.array(self.channel_app), "app", "web"),
                "source_name": pa.array([_SOURCE]).take(pa.array(np.zeros(n, dtype=np.int64))),
            }
        )
        lines = self.lines
        product = pa.array(lines.product)
        unit = catalogue.price_cents[lines.product]
        order_lines = pa.table(
            {
                "order_id": order_id.take(pa.array(lines.basket)),
                "line_no": pa.array(lines.line_no.astype(np.int32)),
                "product_id": pa.array(catalogue.product_id).take(product),
                "sku": pa.array(catalogue.sku).take(product),
                "name": pa.array(catalogue.name).take(product),
                "category": pa.array(catalogue.category_names).take(product),
                "quantity": pa.array(lines.quantity),
                "unit_price": money(unit),
                "line_total": money(unit * lines.quantity),
            }
        )
        return {
            "orders": orders,
            "order_lines": order_lines,
            "refunds": self.refunds.table(
                order_id, self.first_refund_number, catalogue, period, currency
            ),
        }

    def csv_table(
        self, customers: CustomerBatch, catalogue: Catalogue, period: Period, currency: str
    ) -> pa.Table:
        """Return the chunk's rows of ``order_lines.csv`` (the generic order lines layout).

        Parameters
        ----------
        customers
            The chunk's customers.
        catalogue
            The catalogue.
        period
            The simulated period.
        currency
            The store's currency code.

        Returns
        -------
        pyarrow.Table
            Columns ``order_id, customer_id, ordered_at, product_id, quantity, unit_price,
            category, name, currency, status``; times as ISO 8601 with ``Z``.
        """
        lines = self.lines
        order = pa.array(lines.basket)
        product = pa.array(lines.product)
        ordered_at = pc.strftime(
            timestamps(self.seconds, period.start_epoch_seconds).cast(pa.timestamp("s", tz="UTC")),
            format="%Y-%m-%dT%H:%M:%SZ",
        )
        return pa.table(
            {
                "order_id": self.order_id.take(order),
                "customer_id": self.customer_id(customers).take(order),
                "ordered_at": ordered_at.take(order),
                "product_id": pa.array(catalogue.product_id).take(product),
                "quantity": pa.array(lines.quantity),
                "unit_price": money_text(catalogue.price_cents[lines.product]),
                "category": pa.array(catalogue.category_names).take(product),
                "name": pa.array(catalogue.name).take(product),
                "currency": pa.array([currency]).take(pa.array(np.zeros(lines.size, np.int64))),
                "status": pa.array(ORDER_STATUSES).take(pa.array(self.status)).take(order),
            }
        )


def _gaps(customer: IntArray, time: FloatArray) -> FloatArray:
    """Days since the same customer's previous purchase (inputs sorted by customer, time)."""
    gap = np.full(time.size, np.inf)
    same = customer[1:] == customer[:-1]
    gap[1:][same] = (time[1:] - time[:-1])[same]
    return gap


def build_orders(
    rng: np.random.Generator,
    *,
    customers: CustomerBatch,
    purchases: Purchases,
    catalogue: Catalogue,
    params: StoreParameters,
    period: Period,
    season: Seasonality,
    first_number: int,
    first_refund_number: int,
) -> OrderBatch:
    """Turn a chunk's purchases into orders, and add its guest and cancelled orders.

    Parameters
    ----------
    rng
        Random generator of the chunk's orders.
    customers
        The chunk's customers.
    purchases
        Their repeat purchases (only those in the observation period become orders).
    catalogue
        The catalogue.
    params
        Population parameters (shares of guests, codes, cancellations, refunds).
    period
        The simulated period.
    season
        The store's seasonality (guest orders follow it).
    first_number
        Global number of the chunk's first order.
    first_refund_number
        Global number of the chunk's first refund.

    Returns
    -------
    OrderBatch
        The chunk's orders, sorted by time.
    """
    n = customers.size
    end = float(period.observed_days)
    seen = purchases.time < end
    customer = np.concatenate((np.arange(n, dtype=np.int64), purchases.customer[seen]))
    time = np.concatenate((customers.first_time, purchases.time[seen]))
    order = np.lexsort((time, customer))
    customer, time = customer[order], time[order]
    gap = _gaps(customer, time)
    first = np.isinf(gap)

    n_guests = int(rng.poisson(params.guest_orders_per_customer * n))
    guest_time = season.arrival_times(rng.random(n_guests), end, params.acquisition_growth)
    guest_affinity = draw_affinity(rng, n_guests)
    guest_basket = rng.gamma(2.0, 0.3, size=n_guests)
    guest_country = np.searchsorted(
        np.cumsum([c[1] for c in COUNTRIES]), rng.random(n_guests) * sum(c[1] for c in COUNTRIES)
    )

    # Buyer of each purchase: customers first, then guests (rows of `affinity`).
    buyer = np.concatenate((customer, n + np.arange(n_guests, dtype=np.int64)))
    time = np.concatenate((time, guest_time))
    gap = np.concatenate((gap, np.full(n_guests, np.inf)))
    first = np.concatenate((first, np.zeros(n_guests, dtype=np.bool_)))
    cancel = rng.random(buyer.size) < params.cancel_rate
    cancel_time = time[cancel] + rng.uniform(5 / 1440, 0.25, size=int(cancel.sum()))
    keep = cancel_time < end
    buyer = np.concatenate((buyer, buyer[cancel][keep]))
    time = np.concatenate((time, cancel_time[keep]))
    gap = np.concatenate((gap, np.full(int(keep.sum()), np.inf)))
    first = np.concatenate((first, np.zeros(int(keep.sum()), dtype=np.bool_)))
    cancelled = np.arange(buyer.size) >= buyer.size - int(keep.sum())

    seconds = np.floor(time * 86400).astype(np.int64)
    order = np.lexsort((np.arange(buyer.size), seconds))
    buyer, seconds = buyer[order], seconds[order]
    time, gap = time[order], gap[order]
    first, cancelled = first[order], cancelled[order]
    is_guest = buyer >= n
    day = np.minimum(time.astype(np.int64), period.observed_days - 1)
    affinity = np.concatenate((customers.affinity, guest_affinity))
    basket_mean = np.concatenate((customers.basket_mean, guest_basket))[buyer]
    staple = np.where(is_guest | cancelled, -1, customers.staple[np.minimum(buyer, n - 1)])
    lines = draw_lines(
        rng,
        catalogue,
        affinity=affinity,
        owner=buyer,
        basket_mean=basket_mean,
        gift_season=season.gift_season,
        day=day,
        staple=staple,
        gap_days=gap,
    )
    del affinity

    n_orders = buyer.size
    offsets = lines.offsets(n_orders)
    unit_price = catalogue.price_cents[lines.product]
    line_value = unit_price * lines.quantity
    subtotal = np.add.reduceat(line_value, offsets[:-1]) if n_orders else np.zeros(0, np.int64)

    code = np.full(n_orders, -1, dtype=np.int64)
    welcome = first & (rng.random(n_orders) < params.welcome_code_share)
    code[welcome] = _WELCOME
    cyber = season.cyber_weekend[day]
    other = ~welcome & (
        rng.random(n_orders) < np.minimum(params.other_code_share * (1 + 4 * cyber), 1)
    )
    code[other] = np.where(
        cyber[other], _BFCM, rng.choice(np.array([1, 2, 3]), size=int(other.sum()))
    )
    percent = np.array([p for _, p in DISCOUNT_CODES])[np.maximum(code, 0)] * (code >= 0)
    discount = (subtotal * percent + 50) // 100
    net = subtotal - discount

    country = np.concatenate((customers.country, guest_country))[buyer]
    domestic = country == 0
    shipping = np.where(domestic, np.where(net < 5000, 595, 0), np.where(net < 10000, 1495, 0))
    shipping = np.where(code == _FREESHIP, 0, shipping)
    basis = np.zeros(len(COUNTRIES), dtype=np.int64)
    for k, (iso, _, _) in enumerate(COUNTRIES):
        basis[k] = _TAX_BASIS_POINTS.get(iso, 0)
    tax = (net * basis[country] + 5000) // 10000
    total = net + shipping + tax

    status = np.where(cancelled, CANCELLED, PAID).astype(np.int64)
    refunds = draw_refunds(
        rng,
        lines=lines,
        unit_price=unit_price,
        seconds=seconds,
        subtotal=subtotal,
        discount=discount,
        total=total,
        refundable=status == PAID,
        params=params,
        end=end,
    )
    status[refunds.order] = np.where(refunds.partial, PARTIALLY_REFUNDED, REFUNDED)

    guest = np.where(is_guest, buyer - n, -1)
    return OrderBatch(
        first_number=first_number,
        first_refund_number=first_refund_number,
        time=time,
        seconds=seconds,
        customer=np.where(is_guest, -1, buyer),
        guest=guest,
        n_guests=n_guests,
        status=status,
        code=code,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        tax=tax,
        total=total,
        channel_app=rng.random(n_orders) < 0.12,
        lines=lines,
        refunds=refunds,
    )
