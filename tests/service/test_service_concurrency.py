"""Each event delivered 1 to 5 times, in random order, by 8 concurrent clients over HTTP.

A real uvicorn server on loopback in front of each backend; the clients use single calls
and batches. Every event must be stored exactly once, every order once, every customer once.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
import uvicorn
from api_support import identify, order_completed, viewed

from regulars.service import ServiceSettings, create_app
from regulars.store import Database
from regulars.store.tables import CUSTOMERS

CLIENTS = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def server(database: Database) -> Iterator[tuple[str, str]]:
    """Run the API on a free loopback port; yield its base URL and a write+read token."""
    with database.unit_of_work() as uow:
        token = uow.api_keys.create("load", ["read", "write"]).token
    app = create_app(database, ServiceSettings(rate_limit_per_second=0))
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        uv.should_exit = True
        thread.join(timeout=20)


def _messages(users: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for u in range(users):
        user, anon = f"user-{u}", f"anon-{u}"
        messages += [
            viewed(f"view-{u}", anon),
            identify(f"who-{u}", user, f"u{u}@example.com", anonymous_id=anon),
            order_completed(f"buy-{u}-a", user, f"order-{u}-a"),
            order_completed(
                f"buy-{u}-b", user, f"order-{u}-b", total=12.5, products=[("tea", 12.5, 1)]
            ),
        ]
    return messages


def _send(base: str, token: str, deliveries: list[dict[str, Any]], seed: int) -> list[Any]:
    rng = random.Random(seed)
    answers: list[Any] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        i = 0
        while i < len(deliveries):
            if rng.random() < 0.25:
                chunk = deliveries[i : i + rng.randint(2, 6)]
                response = client.post("/v1/batch", json={"batch": chunk})
                assert response.status_code == 200, response.text
                answers += response.json()["results"]
                i += len(chunk)
                continue
            message = deliveries[i]
            path = "/v1/identify" if message["type"] == "identify" else "/v1/track"
            response = client.post(path, json=message)
            assert response.status_code == 200, response.text
            answers.append(response.json())
            i += 1
    return answers


def test_every_event_counted_once_from_eight_concurrent_clients(
    server: tuple[str, str], database: Database
) -> None:
    base, token = server
    rng = random.Random(2026)
    messages = _messages(users=25)
    deliveries = [m for m in messages for _ in range(rng.randint(1, 5))]
    rng.shuffle(deliveries)
    shares = [deliveries[c::CLIENTS] for c in range(CLIENTS)]
    results: list[list[Any]] = [[] for _ in range(CLIENTS)]
    errors: list[BaseException] = []

    def client(c: int) -> None:
        try:
            results[c] = _send(base, token, shares[c], seed=c)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[0]
    answers = [a for share in results for a in share]
    assert len(answers) == len(deliveries)
    by_message: dict[str, list[Any]] = defaultdict(list)
    for answer in answers:
        by_message[answer["message_id"]].append(answer)
    assert set(by_message) == {m["messageId"] for m in messages}  # nothing lost
    for message_id, seen in by_message.items():
        assert sum(a["created"] for a in seen) == 1, message_id  # stored by one delivery
        assert len({a["event_id"] for a in seen}) == 1, message_id  # every replay: the first
        assert len({a["order_id"] for a in seen}) == 1, message_id
    with database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == len(messages)
        assert uow.orders.totals() == {"EUR": {"orders": 50, "total": 25 * 4250}}
        live = uow.connection.execute(
            sa.select(sa.func.count())
            .select_from(CUSTOMERS)
            .where(CUSTOMERS.c.merged_into.is_(None))
        ).scalar_one()
        assert live == 25  # one customer per user, however the deliveries raced
        for u in range(25):
            customer = uow.customers.find("external_id", f"user-{u}")
            assert customer is not None and customer.email == f"u{u}@example.com"
            assert uow.customers.find("anonymous_id", f"anon-{u}").id == customer.id
            assert uow.events.get(f"view-{u}").customer_id == customer.id
            assert len(uow.orders.for_customer(customer.id)) == 2
