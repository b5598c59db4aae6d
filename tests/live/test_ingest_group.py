"""Ingesting a group of single messages at once: the outcomes of one by one, fewer statements."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from regulars.errors import InputError, RegularsError
from regulars.live import Ingested, ingest
from regulars.live.ingest_group import ingest_group
from regulars.store import Database, UnitOfWork

T0 = "2024-05-01T12:00:00Z"


def _message(tag: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"messageId": f"{tag}-{n}", "type": "track", "event": "Product Viewed",
            "timestamp": T0, **fields}  # fmt: skip


def _seed(uow: UnitOfWork, tag: str) -> None:
    """Two customers (one without an email) and an anonymous event nobody owns yet."""
    ann = {"email": f"{tag}-ann@example.com"}
    ingest(uow, {"messageId": f"{tag}-seed-1", "type": "identify", "userId": f"{tag}-u1",
                 "anonymousId": f"{tag}-a1", "traits": ann})  # fmt: skip
    ingest(uow, {"messageId": f"{tag}-seed-2", "type": "identify", "userId": f"{tag}-u2"})
    ingest(uow, _message(tag, 0, anonymousId=f"{tag}-a9"))
    ingest(uow, _order(tag, 100, f"{tag}-u1", "o-seed", price=1))


def _group(tag: str) -> list[dict[str, Any]]:
    """Plain messages first (so that one by one, in this order, is what the group does)."""
    u1, u2, a1 = f"{tag}-u1", f"{tag}-u2", f"{tag}-a1"
    return [
        _message(tag, 1, userId=u1, anonymousId=a1),  # known customer, linked browser
        _message(tag, 2, userId=u1, type="page", event=None, name="Home"),
        _message(tag, 3, anonymousId=a1),  # a browser whose owner is known
        _message(tag, 4, anonymousId=f"{tag}-a-new"),  # a browser nobody owns
        _message(tag, 5, context={"traits": {"email": f"{tag}-ann@example.com"}}),
        _message(tag, 1, userId=u1, anonymousId=a1),  # the first one again: a replay
        _message(tag, 0, anonymousId=f"{tag}-a9"),  # stored before: a replay
        _message(tag, 6, userId=u1, anonymousId=f"{tag}-a2"),  # a new browser: linked
        _message(tag, 7, userId=u2, context={"traits": {"email": f"{tag}-bo@example.com"}}),
        _message(tag, 8, userId=f"{tag}-u3"),  # a new customer
        _message(tag, 9, event=None),  # invalid: a track needs an event name
        _message(tag, 10, userId=u2, event="Order Completed",
                 properties={"order_id": f"{tag}-o1", "currency": "EUR",
                             "products": [{"product_id": "mug", "price": 5, "quantity": 1}]}),
        {"messageId": f"{tag}-11", "type": "identify", "userId": u2,
         "anonymousId": f"{tag}-a9"},  # links a9: its earlier event becomes u2's
        _order(tag, 12, u1, "o2", price=7),  # a new order, its id twice in the group:
        _order(tag, 13, u1, "o2", price=9),  # the second delivery updates it
        _order(tag, 14, u1, "o-seed", price=4),  # an order stored before: updated
        _order(tag, 15, u1, "o3", currency=None),  # a new order needs a currency
        _order(tag, 16, u1, "o4", price=-3),  # a negative price
        _order(tag, 17, None, "o5", price=2, anonymousId=a1),  # a guest's browser
    ]  # fmt: skip


def _order(tag: str, n: int, user: str | None, order_id: str, *, price: float = 5,
           currency: str | None = "EUR", **fields: Any) -> dict[str, Any]:  # fmt: skip
    properties: dict[str, Any] = {
        "order_id": f"{tag}-{order_id}",
        "products": [{"product_id": "mug", "price": price, "quantity": 2}],
    }
    if currency is not None:
        properties["currency"] = currency
    if user is not None:
        fields["userId"] = user
    return _message(tag, n, event="Order Completed", properties=properties, **fields)


def _described(uow: UnitOfWork, outcome: Ingested | RegularsError, tag: str) -> Any:
    """Describe an outcome without the ids a run draws (customer ids, event ids, message ids)."""
    if isinstance(outcome, RegularsError):
        return type(outcome).__name__, getattr(outcome, "column", None)
    who = None
    if outcome.customer_id is not None:
        ids = uow.customers.identities(outcome.customer_id)
        who = sorted(i.value.removeprefix(f"{tag}-") for i in ids if i.kind == "external_id")
    order = None if outcome.order_id is None else outcome.order_id.removeprefix(f"{tag}-")
    return outcome.type, outcome.event, outcome.created, order, who


def _events_by_owner(uow: UnitOfWork, tag: str) -> list[tuple[str, tuple[str, ...]]]:
    rows = uow.connection.execute(
        sa.text("SELECT message_id, customer_id FROM events WHERE message_id LIKE :p"),
        {"p": f"{tag}-%"},
    )
    out = []
    for message_id, customer_id in rows:
        owners: tuple[str, ...] = ()
        if customer_id is not None:
            ids = uow.customers.identities(customer_id)
            owners = tuple(sorted(i.value for i in ids if i.kind == "external_id"))
        out.append((message_id.removeprefix(f"{tag}-"),
                    tuple(o.removeprefix(f"{tag}-") for o in owners)))  # fmt: skip
    return sorted(out)


def _orders(uow: UnitOfWork, tag: str) -> list[tuple[Any, ...]]:
    """Return the orders of a run: id, owner's external ids, total, status and lines."""
    rows = uow.connection.execute(
        sa.text("SELECT order_id FROM orders WHERE order_id LIKE :p ORDER BY order_id"),
        {"p": f"{tag}-%"},
    )
    out = []
    for (order_id,) in rows:
        order = uow.orders.require(order_id)
        owner = order.customer_id and sorted(
            i.value.removeprefix(f"{tag}-")
            for i in uow.customers.identities(order.customer_id)
            if i.kind == "external_id"
        )
        lines = [(line.product_id, line.quantity, line.unit_price) for line in order.lines]
        out.append((order_id.removeprefix(f"{tag}-"), owner, order.total, order.status, lines))
    return out


