"""GDPR: export returns everything held; erase leaves no personal data in any table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from regulars.store import CustomerScore, Database, NotFoundError, Order, OrderLine, Refund

T0 = datetime(2024, 2, 1, 9, tzinfo=UTC)

PERSONAL = [
    "ann.lovelace@example.com",
    "a.l@work.example",
    "Ann",
    "Lovelace",
    "+44 7700 900123",
    "shop-cust-8841",
    "shop-cust-9902",
    "anon-device-1f2e",
    "anon-device-77aa",
    "198.51.100.23",
    "Mozilla/5.0 (Lovelace-PC)",
    "12 Analytical Engine Row",
    "left at the door of Ann",
    "I agree, Ann Lovelace",
]


def _load_customer(database: Database) -> tuple[str, str, dict[str, int]]:
    """Give one person two records with every kind of data; return (id, merged id, counts)."""
    with database.unit_of_work() as uow:
        # events before the person is known: only an anonymous id
        uow.events.record(
            {
                "messageId": "e-anon-1",
                "event": "Product Viewed",
                "anonymousId": "anon-device-1f2e",
                "context": {"ip": "198.51.100.23", "userAgent": "Mozilla/5.0 (Lovelace-PC)"},
                "properties": {"product_id": "mug"},
                "timestamp": T0.isoformat(),
            }
        )
        # an unlinked event that only mentions the email in its properties
        uow.events.record(
            {
                "messageId": "e-loose",
                "event": "Newsletter Form Filled",
                "anonymousId": "anon-other",
                "properties": {"email": "Ann.Lovelace@example.com"},
            }
        )
        ann = uow.customers.resolve(
            email="ann.lovelace@example.com",
            external_id="shop-cust-8841",
            anonymous_id="anon-device-1f2e",
        ).customer
        uow.customers.update_profile(
            ann.id,
            first_name="Ann",
            last_name="Lovelace",
            phone="+44 7700 900123",
            traits={"address": "12 Analytical Engine Row", "vip": True},
        )
        uow.events.record(
            {
                "messageId": "e-identify",
                "type": "identify",
                "userId": "shop-cust-8841",
                "anonymousId": "anon-device-1f2e",
                "traits": {"email": "ann.lovelace@example.com", "firstName": "Ann"},
                "context": {"ip": "198.51.100.23"},
            }
        )
        twin = uow.customers.create(
            email="a.l@work.example", external_id="shop-cust-9902", last_name="Byron"
        )
        uow.customers.link_anonymous_id(twin.id, "anon-device-77aa")
        uow.events.record(
            {"messageId": "e-twin", "event": "Cart Viewed", "userId": "shop-cust-9902"}
        )
        for n, owner in enumerate([ann.id, ann.id, twin.id]):
            lines = (OrderLine(1, "mug", 1, 1500 + n, 1500 + n),)
            uow.orders.upsert(
                Order(
                    f"ord-{n}",
                    owner,
                    T0 + timedelta(days=n),
                    "GBP",
                    1500 + n,
                    1500 + n,
                    lines=lines,
                )
            )
        uow.orders.upsert_refund(
            Refund(
                "ref-1",
                "ord-1",
                T0 + timedelta(days=5),
                500,
                "GBP",
                reason="left at the door of Ann",
            )
        )
        uow.consents.record(
            ann.id,
            "email",
            "granted",
            at=T0,
            source="checkout",
            address="ann.lovelace@example.com",
            evidence={"ip": "198.51.100.23", "text": "I agree, Ann Lovelace"},
        )
        uow.consents.record(
            twin.id, "sms", "granted", at=T0, source="app", address="+44 7700 900123"
        )
        uow.scores.write_version(T0, [CustomerScore(ann.id, segment="champions", clv=99.0)])
        uow.customers.merge(ann.id, twin.id)
        # someone else, who must be left alone
        bob = uow.customers.resolve(email="bob@example.com", external_id="shop-cust-1").customer
        uow.orders.upsert(Order("ord-bob", bob.id, T0, "GBP", 700, 700))
        uow.events.record({"messageId": "e-bob", "event": "Viewed", "userId": "shop-cust-1"})
        totals = {c: dict(v) for c, v in uow.orders.totals().items()}["GBP"]
    return ann.id, twin.id, totals


def _every_value(database: Database) -> list[tuple[str, str]]:
    """Return (table, value as text) for every value of every table the database has."""
    found = []
    with database.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                found += [(table, json.dumps(v, default=str)) for v in row]
                found += [(table, str(v)) for v in row]
    return found


def test_export_returns_everything_held(database: Database) -> None:
    ann, twin, _ = _load_customer(database)
    with database.unit_of_work(read_only=True) as uow:
        export = uow.privacy.export_customer(twin)  # a merged id finds the person
    assert export["customer"]["id"] == ann and export["merged_records"] == [twin]
    assert export["customer"]["email"] == "ann.lovelace@example.com"
    assert (export["customer"]["first_name"], export["customer"]["last_name"]) == (
        "Ann",
        "Lovelace",
    )
    assert {(i["kind"], i["value"]) for i in export["identities"]} == {
        ("email", "ann.lovelace@example.com"),
        ("email", "a.l@work.example"),
        ("external_id", "shop-cust-8841"),
        ("external_id", "shop-cust-9902"),
        ("anonymous_id", "anon-device-1f2e"),
        ("anonymous_id", "anon-device-77aa"),
    }
    assert [o["order_id"] for o in export["orders"]] == ["ord-0", "ord-1", "ord-2"]
    assert export["orders"][1]["refunds"][0]["reason"] == "left at the door of Ann"
    assert {e["message_id"] for e in export["events"]} == {
        "e-anon-1",
        "e-loose",
        "e-identify",
        "e-twin",
    }
    assert len(export["consents"]) == 2
    assert export["scores"][0]["segment"] == "champions"
    text = json.dumps(export)  # JSON-ready as it is
    for value in PERSONAL:
        assert value.lower() in text.lower(), value


def test_erase_leaves_no_personal_data_in_any_table(database: Database) -> None:
    ann, twin, totals = _load_customer(database)
    before = _every_value(database)
    for value in PERSONAL:  # the scan finds what is there ...
        assert any(value.lower() in text.lower() for _, text in before), value
    with database.unit_of_work() as uow:
        erasure = uow.privacy.erase_customer(ann)
        event_count = uow.events.count()
    assert (erasure.orders, erasure.events, erasure.consents) == (3, 4, 2)
    after = _every_value(database)
    leaks = [
        (table, value)
        for value in [*PERSONAL, "Byron", ann, twin]  # Byron: the merged record's name
        for table, text in after
        if value.lower() in text.lower()
    ]
    assert leaks == []  # ... and finds none of it after the erasure
    with database.unit_of_work() as uow:
        assert {c: dict(v) for c, v in uow.orders.totals().items()}["GBP"] == totals
        kept = uow.orders.for_customer(erasure.pseudonym)
        assert [(o.order_id, o.total, o.currency) for o in kept] == [
            ("ord-0", 1500, "GBP"),
            ("ord-1", 1501, "GBP"),
            ("ord-2", 1502, "GBP"),
        ]
        assert uow.orders.refunds("ord-1")[0].amount == 500
        assert uow.events.count() == event_count
        replay, created = uow.events.record(
            {"messageId": "e-identify", "type": "identify", "userId": "shop-cust-8841"}
        )
        assert not created and replay.payload == {"erased": True}
        assert uow.customers.get(ann) is None and uow.customers.get(twin) is None
        assert uow.customers.find("email", "ann.lovelace@example.com") is None
        bob = uow.customers.find("email", "bob@example.com")
        assert bob is not None and len(uow.events.for_customer(bob.id)) == 1
        assert uow.orders.require("ord-bob").customer_id == bob.id
        again = uow.privacy.erase_customer(erasure.pseudonym)
        assert again.events == 0 and again.pseudonym == erasure.pseudonym


def test_unknown_customers_are_not_found(database: Database) -> None:
    with pytest.raises(NotFoundError), database.unit_of_work() as uow:
        uow.privacy.export_customer("cus_nobody")
    with pytest.raises(NotFoundError), database.unit_of_work() as uow:
        uow.privacy.erase_customer("cus_nobody")
