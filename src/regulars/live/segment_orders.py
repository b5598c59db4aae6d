"""Segment e-commerce order events (spec v2) as orders and refunds of the store.

The same mapping as the file importer (:mod:`regulars.importers.segment_events`), applied
to the live store one message at a time:

``Order Completed`` and ``Order Updated``
    Upsert the order ``properties.order_id`` (required). ``properties.products[]`` gives
    the lines: ``product_id`` (else ``id``, else ``sku``), ``sku``, ``name``, ``category``,
    ``price`` (the unit price, required) and ``quantity`` (a whole number >= 1, default 1);
    ``line_total`` = price x quantity. Money is numbers or numeric text, converted to minor
    units of the currency (rounded half-even below the minor unit).

    The spec's ``subtotal`` is after discounts and ``revenue`` excludes shipping and tax;
    the store's ``subtotal`` is *before* discounts, so it is the sum of the lines, else
    ``revenue``, else ``subtotal + discount``, else ``total - shipping - tax + discount``.
    ``discount``, ``shipping`` and ``tax`` give the other totals (0 when absent; a
    negative discount is read as its size); ``total`` is ``total``, else
    subtotal - discount + shipping + tax. ``coupon`` (split on commas) gives the discount
    codes, ``affiliation`` the channel.

    ``currency`` is required for an order the store does not hold yet: regulars never
    guesses a currency (a wrong USD default would silently mis-value every order of a
    EUR shop). For an order it holds, every absent field keeps its stored value (lines,
    amounts, currency, codes). The order belongs to the customer of the event (its
    ``userId``, email or known ``anonymousId``) unless the store already ties it to one:
    a guest order is claimed, an owned (or erased) one keeps its owner. ``ordered_at`` is
    the timestamp of the ``Order Completed`` event (an ``Order Updated`` keeps the stored
    one). An update never reverts a cancelled or refunded order to paid.
``Order Cancelled``
    Sets the stored order's status to ``cancelled``, keeping its lines and amounts. An
    order the store does not hold is created cancelled from the event's properties when
    they describe it (products or amounts, and a currency), else refused.
``Order Refunded``
    Upserts a refund of a stored order (an unknown order is refused): ``refund_id`` is
    ``properties.refund_id``, else the ``messageId`` (a hash of it beyond 100 characters),
    so a replayed refund never counts twice; the amount is ``total``, else ``revenue``,
    else the sum of ``products[]``, else the order's total (the spec's full refund carries
    only ``order_id``). The order becomes ``refunded`` when its refunds reach its total,
    else ``partially_refunded`` (a cancelled order stays cancelled).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from regulars.errors import InputError
from regulars.live._fields import amount, at, mapping, minor, quantity, text
from regulars.store import Order, OrderLine, Refund, UnitOfWork
from regulars.store.types import check_currency

__all__ = [
    "ORDER_CANCELLED",
    "ORDER_COMPLETED",
    "ORDER_EVENTS",
    "ORDER_REFUNDED",
    "ORDER_UPDATED",
    "OrderChange",
    "ProductItem",
    "apply_order_event",
    "order_event",
    "order_id_of",
    "parse_order_event",
]

ORDER_COMPLETED = "Order Completed"
ORDER_UPDATED = "Order Updated"
ORDER_CANCELLED = "Order Cancelled"
ORDER_REFUNDED = "Order Refunded"
ORDER_EVENTS = (ORDER_COMPLETED, ORDER_UPDATED, ORDER_CANCELLED, ORDER_REFUNDED)
"""The track events that change an order; every other event is stored as an event only."""

SOURCE_NAME = "segment"
"""``orders.source_name`` of the orders written from Segment events."""

_AMOUNTS = ("total", "subtotal", "revenue", "discount", "shipping", "tax")
_BY_NAME = {name.lower(): name for name in ORDER_EVENTS}


@dataclass(frozen=True)
class ProductItem:
    """One item of ``properties.products[]``; ``price`` in major units (``None``: absent)."""

    product_id: str
    quantity: int
    price: Decimal | None
    sku: str | None = None
    name: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class OrderChange:
    """An order event, validated; money still in major units (the currency may be stored)."""

    event: str
    order_id: str
    path: str
    currency: str | None = None
    products: tuple[ProductItem, ...] | None = None
    """``None``: the event has no ``products`` (an update keeps the stored lines)."""
    amounts: Mapping[str, Decimal] | None = None
    """The amounts present among total, subtotal, revenue, discount, shipping, tax."""
    coupons: tuple[str, ...] | None = None
    affiliation: str | None = None
    refund_id: str | None = None
    reason: str | None = None

    def describes_order(self) -> bool:
        """Whether the event carries enough to create the order (products or an amount)."""
        return bool(self.products) or bool(self.amounts)


def order_event(name: str | None) -> str | None:
    """Return the spec's name of an order event (``order completed`` matches), else ``None``."""
    return None if name is None else _BY_NAME.get(" ".join(name.split()).lower())


