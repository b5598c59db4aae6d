"""Concurrent deliveries: every message stored once, one customer per person, nothing lost.

200 messages (identifies, tracks, anonymous tracks, orders by user id or by email only) for
30 people, each delivered 1 to 5 times, in random order, by 8 clients with a transaction
each (``run_in_transaction``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from regulars.live import Ingested, ingest
from regulars.store import Database, run_in_transaction
from regulars.store.tables import CUSTOMERS

PEOPLE = 30
MESSAGES = 200
CLIENTS = 8


def _person(k: int) -> dict[str, str]:
    return {"user": f"user-{k}", "email": f"p{k}@example.com", "anon": f"anon-{k}"}


def _messages(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Return the messages, and the person each order belongs to."""
    messages: list[dict[str, Any]] = []
    owners: dict[str, int] = {}
    for k in range(PEOPLE):
        p = _person(k)
        messages.append(
            {
                "messageId": f"id1-{k}",
                "type": "identify",
                "userId": p["user"],
                "anonymousId": p["anon"],
                "traits": {"email": p["email"], "a": k},
            }
        )
        messages.append({"messageId": f"id2-{k}", "type": "identify", "userId": p["user"],
                         "traits": {"b": k}})  # fmt: skip
    while len(messages) < MESSAGES:
        n, k = len(messages), rng.randrange(PEOPLE)
        p = _person(k)
        kind = rng.choice(["track", "anonymous", "order", "order-by-email"])
        base = {"messageId": f"m-{n}", "type": "track", "timestamp": "2024-05-01T12:00:00Z"}
        if kind == "track":
            messages.append({**base, "event": "Product Viewed", "userId": p["user"]})
        elif kind == "anonymous":
            messages.append({**base, "event": "Cart Viewed", "anonymousId": p["anon"]})
        else:
            owners[f"o-{n}"] = k
            properties = {
                "order_id": f"o-{n}",
                "currency": "EUR",
                "products": [{"product_id": "mug", "price": "9.90", "quantity": 2}],
            }
            who = {"userId": p["user"]} if kind == "order" else {"anonymousId": p["anon"]}
            if kind == "order-by-email":
                properties["email"] = p["email"]
            messages.append({**base, "event": "Order Completed", "properties": properties, **who})
    return messages, owners  # fmt: skip


def test_concurrent_deliveries_store_everything_once(database: Database) -> None:
    rng = random.Random(11)
    messages, owners = _messages(rng)
    deliveries = [m for m in messages for _ in range(rng.randint(1, 5))]
    rng.shuffle(deliveries)
    queues = [deliveries[i::CLIENTS] for i in range(CLIENTS)]
    start = threading.Barrier(CLIENTS)

    def client(queue: list[dict[str, Any]]) -> list[Ingested]:
        start.wait()
        return [
            run_in_transaction(database, lambda uow, m=m: ingest(uow, m), attempts=10)
            for m in queue
        ]

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for batch in pool.map(client, queues) for r in batch]

    assert len(results) == len(deliveries)
    created = Counter(r.message_id for r in results if r.created)
    assert created == Counter({m["messageId"]: 1 for m in messages})  # stored once each
    seen: dict[str, set[tuple[int, str | None]]] = defaultdict(set)
    for r in results:
        seen[r.message_id].add((r.event_id, r.order_id))
    assert all(len(found) == 1 for found in seen.values())  # every replay: the first result

    with database.unit_of_work() as uow:
        assert uow.events.count() == MESSAGES
        assert {o.order_id for o in uow.orders.all()} == set(owners)
        assert all(len(o.lines) == 1 and o.total == 1980 for o in uow.orders.all())
        live = uow.connection.execute(
            sa.select(sa.func.count())
            .select_from(CUSTOMERS)
            .where(CUSTOMERS.c.merged_into.is_(None))
        ).scalar_one()
        assert live == PEOPLE  # one customer per person
        customer = {}
        for k in range(PEOPLE):
            p = _person(k)
            person = uow.customers.find("external_id", p["user"])
            assert person is not None and uow.customers.find("email", p["email"]) == person
            customer[k] = person.id
            assert person.email == p["email"]
            assert person.traits == {"a": k, "b": k}  # no profile update lost
        for order in uow.orders.all():
            assert order.customer_id == customer[owners[order.order_id]]
        by_user = {f"user-{k}": customer[k] for k in range(PEOPLE)}
        for event in uow.events.after(limit=10 * MESSAGES):
            if event.user_id is not None:
                assert event.customer_id == by_user[event.user_id]
        for r in results:
            if r.customer_id is not None:  # a customer id given out is still a live record
                assert uow.customers.canonical_id(r.customer_id) in customer.values()

        # An anonymous event stored while an identify links its id is never left behind.
        for event in uow.events.after(limit=10 * MESSAGES):
            if event.anonymous_id is not None:
                k = int(event.anonymous_id.removeprefix("anon-"))
                assert event.customer_id == customer[k], event.message_id
