"""Segment e-commerce v2 order events as orders and refunds of the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from regulars.errors import InputError
from regulars.live import ingest
from regulars.live.segment_orders import order_event, order_id_of
from regulars.store import Database, OrderLine

T0 = "2024-05-01T12:00:00Z"
T1 = "2024-05-03T09:30:00Z"

# The example of the Segment spec (Order Completed), in USD.
SPEC_EXAMPLE: dict[str, Any] = {
    "checkout_id": "fksdjfsdjfisjf9sdfjsd9f",
    "order_id": "50314b8e9bcf000000000000",
    "affiliation": "Google Store",
    "total": 27.50,
    "subtotal": 22.50,
    "revenue": 25.00,
    "shipping": 3,
    "tax": 2,
    "discount": 2.5,
    "coupon": "hasbros",
    "currency": "USD",
    "products": [
        {"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "name": "Monopoly",
         "price": 19, "quantity": 1, "category": "Games"},
        {"product_id": "505bd76785ebb509fc183733", "sku": "46493-32", "name": "Uno",
         "price": 3, "quantity": 2, "category": "Games"},
    ],
}  # fmt: skip


def order_message(
    n: int | str, event: str, properties: dict[str, Any], *, at: str = T0, **extra: Any
) -> dict[str, Any]:
    return {
        "messageId": f"m-{n}",
        "type": "track",
        "event": event,
        "userId": "shop-1",
        "timestamp": at,
        "properties": properties,
        **extra,
    }


def test_order_completed_maps_the_spec_example(database: Database) -> None:
    with database.unit_of_work() as uow:
        result = ingest(uow, order_message(1, "Order Completed", SPEC_EXAMPLE))
        assert result.order_id == SPEC_EXAMPLE["order_id"] and result.created
        order = uow.orders.require(SPEC_EXAMPLE["order_id"])
    assert order.customer_id == result.customer_id is not None
    assert order.currency == "USD" and order.status == "paid"
    assert order.ordered_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    # the store's subtotal is before discounts: the lines (19 + 2 x 3 = 25 = the revenue)
    assert (order.subtotal, order.discount_total, order.shipping_total) == (2500, 250, 300)
    assert (order.tax_total, order.total) == (200, 2750)
    assert order.discount_codes == ("hasbros",) and order.channel == "Google Store"
    assert order.source_name == "segment"
    assert order.lines == (
        OrderLine(1, "507f1f77bcf86cd799439011", 1, 1900, 1900, "45790-32", "Monopoly", "Games"),
        OrderLine(2, "505bd76785ebb509fc183733", 2, 300, 600, "46493-32", "Uno", "Games"),
    )


@pytest.mark.parametrize(
    ("properties", "subtotal", "total"),
    [
        ({"revenue": "25.00", "shipping": 3, "tax": 2, "discount": 2.5}, 2500, 2750),
        ({"subtotal": 22.5, "discount": -2.5}, 2500, 2250),  # a negative discount: its size
        ({"total": 27.5, "shipping": 3, "tax": 2, "discount": 2.5}, 2500, 2750),
        ({"products": [{"sku": "a", "price": "0.333", "quantity": "3"}]}, 100, 100),
        ({"products": [{"id": 7, "price": 1.1}], "total": 1}, 110, 100),  # total as sent
    ],
)
def test_missing_totals_are_computed_from_what_is_there(
    database: Database, properties: dict[str, Any], subtotal: int, total: int
) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, order_message(1, "Order Completed", {"order_id": "o", "currency": "EUR",
                                                         **properties}))  # fmt: skip
        order = uow.orders.require("o")
    assert (order.subtotal, order.total) == (subtotal, total)


def test_minor_units_follow_the_currency(database: Database) -> None:
    with database.unit_of_work() as uow:
        props = {"order_id": "j", "currency": "jpy", "products": [{"sku": "tea", "price": 1500}]}
        ingest(uow, order_message(1, "Order Completed", props))
        order = uow.orders.require("j")
    assert order.currency == "JPY" and order.total == 1500 and order.lines[0].quantity == 1
    assert order.lines[0].product_id == "tea" and order.lines[0].sku == "tea"


def test_order_updated_keeps_what_it_does_not_say(database: Database) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, order_message(1, "Order Completed", SPEC_EXAMPLE))
        first = uow.orders.require(SPEC_EXAMPLE["order_id"])
        update = {"order_id": SPEC_EXAMPLE["order_id"], "shipping": 5, "coupon": "a, b"}
        result = ingest(uow, order_message(2, "Order Updated", update, at=T1))
        assert result.order_id == SPEC_EXAMPLE["order_id"]
        order = uow.orders.require(SPEC_EXAMPLE["order_id"])
        assert order.lines == first.lines and order.currency == "USD"
        assert order.ordered_at == first.ordered_at  # an update is not when it was ordered
        assert (order.shipping_total, order.total) == (500, 2500 - 250 + 500 + 200)
        assert order.discount_codes == ("a", "b") and order.customer_id == first.customer_id
        products = {"order_id": "new", "currency": "EUR", "products": [{"sku": "x", "price": 2}]}
        ingest(uow, order_message(3, "Order Updated", products, at=T1))  # unknown: created
        assert uow.orders.require("new").total == 200
        assert len(uow.orders.all()) == 2


def test_order_cancelled_keeps_the_lines_and_stays_cancelled(database: Database) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, order_message(1, "Order Completed", SPEC_EXAMPLE))
        before = uow.orders.require(SPEC_EXAMPLE["order_id"])
        ingest(uow, order_message(2, "Order Cancelled", {"order_id": SPEC_EXAMPLE["order_id"]}))
        after = uow.orders.require(SPEC_EXAMPLE["order_id"])
        assert after.status == "cancelled" and after.lines == before.lines
        assert after.total == before.total
        ingest(uow, order_message(3, "Order Updated", {**SPEC_EXAMPLE, "tax": 0}))
        assert uow.orders.require(SPEC_EXAMPLE["order_id"]).status == "cancelled"
        with pytest.raises(InputError) as caught:
            ingest(uow, order_message(4, "Order Cancelled", {"order_id": "ghost"}))
        assert caught.value.column == "properties.order_id"
        described = {"order_id": "ghost", "currency": "EUR", "total": 10}
        ingest(uow, order_message(5, "order cancelled", described))  # described: created
        assert uow.orders.require("ghost").status == "cancelled"


def test_refunds_partial_then_full(database: Database) -> None:
    order_id = SPEC_EXAMPLE["order_id"]
    with database.unit_of_work() as uow:
        ingest(uow, order_message(1, "Order Completed", SPEC_EXAMPLE))
        partial = {"order_id": order_id, "products": [{"product_id": "505bd", "price": 3}],
                   "reason": "broken"}  # fmt: skip
        first = ingest(uow, order_message(2, "Order Refunded", partial, at=T1))
        assert first.order_id == order_id
        (refund,) = uow.orders.refunds(order_id)
        assert (refund.refund_id, refund.amount, refund.currency) == ("m-2", 300, "USD")
        assert refund.reason == "broken" and refund.refunded_at == datetime(2024, 5, 3, 9, 30,
                                                                            tzinfo=UTC)  # fmt: skip
        assert list(refund.lines) == [{"product_id": "505bd", "quantity": 1, "amount": 300}]
        assert uow.orders.require(order_id).status == "partially_refunded"
        replay = ingest(uow, order_message(2, "Order Refunded", partial, at=T1))
        assert not replay.created and len(uow.orders.refunds(order_id)) == 1
        ingest(uow, order_message(3, "Order Refunded", {"order_id": order_id}))  # the rest
        amounts = [r.amount for r in uow.orders.refunds(order_id)]
        assert sorted(amounts) == [300, 2750]
        assert uow.orders.require(order_id).status == "refunded"
        again = {"order_id": order_id, "refund_id": "r-9", "total": "1.00", "currency": "usd"}
        ingest(uow, order_message(4, "Order Refunded", again))
        assert "r-9" in {r.refund_id for r in uow.orders.refunds(order_id)}
        long_id = "x" * 150
        ingest(uow, {**order_message(5, "Order Refunded", {"order_id": order_id, "total": 1}),
                     "messageId": long_id})  # fmt: skip
        derived = {r.refund_id for r in uow.orders.refunds(order_id)} - {"m-2", "m-3", "r-9"}
        (refund_id,) = derived
        assert refund_id.startswith("msg-") and len(refund_id) <= 100


def test_refund_errors_name_the_field(database: Database) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, order_message(1, "Order Completed", SPEC_EXAMPLE))
        for n, (properties, column) in enumerate(
            [
                ({"order_id": "nope"}, "properties.order_id"),
                ({"order_id": SPEC_EXAMPLE["order_id"], "currency": "EUR"}, "properties.currency"),
                ({"order_id": SPEC_EXAMPLE["order_id"], "total": -1}, "properties.total"),
            ]
        ):
            with pytest.raises(InputError) as caught:
                ingest(uow, order_message(10 + n, "Order Refunded", properties))
            assert caught.value.column == column
        assert uow.orders.refunds(SPEC_EXAMPLE["order_id"]) == []


def _product(**fields: Any) -> dict[str, Any]:
    return {"order_id": "o", "currency": "EUR", "products": [{"sku": "a", "price": 1}, fields]}


@pytest.mark.parametrize(
    ("properties", "column"),
    [
        ({"currency": "EUR"}, "properties.order_id"),
        ({"order_id": "o", "total": 10}, "properties.currency"),
        ({"order_id": "o", "currency": "euro", "total": 10}, "properties.currency"),
        ({"order_id": "o", "currency": "EUR"}, "properties.products"),
        ({"order_id": "o", "currency": "EUR", "products": {"sku": "a"}}, "properties.products"),
        (_product(price=-1, sku="b"), "properties.products[1].price"),
        (_product(price="1,5", sku="b"), "properties.products[1].price"),
        (_product(price=True, sku="b"), "properties.products[1].price"),
        (_product(sku="b"), "properties.products[1].price"),
        (_product(price=1), "properties.products[1].product_id"),
        (_product(price=1, sku="b", quantity=0), "properties.products[1].quantity"),
        (_product(price=1, sku="b", quantity=1.5), "properties.products[1].quantity"),
        (_product(price=1, sku="b", quantity=True), "properties.products[1].quantity"),
        ({"order_id": "o", "currency": "EUR", "products": ["mug"]}, "properties.products[0]"),
        ({"order_id": "o", "currency": "EUR", "total": False}, "properties.total"),
        ({"order_id": "o", "currency": "EUR", "shipping": -3, "total": 1}, "properties.shipping"),
        ({"order_id": "o", "currency": "EUR", "tax": "1e20"}, "properties.tax"),
        ({"order_id": "o", "currency": "EUR", "revenue": 1, "discount": 5}, "properties.discount"),
        ({"order_id": ["o"], "currency": "EUR", "total": 1}, "properties.order_id"),
    ],
)
def test_invalid_orders_name_the_field(
    database: Database, properties: dict[str, Any], column: str
) -> None:
    with database.unit_of_work() as uow:
        with pytest.raises(InputError) as caught:
            ingest(uow, order_message(1, "Order Completed", properties))
        assert caught.value.column == column
        assert uow.orders.all() == [] and uow.events.count() == 0


def test_event_names_and_order_ids_of_stored_messages() -> None:
    assert order_event("order  completed") == "Order Completed"
    assert order_event("Product Viewed") is None and order_event(None) is None
    message = order_message(1, "Order Refunded", {"order_id": 42})
    assert order_id_of(message) == "42"
    assert order_id_of({**message, "type": "identify"}) is None
    assert order_id_of({**message, "properties": "x"}) is None
    assert order_id_of({"erased": True}) is None


def test_a_guest_order_is_claimed_and_an_owned_one_keeps_its_owner(database: Database) -> None:
    guest = {**order_message(1, "Order Completed", SPEC_EXAMPLE), "userId": None}
    with database.unit_of_work() as uow:
        assert ingest(uow, guest).customer_id is None
        update = {"order_id": SPEC_EXAMPLE["order_id"]}
        claimed = ingest(uow, order_message(2, "Order Updated", update))
        assert uow.orders.require(SPEC_EXAMPLE["order_id"]).customer_id == claimed.customer_id
        other = ingest(uow, order_message(3, "Order Updated", update, userId="shop-2"))
        assert other.customer_id not in (None, claimed.customer_id)
        assert uow.orders.require(SPEC_EXAMPLE["order_id"]).customer_id == claimed.customer_id