def order_id_of(message: Mapping[str, Any]) -> str | None:
    """Return the ``properties.order_id`` of an order event as stored, else ``None`` (lenient)."""
    kind = message.get("type") or "track"
    if not isinstance(kind, str) or kind.strip().lower() != "track":
        return None
    if not isinstance(message.get("event"), str) or order_event(message["event"]) is None:
        return None
    properties = message.get("properties")
    if not isinstance(properties, Mapping):
        return None
    try:
        return text(properties.get("order_id"), "properties.order_id", max_length=100)
    except InputError:
        return None


def parse_order_event(
    event: str, properties: Mapping[str, Any], *, message_id: str, path: str = "properties"
) -> OrderChange:
    """Validate the properties of an order event, without the store.

    Parameters
    ----------
    event
        One of :data:`ORDER_EVENTS`.
    properties
        The message's ``properties`` (spec fields ``order_id``, ``products``, ``total``,
        ``subtotal``, ``revenue``, ``discount``, ``shipping``, ``tax``, ``coupon``,
        ``currency``, ``affiliation``; for refunds also ``refund_id`` and ``reason``).
    message_id
        The ``messageId``: the refund id when ``properties.refund_id`` is absent.
    path
        Where ``properties`` is in the message (errors name ``path.field``).

    Raises
    ------
    InputError
        If ``order_id`` is missing, a product has no id (or no price, in an order), an
        amount is not a non-negative number, a quantity is not a whole number >= 1, or the
        currency is not an ISO 4217 code; ``column`` names the field.
    """
    order_id = text(properties.get("order_id"), f"{path}.order_id", max_length=100)
    if order_id is None:
        raise InputError(
            f"The {event} event has no order_id.",
            column=f"{path}.order_id",
            expected="the shop's order id in properties.order_id",
            fix="Add properties.order_id to the event.",
        )
    currency = None
    if text(properties.get("currency"), f"{path}.currency") is not None:
        with at(f"{path}.currency"):
            currency = check_currency(properties["currency"])
    amounts: dict[str, Decimal] = {}
    for key in _AMOUNTS:
        value = amount(properties.get(key), f"{path}.{key}", signed=key == "discount")
        if value is not None:
            amounts[key] = abs(value)
    coupon = text(properties.get("coupon"), f"{path}.coupon", max_length=1000)
    refund = event == ORDER_REFUNDED
    refund_id = text(properties.get("refund_id"), f"{path}.refund_id", max_length=100)
    if refund and refund_id is None:
        refund_id = message_id
        if len(message_id) > 100:
            refund_id = "msg-" + hashlib.sha256(message_id.encode()).hexdigest()[:40]
    return OrderChange(
        event=event,
        order_id=order_id,
        path=path,
        currency=currency,
        products=_products(properties.get("products"), f"{path}.products", price=not refund),
        amounts=amounts,
        coupons=None
        if coupon is None
        else tuple(c.strip() for c in coupon.split(",") if c.strip()),
        affiliation=text(properties.get("affiliation"), f"{path}.affiliation", max_length=50),
        refund_id=refund_id if refund else None,
        reason=text(properties.get("reason"), f"{path}.reason", max_length=500),
    )


