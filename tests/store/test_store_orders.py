"""Orders, lines and refunds: integer minor units, upserts by the shop's ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from regulars.errors import InputError
from regulars.store import (
    ConflictError,
    Database,
    NotFoundError,
    Order,
    OrderLine,
    Refund,
    from_minor,
    to_minor,
)

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
ORDER = Order(
    "1001",
    None,
    T0,
    "EUR",
    subtotal=3998,
    discount_total=500,
    shipping_total=490,
    tax_total=0,
    total=3988,
    lines=(
        OrderLine(1, "mug", 2, 1499, 2998, sku="MUG-1", name="Mug"),
        OrderLine(2, "tea", 1, 1000, 1000, category="Tea"),
    ),
    discount_codes=("SPRING",),
    channel="web",
)


def test_upsert_creates_then_replaces_the_order_and_its_lines(database: Database) -> None:
    with database.unit_of_work() as uow:
        assert uow.orders.upsert(ORDER) is True
        assert uow.orders.get("1001") == ORDER
    changed = replace(
        ORDER, status="partially_refunded", lines=(OrderLine(1, "mug", 1, 1499, 1499),)
    )
    with database.unit_of_work() as uow:
        assert uow.orders.upsert(changed) is False
        assert uow.orders.upsert(changed) is False  # a replayed webhook: same result
        assert uow.orders.get("1001") == changed
        assert uow.orders.totals() == {"EUR": {"orders": 1, "total": 3988}}


def test_orders_follow_the_customer_and_its_merges(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = uow.customers.create(email="ann@example.com")
        twin = uow.customers.create(external_id="x")
        uow.customers.merge(ann.id, twin.id)
        uow.orders.upsert(replace(ORDER, customer_id=twin.id))
        assert uow.orders.require("1001").customer_id == ann.id
        assert [o.order_id for o in uow.orders.for_customer(twin.id)] == ["1001"]
    with pytest.raises(NotFoundError), database.unit_of_work() as uow:
        uow.orders.upsert(replace(ORDER, customer_id="cus_nobody"))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"total": 39.88}, "minor units"),
        ({"total": -1}, "minor units"),
        ({"subtotal": True}, "minor units"),
        ({"currency": "euro"}, "currency"),
        ({"status": "shipped"}, "status"),
        ({"ordered_at": datetime(2024, 3, 1)}, "time zone"),
        ({"lines": (OrderLine(1, "a", 1, 1, 1), OrderLine(1, "b", 1, 1, 1))}, "twice"),
        ({"lines": (OrderLine(1, "a", 0, 1, 1),)}, "positive"),
    ],
)
def test_bad_orders_are_input_errors(
    database: Database, change: dict[str, object], problem: str
) -> None:
    with pytest.raises(InputError, match=problem), database.unit_of_work() as uow:
        uow.orders.upsert(replace(ORDER, **change))  # type: ignore[arg-type]


def test_refunds_are_upserted_in_the_order_currency(database: Database) -> None:
    refund = Refund(
        "r1",
        "1001",
        T0,
        1499,
        "EUR",
        reason="broken",
        lines=({"product_id": "mug", "quantity": 1, "amount": 1499},),
    )
    with database.unit_of_work() as uow:
        uow.orders.upsert(ORDER)
        assert uow.orders.upsert_refund(refund) is True
        assert uow.orders.upsert_refund(replace(refund, amount=1000)) is False
        assert uow.orders.refunds("1001") == [replace(refund, amount=1000)]
    with pytest.raises(ConflictError, match="currency"), database.unit_of_work() as uow:
        uow.orders.upsert_refund(replace(refund, refund_id="r2", currency="USD"))
    with pytest.raises(NotFoundError), database.unit_of_work() as uow:
        uow.orders.upsert_refund(replace(refund, order_id="nope"))


def test_big_amounts_round_trip(database: Database) -> None:
    big = replace(ORDER, order_id="big", subtotal=10**15, total=10**15, lines=())
    with database.unit_of_work() as uow:
        uow.orders.upsert(big)
        assert uow.orders.require("big").total == 10**15


def test_minor_units_conversion() -> None:
    assert to_minor(Decimal("19.99"), "EUR") == 1999
    assert to_minor("1500", "JPY") == 1500
    assert to_minor("1.234", "KWD") == 1234
    assert from_minor(1999, "eur") == Decimal("19.99")
    assert to_minor(Decimal("0.125"), "EUR", round_half_even=True) == 12
    with pytest.raises(InputError, match="finer"):
        to_minor(Decimal("0.125"), "EUR")
    with pytest.raises(InputError, match="float"):
        to_minor(19.99, "EUR")  # type: ignore[arg-type]