def _one_by_one(uow: UnitOfWork, messages: list[dict[str, Any]]) -> list[Ingested | RegularsError]:
    outcomes: list[Ingested | RegularsError] = []
    for message in messages:
        try:
            outcomes.append(ingest(uow, message))
        except RegularsError as err:
            outcomes.append(err)
    return outcomes


def test_a_group_gives_every_message_what_ingesting_it_alone_gives(database: Database) -> None:
    results = {}
    for tag, run in (("s", _one_by_one), ("g", ingest_group)):
        with database.unit_of_work() as uow:
            _seed(uow, tag)
        with database.unit_of_work() as uow:
            outcomes = run(uow, _group(tag))
        with database.unit_of_work() as uow:
            results[tag] = (
                [_described(uow, o, tag) for o in outcomes],
                _events_by_owner(uow, tag),
                _orders(uow, tag),
            )
    described, stored, orders = results["g"]
    assert described == results["s"][0]
    assert stored == results["s"][1]
    assert orders == results["s"][2]
    # What the group did, spelled out for the cases that matter:
    assert described[0] == ("track", "Product Viewed", True, None, ["u1"])
    assert described[3] == ("track", "Product Viewed", True, None, None)
    assert described[5][2] is False and described[6][2] is False  # replays
    assert described[9] == ("track", "Product Viewed", True, None, ["u3"])
    assert described[10] == ("InputError", "event")
    assert described[11] == ("track", "Order Completed", True, "o1", ["u2"])
    assert ("0", ("u2",)) in stored  # the anonymous event, attached by the identify
    assert [d[3] for d in described[13:16]] == ["o2", "o2", "o-seed"]
    assert described[16] == ("InputError", "properties.currency")
    assert described[17] == ("InputError", "properties.products[0].price")
    assert [(o[0], o[2]) for o in orders] == [("o-seed", 800), ("o1", 500), ("o2", 1800),
                                              ("o5", 400)]  # fmt: skip