def _products(value: Any, path: str, *, price: bool) -> tuple[ProductItem, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise InputError(
            f"{path} is not a list.", column=path, value=value, expected="a list of products"
        )
    items = []
    for index, raw in enumerate(value):
        where = f"{path}[{index}]"
        item = mapping(raw, where)
        product_id = next(
            (
                found
                for key in ("product_id", "id", "sku")
                if (found := text(item.get(key), f"{where}.{key}", max_length=100))
            ),
            None,
        )
        if product_id is None:
            raise InputError(
                f"{where} has no product_id.",
                column=f"{where}.product_id",
                expected="product_id (or sku) on every product",
                fix="Add the product's id to it.",
            )
        unit_price = amount(item.get("price"), f"{where}.price")
        if unit_price is None and price:
            raise InputError(
                f"{where} has no price.",
                column=f"{where}.price",
                expected="the unit price, e.g. 19.99",
                fix="Add the price paid for one unit of the product.",
            )
        items.append(
            ProductItem(
                product_id=product_id,
                quantity=quantity(item.get("quantity"), f"{where}.quantity"),
                price=unit_price,
                sku=text(item.get("sku"), f"{where}.sku", max_length=100),
                name=text(item.get("name"), f"{where}.name", max_length=500),
                category=text(item.get("category"), f"{where}.category", max_length=200),
            )
        )
    return tuple(items)


def apply_order_event(
    uow: UnitOfWork, change: OrderChange, *, customer_id: str | None, at: datetime
) -> str:
    """Write what an order event says into the store; return the order id.

    Parameters
    ----------
    uow
        The caller's unit of work (nothing is committed here).
    change
        The event, from :func:`parse_order_event`.
    customer_id
        The customer the event belongs to (``None``: a guest; a stored customer is kept).
    at
        The event's time: ``ordered_at`` of a completed order, ``refunded_at`` of a refund.

    Raises
    ------
    InputError
        If a new order has no currency or no products nor amounts, the amounts do not add up
        to non-negative totals, or a refund's order is unknown or in another currency.
    """
    stored = uow.orders.get(change.order_id)
    if change.event == ORDER_REFUNDED:
        _refund(uow, change, stored, at)
    elif change.event == ORDER_CANCELLED and stored is not None:
        owner = stored.customer_id or customer_id
        uow.orders.upsert(replace(stored, status="cancelled", customer_id=owner))
    elif change.event == ORDER_CANCELLED and not change.describes_order():
        raise _unknown_order(change, "cancelled")
    else:
        uow.orders.upsert(_order(change, stored, customer_id, at))
    return change.order_id


def _unknown_order(change: OrderChange, what: str) -> InputError:
    return InputError(
        f"Order {change.order_id} is not in the store, so it cannot be {what}.",
        column=f"{change.path}.order_id",
        value=change.order_id,
        expected="the order_id of an order sent before (Order Completed) or imported",
        fix="Send the Order Completed event of this order first, then this one.",
    )


def _order(
    change: OrderChange, stored: Order | None, customer_id: str | None, at: datetime
) -> Order:
    path = change.path
    currency = change.currency or (stored.currency if stored else None)
    if currency is None:
        raise InputError(
            f"Order {change.order_id} has no currency.",
            column=f"{path}.currency",
            expected="an ISO 4217 code such as 'USD' or 'EUR'",
            fix="Send properties.currency with the order (regulars never guesses a currency).",
        )
    given = {k: minor(v, currency, f"{path}.{k}") for k, v in (change.amounts or {}).items()}
    if change.products is not None:
        lines = tuple(_line(n, p, currency, path) for n, p in enumerate(change.products, 1))
    else:
        lines = stored.lines if stored else ()
    kept = {
        "discount": stored.discount_total if stored else 0,
        "shipping": stored.shipping_total if stored else 0,
        "tax": stored.tax_total if stored else 0,
    }
    discount, shipping, tax = (given.get(k, kept[k]) for k in ("discount", "shipping", "tax"))
    if lines:
        subtotal = sum(line.line_total for line in lines)
    elif "revenue" in given:
        subtotal = given["revenue"]
    elif "subtotal" in given:
        subtotal = given["subtotal"] + discount
    elif "total" in given:
        subtotal = given["total"] - shipping - tax + discount
    elif stored is not None:
        subtotal = stored.subtotal
    else:
        raise InputError(
            f"Order {change.order_id} has no products and no amount.",
            column=f"{path}.products",
            expected="products[] with prices, or total / revenue / subtotal",
            fix="Send the order's products (or at least its total).",
        )
    total = given.get("total", subtotal - discount + shipping + tax)
    if subtotal < 0 or total < 0:
        raise InputError(
            f"The amounts of order {change.order_id} do not add up to a positive total.",
            column=f"{path}.{'discount' if 'total' not in given else 'total'}",
            value={k: str(v) for k, v in (change.amounts or {}).items()},
            expected="total = subtotal - discount + shipping + tax, and none negative",
        )
    if stored is not None and stored.status != "paid":
        status = stored.status  # an update never reverts a cancellation or a refund
    else:
        status = "cancelled" if change.event == ORDER_CANCELLED else "paid"
    keep_date = stored is not None and change.event != ORDER_COMPLETED
    return Order(
        order_id=change.order_id,
        customer_id=(stored.customer_id if stored else None) or customer_id,
        ordered_at=stored.ordered_at if stored is not None and keep_date else at,
        currency=currency,
        subtotal=subtotal,
        total=total,
        discount_total=discount,
        shipping_total=shipping,
        tax_total=tax,
        status=status,
        lines=lines,
        discount_codes=(
            change.coupons
            if change.coupons is not None
            else (stored.discount_codes if stored else ())
        ),
        channel=change.affiliation or (stored.channel if stored else None),
        source_name=stored.source_name if stored and stored.source_name else SOURCE_NAME,
    )


def _line(line_no: int, item: ProductItem, currency: str, path: str) -> OrderLine:
    where = f"{path}.products[{line_no - 1}].price"
    assert item.price is not None, "order products are parsed with a required price"
    return OrderLine(
        line_no=line_no,
        product_id=item.product_id,
        quantity=item.quantity,
        unit_price=minor(item.price, currency, where),
        line_total=minor(item.price * item.quantity, currency, where),
        sku=item.sku,
        name=item.name,
        category=item.category,
    )


def _refund(uow: UnitOfWork, change: OrderChange, stored: Order | None, at: datetime) -> None:
    if stored is None:
        raise _unknown_order(change, "refunded")
    if change.currency is not None and change.currency != stored.currency:
        raise InputError(
            f"The refund is in {change.currency}; order {stored.order_id} is in {stored.currency}.",
            column=f"{change.path}.currency",
            value=change.currency,
            expected=stored.currency,
            fix="Send the refund in the order's currency.",
        )
    currency = stored.currency
    amounts = change.amounts or {}
    items = change.products or ()
    paid = [
        None
        if item.price is None
        else minor(item.price * item.quantity, currency, f"{change.path}.products[{n}].price")
        for n, item in enumerate(items)
    ]
    lines = [
        {"product_id": item.product_id, "quantity": item.quantity, "amount": line_amount}
        for item, line_amount in zip(items, paid, strict=True)
    ]
    key = next((k for k in ("total", "revenue") if k in amounts), None)
    if key is not None:
        refunded = minor(amounts[key], currency, f"{change.path}.{key}")
    elif paid and all(a is not None for a in paid):
        refunded = sum(a for a in paid if a is not None)
    else:
        refunded = stored.total  # the spec's full refund: only the order_id
    assert change.refund_id is not None, "refund events are parsed with a refund id"
    uow.orders.upsert_refund(
        Refund(
            refund_id=change.refund_id,
            order_id=stored.order_id,
            refunded_at=at,
            amount=refunded,
            currency=currency,
            reason=change.reason,
            lines=tuple(lines),
        )
    )
    if stored.status == "cancelled":
        return
    paid_back = sum(r.amount for r in uow.orders.refunds(stored.order_id))
    status = "refunded" if paid_back >= stored.total else "partially_refunded"
    if status != stored.status:
        uow.orders.upsert(replace(stored, status=status))
