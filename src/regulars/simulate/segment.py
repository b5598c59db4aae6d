"""Segment event rows (``events`` table) from planned sessions, with JSON properties.

Properties follow the Segment e-commerce spec v2: product fields (``product_id``, ``sku``,
``category``, ``name``, ``price``, ``quantity``), ``cart_id``, ``order_id``, ``value``,
``subtotal``, ``total``, ``revenue`` (after discounts, without shipping and tax), ``shipping``,
``tax``, ``discount``, ``coupon``, ``currency`` and ``products[]``. The JSON text is built with
vectorized string operations from per-product fragments, never row by row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from regulars.simulate.catalogue import Catalogue
from regulars.simulate.columns import concat, hex_ids, join_groups, money_text, timestamps
from regulars.simulate.customers import CustomerBatch
from regulars.simulate.events import (
    EVENT_TYPES,
    KEY_CART,
    KEY_CUSTOMER,
    KEY_EVENT,
    KEY_GUEST,
    KEY_VISITOR,
    SessionPlan,
)
from regulars.simulate.orders import DISCOUNT_CODES, OrderBatch
from regulars.simulate.parameters import Period

__all__ = ["OrderTexts", "ProductTexts", "identify_events", "session_events"]

IntArray = npt.NDArray[np.int64]

_MAX_QUANTITY = 10
_IDENTIFY, _VIEWED, _ADDED, _CART, _CHECKOUT, _COMPLETED = range(len(EVENT_TYPES))


@dataclass(frozen=True)
class ProductTexts:
    """Per-product JSON pieces, computed once per store.

    Parameters
    ----------
    viewed
        ``Product Viewed`` properties of each product.
    member
        Product fields and quantity without braces, at ``product * 10 + quantity``.
    item
        The same as JSON objects, for ``products[]``.
    """

    viewed: pa.Array
    member: pa.Array
    item: pa.Array

    @classmethod
    def build(cls, catalogue: Catalogue, currency: str) -> ProductTexts:
        """Build the pieces for a catalogue.

        Parameters
        ----------
        catalogue
            The catalogue.
        currency
            The store's currency code.

        Returns
        -------
        ProductTexts
            The pieces.
        """
        fields = catalogue.product_fields_json()
        prices = money_text(catalogue.price_cents).to_pylist()
        viewed = [
            f'{{{f},"currency":"{currency}","value":{p}}}'
            for f, p in zip(fields, prices, strict=True)
        ]
        member = [f'{f},"quantity":{q}' for f in fields for q in range(_MAX_QUANTITY)]
        return cls(
            viewed=pa.array(viewed),
            member=pa.array(member),
            item=pa.array([f"{{{m}}}" for m in member]),
        )


@dataclass(frozen=True)
class OrderTexts:
    """Per-order text pieces of a chunk: id, amounts and coupon.

    Parameters
    ----------
    order_id
        Order ids.
    net, total, shipping, tax, discount
        Amounts as JSON numbers (``net`` is the subtotal after discounts).
    coupon
        ``"coupon":"CODE",`` or an empty string.
    """

    order_id: pa.Array
    net: pa.Array
    total: pa.Array
    shipping: pa.Array
    tax: pa.Array
    discount: pa.Array
    coupon: pa.Array

    @classmethod
    def build(cls, orders: OrderBatch) -> OrderTexts:
        """Build the pieces for a chunk's orders.

        Parameters
        ----------
        orders
            The chunk's orders.

        Returns
        -------
        OrderTexts
            The pieces.
        """
        coupons = pa.array([""] + [f'"coupon":"{code}",' for code, _ in DISCOUNT_CODES])
        return cls(
            order_id=orders.order_id,
            net=money_text(orders.subtotal - orders.discount),
            total=money_text(orders.total),
            shipping=money_text(orders.shipping),
            tax=money_text(orders.tax),
            discount=money_text(orders.discount),
            coupon=coupons.take(pa.array(orders.code + 1)),
        )


def _take(array: pa.Array, index: IntArray) -> pa.Array:
    return array.take(pa.array(index))


def session_events(
    plan: SessionPlan,
    sessions: range,
    *,
    products: ProductTexts,
    orders: OrderTexts,
    customers: CustomerBatch,
    catalogue: Catalogue,
    period: Period,
    currency: str,
    first_session_number: int,
    first_guest_number: int,
    first_visitor_number: int,
    first_event_number: int,
) -> pa.Table:
    """Return the events of a run of planned sessions, sorted by time.

    Parameters
    ----------
    plan
        The chunk's sessions.
    sessions
        The run of sessions to turn into events (a contiguous range).
    products
        Per-product JSON pieces.
    orders
        Per-order text pieces of the chunk.
    customers
        The chunk's customers.
    catalogue
        The catalogue.
    period
        The simulated period.
    currency
        The store's currency code.
    first_session_number
        Global number of the chunk's first session (cart ids).
    first_guest_number
        Global number of the chunk's first guest (anonymous ids).
    first_visitor_number
        Global number of the chunk's first visitor (anonymous ids).
    first_event_number
        Global number of the first event returned (event ids).

    Returns
    -------
    pyarrow.Table
        Columns ``event_id, type, customer_id, anonymous_id, occurred_at, properties``.
    """
    lo, hi = sessions.start, sessions.stop
    ilo, ihi = np.searchsorted(plan.item_session, [lo, hi])
    s_index = np.arange(lo, hi, dtype=np.int64)
    item_session = plan.item_session[ilo:ihi] - lo
    product = plan.item_product[ilo:ihi]
    quantity = plan.item_quantity[ilo:ihi]
    added = plan.item_added[ilo:ihi]
    stage = plan.stage[lo:hi]
    order = plan.order[lo:hi]

    cart = hex_ids(first_session_number + s_index, KEY_CART)
    key = product * _MAX_QUANTITY + quantity
    added_items = np.flatnonzero(added)
    per_session = np.bincount(item_session[added_items], minlength=hi - lo)
    cart_products = join_groups(
        _take(products.item, key[added_items]),
        np.concatenate(([0], np.cumsum(per_session))),
        ",",
    )
    cart_value = np.bincount(
        item_session[added_items],
        weights=(catalogue.price_cents[product] * quantity)[added_items],
        minlength=hi - lo,
    ).astype(np.int64)

    parts: list[tuple[IntArray, IntArray, int, pa.Array]] = []  # session, seconds, type, props
    parts.append(
        (item_session, plan.view_seconds[ilo:ihi], _VIEWED, _take(products.viewed, product))
    )
    a_cart = _take(cart, item_session[added_items])
    props = concat('{"cart_id":"', a_cart, '",', _take(products.member, key[added_items]), "}")
    parts.append((item_session[added_items], plan.add_seconds[ilo:ihi][added_items], _ADDED, props))

    s = np.flatnonzero(stage >= 2)
    props = concat('{"cart_id":"', _take(cart, s), '","products":[', _take(cart_products, s), "]}")
    parts.append((s, plan.cart_seconds[lo:hi][s], _CART, props))

    s = np.flatnonzero((stage >= 3) & (order < 0))
    value = _take(money_text(cart_value), s)
    props = concat(
        '{"cart_id":"', _take(cart, s), '","value":', value, ',"revenue":', value,
        f',"currency":"{currency}","products":[', _take(cart_products, s), "]}",
    )  # fmt: skip
    parts.append((s, plan.checkout_seconds[lo:hi][s], _CHECKOUT, props))

    s = np.flatnonzero(order >= 0)
    o = order[s]
    net = _take(orders.net, o)
    common = concat(
        ',"revenue":', net, ',"shipping":', _take(orders.shipping, o), ',"tax":',
        _take(orders.tax, o), ',"discount":', _take(orders.discount, o), ",",
        _take(orders.coupon, o), f'"currency":"{currency}","products":[',
        _take(cart_products, s), "]}",
    )  # fmt: skip
    head = concat('{"order_id":"', _take(orders.order_id, o), '","cart_id":"', _take(cart, s))
    checkout = concat(head, '","value":', net, common)
    parts.append((s, plan.checkout_seconds[lo:hi][s], _CHECKOUT, checkout))
    completed = concat(head, '","subtotal":', net, ',"total":', _take(orders.total, o), common)
    parts.append((s, plan.completed_seconds[lo:hi][s], _COMPLETED, completed))

    session = np.concatenate([p[0] for p in parts])
    seconds = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(p[0].size, p[2], dtype=np.int64) for p in parts])
    properties = pa.concat_arrays([p[3] for p in parts])
    rank = np.lexsort((kind, seconds))
    session, seconds, kind = session[rank], seconds[rank], kind[rank]

    owner_kind = plan.kind[lo:hi][session]
    owner = plan.owner[lo:hi][session]
    anonymous_number = owner + np.select(
        [owner_kind == 0, owner_kind == 1],
        [customers.first_index, first_guest_number],
        first_visitor_number,
    )
    anonymous_key = np.select(
        [owner_kind == 0, owner_kind == 1], [KEY_CUSTOMER, KEY_GUEST], KEY_VISITOR
    )
    is_customer = owner_kind == 0
    index = np.where(is_customer, owner, 0)
    known = is_customer & (seconds >= customers.created_seconds[index])
    return pa.table(
        {
            "event_id": hex_ids(first_event_number + np.arange(seconds.size), KEY_EVENT),
            "type": _take(pa.array(EVENT_TYPES), kind),
            "customer_id": customers.customer_id.take(pa.array(index, mask=~known)),
            "anonymous_id": hex_ids(anonymous_number, anonymous_key),
            "occurred_at": timestamps(seconds, period.start_epoch_seconds),
            "properties": properties.take(pa.array(rank)),
        }
    )


def identify_events(customers: CustomerBatch, period: Period, first_event_number: int) -> pa.Table:
    """Return the ``identify`` call of each customer, when their account is created.

    Parameters
    ----------
    customers
        The chunk's customers.
    period
        The simulated period.
    first_event_number
        Global number of the first event returned (event ids).

    Returns
    -------
    pyarrow.Table
        One event per customer; the traits are email, first name, country, city, created_at.
    """
    table = customers.table
    n = customers.size
    email = table.column("email").combine_chunks()
    email_json = pc.if_else(pc.is_null(email), "null", concat('"', email, '"'))
    created = pc.strftime(
        table.column("created_at").combine_chunks().cast(pa.timestamp("s", tz="UTC")),
        format="%Y-%m-%dT%H:%M:%SZ",
    )
    traits = concat(
        '{"email":', email_json,
        ',"first_name":"', table.column("first_name").combine_chunks(),
        '","country":"', table.column("country").combine_chunks(),
        '","city":"', table.column("city").combine_chunks(),
        '","created_at":"', created, '"}',
    )  # fmt: skip
    number = customers.first_index + np.arange(n, dtype=np.int64)
    return pa.table(
        {
            "event_id": hex_ids(first_event_number + np.arange(n, dtype=np.int64), KEY_EVENT),
            "type": pa.array(["identify"] * n, type=pa.string()),
            "customer_id": customers.customer_id,
            "anonymous_id": hex_ids(number, KEY_CUSTOMER),
            "occurred_at": table.column("created_at").combine_chunks(),
            "properties": traits,
        }
    )