def _statements(database: Database, run: Any) -> list[str]:
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    return seen


def test_plain_events_of_known_customers_take_a_few_statements_for_the_whole_group(
    database: Database,
) -> None:
    with database.unit_of_work() as uow:
        for n in range(20):
            ingest(uow, {"messageId": f"id-{n}", "type": "identify", "userId": f"u{n}",
                         "anonymousId": f"a{n}"})  # fmt: skip
    messages = [_message("v", n, userId=f"u{n % 20}", anonymousId=f"a{n % 20}") for n in range(60)]
    messages += [_message("w", n, anonymousId=f"browser-{n}") for n in range(20)]
    messages += [_order("x", n, f"u{n}", f"order-{n}") for n in range(10)]
    outcomes: list[Any] = []

    def run() -> None:
        with database.unit_of_work() as uow:
            outcomes.extend(ingest_group(uow, messages))

    framing = ("BEGIN", "COMMIT", "PRAGMA")  # the unit of work's own
    statements = [s for s in _statements(database, run) if not s.startswith(framing)]
    assert all(isinstance(o, Ingested) and o.created for o in outcomes)
    assert [o.customer_id is None for o in outcomes] == [False] * 60 + [True] * 20 + [False] * 10
    assert [o.order_id for o in outcomes[80:]] == [f"x-order-{n}" for n in range(10)]
    # the anonymous ids' locks (PostgreSQL), the owners (read and locked), the orders
    # stored before, then one insert each: events, orders, order lines
    assert len(statements) == (6 if database.backend == "postgresql" else 5), statements
    with database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == 20 + 90
        assert uow.orders.require("x-order-3").total == 1000


def test_anonymous_events_of_a_group_are_attached_by_a_later_identify(database: Database) -> None:
    with database.unit_of_work() as uow:
        first = ingest_group(uow, [_message("x", n, anonymousId="browser") for n in range(3)])
    assert all(isinstance(o, Ingested) and o.customer_id is None for o in first)
    with database.unit_of_work() as uow:
        who = ingest(uow, {"messageId": "who", "type": "identify", "userId": "ann",
                           "anonymousId": "browser"})  # fmt: skip
        assert who.customer_id is not None
        assert len(uow.events.for_customer(who.customer_id)) == 4
        later = ingest_group(uow, [_message("y", 1, anonymousId="browser")])
    assert isinstance(later[0], Ingested) and later[0].customer_id == who.customer_id


@pytest.mark.parametrize("bad", [{"messageId": ""}, "not a message", {"type": "shout"}])
def test_a_bad_message_fails_alone(database: Database, bad: Any) -> None:
    message = bad if isinstance(bad, str) else {**_message("z", 1, userId="u"), **bad}
    with database.unit_of_work() as uow:
        outcomes = ingest_group(uow, [message, _message("z", 2, userId="u")])
        assert isinstance(outcomes[0], InputError)
        assert isinstance(outcomes[1], Ingested) and outcomes[1].created
        assert uow.events.count() == 1


def test_an_answer_holds_every_field_of_the_result(database: Database) -> None:
    with database.unit_of_work() as uow:
        (result,) = ingest_group(uow, [_message("f", 1, userId="u")])
    assert isinstance(result, Ingested)
    assert set(result.as_dict()) == {field.name for field in dataclasses.fields(Ingested)}


def test_an_order_stored_meanwhile_is_updated(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database.unit_of_work() as uow:
        ingest(uow, {"messageId": "who", "type": "identify", "userId": "ann"})
        ingest(uow, _order("r", 1, "ann", "o", price=3))
    # As if another transaction stored the order after the group looked for it:
    monkeypatch.setattr("regulars.store.orders.OrderRepository.stored_ids", lambda *_: set())
    with database.unit_of_work() as uow:
        (result,) = ingest_group(uow, [_order("r", 2, "ann", "o", price=8)])
        assert isinstance(result, Ingested) and result.created and result.order_id == "r-o"
        assert uow.orders.require("r-o").total == 1600
        assert uow.events.count() == 3
