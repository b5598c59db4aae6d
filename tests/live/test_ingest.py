"""Ingesting Segment messages into the store: customers, events, replays, errors, batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from regulars.errors import InputError
from regulars.live import Ingested, ingest, ingest_batch
from regulars.store import Database

T0 = "2024-05-01T12:00:00Z"


def identify(n: int | str, user: str | None = "shop-1", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"messageId": f"i-{n}", "type": "identify", "timestamp": T0}
    if user is not None:
        message["userId"] = user
    return {**message, **extra}


def track(n: int | str, event: str = "Product Viewed", **extra: Any) -> dict[str, Any]:
    return {"messageId": f"t-{n}", "type": "track", "event": event, "timestamp": T0, **extra}


def completed(n: int | str, order_id: str = "1001", **extra: Any) -> dict[str, Any]:
    properties = {
        "order_id": order_id,
        "currency": "EUR",
        "products": [{"product_id": "mug", "price": 12.5, "quantity": 2}],
    }
    return track(n, "Order Completed", **{"properties": properties, **extra})


def test_identify_creates_the_customer_and_fills_the_profile(database: Database) -> None:
    message = identify(
        1,
        anonymousId="anon-1",
        traits={
            "email": "Ann@Example.com",
            "firstName": "Ann",
            "last_name": "Lee",
            "phone": "+33 6 12",
            "plan": "gold",
        },
    )
    with database.unit_of_work() as uow:
        result = ingest(uow, message)
        assert result.created and result.type == "identify" and result.event is None
        assert result.order_id is None
        customer = uow.customers.require(result.customer_id or "")
        assert (customer.email, customer.first_name, customer.last_name) == (
            "ann@example.com",
            "Ann",
            "Lee",
        )
        assert customer.phone == "+33 6 12" and customer.traits == {"plan": "gold"}
        assert uow.customers.find("external_id", "shop-1") == customer
        assert uow.customers.find("anonymous_id", "anon-1") == customer
        stored = uow.events.get("i-1")
        assert stored is not None and stored.payload == message  # as received
        assert stored.customer_id == customer.id and stored.id == result.event_id
    assert result.as_dict() == {
        "message_id": "i-1",
        "event_id": result.event_id,
        "type": "identify",
        "event": None,
        "customer_id": customer.id,
        "created": True,
        "order_id": None,
    }


def test_identify_by_email_alone_and_a_new_email(database: Database) -> None:
    with database.unit_of_work() as uow:
        first = ingest(uow, identify(1, user=None, traits={"email": "ann@example.com"}))
        again = ingest(uow, identify(2, traits={"email": "ann@example.com", "name": "Ann Lee"}))
        assert first.customer_id == again.customer_id  # the userId joined the email's customer
        moved = ingest(uow, identify(3, traits={"email": "ann@new.example", "plan": None}))
        customer = uow.customers.require(moved.customer_id or "")
        assert customer.id == first.customer_id and customer.email == "ann@new.example"
        assert customer.first_name == "Ann"  # the first word of `name`
        assert customer.traits == {"name": "Ann Lee"}
        assert uow.customers.find("email", "ann@example.com") == customer  # old email kept


def test_identify_with_only_an_anonymous_id_creates_nobody(database: Database) -> None:
    with database.unit_of_work() as uow:
        result = ingest(uow, identify(1, user=None, anonymousId="a-1", traits={"plan": "x"}))
        assert result.created and result.customer_id is None
        assert uow.customers.find("anonymous_id", "a-1") is None


def test_a_replay_returns_the_first_result_and_changes_nothing(database: Database) -> None:
    with database.unit_of_work() as uow:
        first = ingest(uow, identify(1, traits={"first_name": "Ann"}))
    with database.unit_of_work() as uow:
        replay = ingest(uow, identify(1, traits={"first_name": "Annie"}))  # same messageId
        assert replay == Ingested("i-1", first.event_id, "identify", None, first.customer_id, False)
        assert uow.customers.require(first.customer_id or "").first_name == "Ann"
        assert uow.events.count() == 1
        order = ingest(uow, completed(1))
        again = ingest(uow, completed(1, order_id="9999"))
        assert again.order_id == order.order_id == "1001" and not again.created
        assert uow.orders.get("9999") is None


def test_tracks_resolve_by_user_id_or_email_and_others_are_stored_only(
    database: Database,
) -> None:
    kinds = ["Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Email Opened"]
    with database.unit_of_work() as uow:
        results = [ingest(uow, track(n, name, userId="shop-1")) for n, name in enumerate(kinds)]
        owners = {r.customer_id for r in results}
        assert len(owners) == 1 and None not in owners
        assert [r.event for r in results] == kinds
        assert uow.orders.all() == []
        by_email = ingest(uow, track("e", context={"traits": {"email": "bo@example.com"}}))
        assert by_email.customer_id is not None and by_email.customer_id not in owners
        for n, kind in enumerate(("page", "screen", "group")):
            other = ingest(uow, {"messageId": f"o-{n}", "type": kind, "userId": "shop-1"})
            assert other.type == kind and other.customer_id in owners


def test_anonymous_events_join_the_customer_an_identify_ties_them_to(
    database: Database,
) -> None:
    with database.unit_of_work() as uow:
        early = [ingest(uow, track(n, anonymousId="anon-7")) for n in range(3)]
        assert all(r.customer_id is None for r in early)
        who = ingest(uow, identify(1, user="shop-7", anonymousId="anon-7"))
        events = uow.events.for_customer(who.customer_id or "")
        assert {e.message_id for e in events} == {"t-0", "t-1", "t-2", "i-1"}
        later = ingest(uow, track(9, anonymousId="anon-7"))  # a known anonymous id
        assert later.customer_id == who.customer_id
        replay = ingest(uow, track(0, anonymousId="anon-7"))
        assert replay.customer_id == who.customer_id and not replay.created  # as it is now


def test_an_anonymous_order_ties_its_events_when_it_names_the_buyer(database: Database) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, track(1, anonymousId="anon-8"))
        guest = ingest(uow, completed(2, order_id="g-1", anonymousId="anon-9"))
        assert guest.customer_id is None and uow.orders.require("g-1").customer_id is None
        order = ingest(
            uow,
            completed(3, anonymousId="anon-8", context={"traits": {"email": "cy@example.com"}}),
        )
        assert order.customer_id is not None
        assert uow.orders.require("1001").customer_id == order.customer_id
        linked = {e.message_id for e in uow.events.for_customer(order.customer_id)}
        assert linked == {"t-1", "t-3"}


def test_alias_and_merges_keep_orders_and_events(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = ingest(uow, completed(1, order_id="a-1", userId="old-id"))
        new = ingest(uow, identify(1, user="new-id", traits={"email": "ann@example.com"}))
        assert ann.customer_id != new.customer_id
        alias = ingest(uow, {"messageId": "al-1", "type": "alias", "userId": "new-id",
                             "previousId": "old-id"})  # fmt: skip
        survivor = uow.customers.require(new.customer_id or "")
        assert alias.customer_id == survivor.id == uow.customers.canonical_id(ann.customer_id or "")
        assert [o.order_id for o in uow.orders.for_customer(survivor.id)] == ["a-1"]
        events = {e.message_id for e in uow.events.for_customer(survivor.id)}
        assert events == {"t-1", "i-1", "al-1"}
        # an identify naming the email of one record and the userId of another merges them
        ingest(uow, completed(2, order_id="b-1", userId="bo"))
        bo = ingest(uow, identify(2, user="bo", traits={"email": "ann@example.com"}))
        assert bo.customer_id == survivor.id
        assert {o.order_id for o in uow.orders.for_customer(survivor.id)} == {"a-1", "b-1"}
        alias_anon = ingest(uow, {"messageId": "al-2", "type": "alias", "userId": "bo",
                                  "previousId": "anon-x"})  # fmt: skip
        found = uow.customers.find("anonymous_id", "anon-x")
        assert found is not None and found.id == survivor.id
        assert alias_anon.customer_id == survivor.id


@pytest.mark.parametrize(
    ("message", "column"),
    [
        ({"type": "track", "event": "X"}, "messageId"),
        (track(1, event=""), "event"),
        ({**track(1), "type": "login"}, "type"),
        ({**track(1), "timestamp": "yesterday"}, "timestamp"),
        ({**track(1), "timestamp": datetime(2024, 1, 1)}, "timestamp"),
        (track(1, properties={"ratio": float("nan")}), "properties.ratio"),
        (identify(1, traits={"email": "not-an-email"}), "traits.email"),
        (identify(1, traits="ann"), "traits"),
        (identify(1, traits={"firstName": ["Ann"]}), "traits.firstName"),
        (identify(1, traits={"phone": "0" * 60}), "traits.phone"),
        (track(1, userId=True), "userId"),
        (track(1, anonymousId={"id": 1}), "anonymousId"),
        (track(1, context={"traits": {"email": "@"}}), "context.traits.email"),
        (track(1, context={"traits": []}), "context.traits"),
        (completed(1, properties={"products": []}), "properties.order_id"),
        (track(1, "Order Completed", properties={"order_id": "1", "email": "x"}),
         "properties.email"),
    ],
)  # fmt: skip
def test_invalid_messages_name_the_field_and_write_nothing(
    database: Database, message: dict[str, Any], column: str
) -> None:
    with database.unit_of_work() as uow:
        with pytest.raises(InputError) as caught:
            ingest(uow, message)
        assert caught.value.column == column
        assert uow.events.count() == 0 and uow.customers.find("external_id", "shop-1") is None


def test_an_error_after_writes_began_leaves_nothing_of_the_message(database: Database) -> None:
    refund = track(1, "Order Refunded", userId="shop-1", properties={"order_id": "nope"})
    with database.unit_of_work() as uow:
        ingest(uow, identify(0, user="shop-0"))
        with pytest.raises(InputError) as caught:
            ingest(uow, refund)  # resolves shop-1 and stores the event, then fails
        assert caught.value.column == "properties.order_id" and caught.value.fix
        assert uow.customers.find("external_id", "shop-1") is None
        assert uow.events.get("t-1") is None and uow.events.count() == 1
    with database.unit_of_work(read_only=True) as uow:
        assert uow.customers.find("external_id", "shop-0") is not None  # the rest is kept


def test_a_batch_is_validated_whole_before_anything_is_written(database: Database) -> None:
    good = [identify(1), track(1, userId="shop-1"), completed("c1", userId="shop-1")]
    bad = completed(2, properties={"order_id": "2", "currency": "EUR", "total": "ten"})
    with database.unit_of_work() as uow:
        with pytest.raises(InputError) as caught:
            ingest_batch(uow, [*good, bad])
        assert caught.value.column == "batch[3].properties.total"
        assert uow.events.count() == 0
        with pytest.raises(InputError) as caught:
            ingest_batch(uow, [*good, "not a message"])
        assert caught.value.column == "batch[3]"
        with pytest.raises(InputError) as caught:
            ingest_batch(uow, {"batch": good})  # type: ignore[arg-type]
        assert caught.value.column == "batch"
        results = ingest_batch(uow, [*good, identify(1)])  # a repeat inside the batch
        assert [r.created for r in results] == [True, True, True, False]
        assert results[3] == Ingested("i-1", results[0].event_id, "identify", None,
                                      results[0].customer_id, False)  # fmt: skip
        assert results[2].order_id == "1001" and len({r.customer_id for r in results}) == 1


def test_a_batch_error_that_needs_the_store_names_the_message(database: Database) -> None:
    refund = track(2, "Order Refunded", properties={"order_id": "unknown"})
    with database.unit_of_work() as uow:
        with pytest.raises(InputError) as caught:
            ingest_batch(uow, [identify(1), refund])
        assert caught.value.column == "batch[1].properties.order_id"
        uow.rollback()  # as the service does
        assert uow.events.count() == 0


def test_ordered_at_is_the_event_time(database: Database) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, completed(1, timestamp="2024-05-01T14:00:00+02:00"))
        assert uow.orders.require("1001").ordered_at == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_an_event_of_a_known_customer_writes_only_the_event(database: Database) -> None:
    with database.unit_of_work() as uow:
        who = ingest(uow, identify(1, anonymousId="anon-1", traits={"email": "ann@example.com"}))
    writes: list[str] = []

    def record_writes(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement.split("(")[0].strip())

    sa.event.listen(database.engine, "before_cursor_execute", record_writes)
    try:
        with database.unit_of_work() as uow:
            seen = ingest(uow, track(1, userId="shop-1", anonymousId="anon-1",
                                     context={"traits": {"email": "ann@example.com"}}))  # fmt: skip
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record_writes)
    assert seen.customer_id == who.customer_id and seen.created
    assert writes == ["INSERT INTO events"]  # no identity re-inserted, no events re-attached
