"""Identity resolution: find-or-create by any identity, anonymous ids, merges."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store import ConflictError, Database, Order, OrderLine, run_in_transaction

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _order(order_id: str, customer_id: str, total: int) -> Order:
    line = OrderLine(1, "p1", 1, total, total)
    return Order(order_id, customer_id, T0, "EUR", subtotal=total, total=total, lines=(line,))


def test_resolve_finds_or_creates_by_any_identity(database: Database) -> None:
    with database.unit_of_work() as uow:
        first = uow.customers.resolve(email="  Ann@Example.COM ")
        assert first.created and first.customer.email == "ann@example.com"
        again = uow.customers.resolve(email="ann@example.com", external_id="shop-1")
        assert not again.created and again.customer.id == first.customer.id
        by_id = uow.customers.resolve(external_id="shop-1")
        assert by_id.customer.id == first.customer.id
        kinds = {(i.kind, i.value) for i in uow.customers.identities(first.customer.id)}
        assert kinds == {("email", "ann@example.com"), ("external_id", "shop-1")}
        other = uow.customers.resolve(external_id=7)  # Segment allows numeric user ids
        assert other.created and uow.customers.find("external_id", "7") == other.customer


def test_resolve_needs_a_strong_identity(database: Database) -> None:
    with pytest.raises(InputError, match="email or an external id"), database.unit_of_work() as uow:
        uow.customers.resolve(anonymous_id="anon-1")
    with pytest.raises(InputError, match="email"), database.unit_of_work() as uow:
        uow.customers.resolve(email="not-an-email")


def test_anonymous_events_are_linked_when_an_identify_ties_them(database: Database) -> None:
    with database.unit_of_work() as uow:
        for n in range(3):
            uow.events.record({"messageId": f"a{n}", "event": "Viewed", "anonymousId": "anon-1"})
        assert all(e.customer_id is None for e in uow.events.after())
    with database.unit_of_work() as uow:
        found = uow.customers.resolve(external_id="shop-1", anonymous_id="anon-1")
        customer = found.customer
        assert [e.message_id for e in uow.events.for_customer(customer.id)] == ["a0", "a1", "a2"]
        later, _ = uow.events.record(
            {"messageId": "a3", "event": "Viewed", "anonymousId": "anon-1"}
        )
        assert later.customer_id == customer.id  # known anonymous id: linked on arrival
        someone = uow.customers.resolve(external_id="shop-2").customer
        assert uow.customers.link_anonymous_id(someone.id, "anon-1") == 0  # first one keeps it
        assert uow.customers.find("anonymous_id", "anon-1") == uow.customers.get(customer.id)


def test_an_anonymous_id_added_as_an_identity_takes_its_events(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.events.record({"messageId": "a0", "event": "Viewed", "anonymousId": "anon-2"})
        ann = uow.customers.resolve(external_id="shop-2").customer
        assert uow.customers.add_identity(ann.id, "anonymous_id", "anon-2")
        assert [e.message_id for e in uow.events.for_customer(ann.id)] == ["a0"]
        assert uow.customers.link_anonymous_id(ann.id, "anon-2") == 0  # already hers
        assert not uow.customers.add_identity(ann.id, "anonymous_id", "anon-2")
        bob = uow.customers.resolve(external_id="shop-3").customer
        with pytest.raises(ConflictError):
            uow.customers.add_identity(bob.id, "anonymous_id", "anon-2")


def test_merge_keeps_every_order_and_event(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = uow.customers.create(email="ann@example.com", first_name="Ann", traits={"a": 1})
        twin = uow.customers.create(external_id="shop-9", last_name="Lee", traits={"a": 2, "b": 3})
        for n, owner in enumerate([ann, ann, twin, twin, twin]):
            uow.orders.upsert(_order(f"o{n}", owner.id, 1000 + n))
            uow.events.record({"messageId": f"m{n}", "event": "Viewed"}, customer_id=owner.id)
        uow.consents.record(twin.id, "sms", "granted", at=T0, source="checkout")
    with database.unit_of_work() as uow:
        # the email of one and the external id of the other: the same person
        resolution = uow.customers.resolve(email="ann@example.com", external_id="shop-9")
        survivor = resolution.customer
        assert survivor.id == ann.id and resolution.merged == (twin.id,)
    with database.unit_of_work(read_only=True) as uow:
        assert len(uow.orders.for_customer(ann.id)) == 5
        assert len(uow.events.for_customer(ann.id)) == 5
        assert sum(o.total for o in uow.orders.for_customer(twin.id)) == 5010  # old id finds
        assert uow.consents.allows(ann.id, "sms")
        merged = uow.customers.require(ann.id)
        assert (merged.first_name, merged.last_name) == ("Ann", "Lee")
        assert merged.traits == {"a": 1, "b": 3}
        stub = uow.customers.get(twin.id, follow_merges=False)
        assert stub is not None and stub.merged_into == ann.id
        assert (stub.email, stub.last_name, stub.traits) == (None, None, {})
        assert uow.customers.merged_ids(ann.id) == [twin.id]


def test_merge_chains_are_flattened(database: Database) -> None:
    with database.unit_of_work() as uow:
        a, b, c = (uow.customers.create(external_id=f"x{n}") for n in range(3))
        uow.customers.merge(b.id, c.id)
        uow.customers.merge(a.id, b.id)
        assert uow.customers.get(c.id, follow_merges=False).merged_into == a.id  # type: ignore[union-attr]
        assert sorted(uow.customers.merged_ids(a.id)) == sorted([b.id, c.id])


def test_an_identity_of_another_customer_is_a_conflict(database: Database) -> None:
    with pytest.raises(ConflictError, match="belongs to customer"), database.unit_of_work() as uow:
        uow.customers.create(email="ann@example.com")
        bob = uow.customers.create(email="bob@example.com")
        uow.customers.add_identity(bob.id, "email", "ANN@example.com")


def test_profile_updates_and_traits(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = uow.customers.resolve(external_id="shop-1").customer
        updated = uow.customers.update_profile(
            ann.id, email="Ann@New.example", phone="+33 6 12", traits={"plan": "gold", "x": 1}
        )
        assert updated.email == "ann@new.example" and updated.phone == "+33 6 12"
        updated = uow.customers.update_profile(ann.id, traits={"x": None})
        assert updated.traits == {"plan": "gold"}
        assert uow.customers.find("email", "ann@new.example") == updated


def test_concurrent_identifies_of_one_new_person_make_one_customer(database: Database) -> None:
    start = threading.Barrier(8)

    def identify(n: int) -> str:
        start.wait()
        return run_in_transaction(
            database,
            lambda uow: (
                uow.customers.resolve(
                    email="new@example.com" if n % 2 else None,
                    external_id="shop-77",
                    anonymous_id=f"anon-{n}",
                ).customer.id
            ),
            attempts=5,
        )

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(identify, range(8)))
    with database.unit_of_work(read_only=True) as uow:
        survivors = {uow.customers.canonical_id(i) for i in ids}
        assert len(survivors) == 1
        (survivor,) = survivors
        kinds = sorted(i.kind for i in uow.customers.identities(survivor))
        assert kinds == ["anonymous_id"] * 8 + ["email", "external_id"]


def test_owners_of_many_identities_are_read_through_the_index(database: Database) -> None:
    from regulars.store.identities import live_owners

    with database.unit_of_work() as uow:
        ann = uow.customers.resolve(external_id="ann", anonymous_id="a-1").customer
        uow.customers.merge(ann.id, uow.customers.resolve(email="bo@example.com").customer.id)
    plans: list[str] = []

    def explain(conn: Any, _cur: Any, statement: str, params: Any, *_rest: Any) -> None:
        if conn.dialect.name == "sqlite" and statement.startswith("SELECT customer_identities"):
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            plans.extend(str(row[3]) for row in rows)

    with database.unit_of_work() as uow:
        sa.event.listen(database.engine, "before_cursor_execute", explain)
        try:
            owners = live_owners(
                uow.connection,
                [("external_id", "ann"), ("anonymous_id", "a-1"), ("email", "bo@example.com"),
                 ("external_id", "nobody")],
                lock=database.backend == "postgresql",
            )  # fmt: skip
        finally:
            sa.event.remove(database.engine, "before_cursor_execute", explain)
    assert owners == {
        ("external_id", "ann"): (ann.id, True, True),  # the merge brought bo's email
        ("anonymous_id", "a-1"): (ann.id, True, True),
        ("email", "bo@example.com"): (ann.id, True, True),
    }
    if database.backend == "sqlite":  # a search of the (kind, value) index, never a scan
        assert plans and not [p for p in plans if p.startswith("SCAN customer")], plans
