"""Raw events: stored once per messageId, whatever the number and order of deliveries."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from regulars.errors import InputError
from regulars.store import Database

CLIENTS = 8
EVENTS = 150


def _message(n: int) -> dict[str, Any]:
    return {
        "messageId": f"msg-{n:04d}",
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": f"anon-{n % 7}",
        "timestamp": f"2024-05-01T12:{n % 60:02d}:00+02:00",
        "properties": {"product_id": f"p{n}", "price": 19.99},
    }


def test_a_replay_returns_the_first_stored_event(database: Database) -> None:
    with database.unit_of_work() as uow:
        first, created = uow.events.record(_message(1))
        assert created and first.type == "track" and first.event == "Product Viewed"
        assert first.occurred_at == datetime(2024, 5, 1, 10, 1, tzinfo=UTC)
        assert first.payload["properties"] == {"product_id": "p1", "price": 19.99}
    changed = {**_message(1), "event": "Something Else"}
    with database.unit_of_work() as uow:
        again, created = uow.events.record(changed)
        assert not created and again == first
        assert uow.events.count() == 1


def test_identify_messages_and_defaults(database: Database) -> None:
    with database.unit_of_work() as uow:
        event, _ = uow.events.record(
            {"messageId": "i1", "type": "identify", "userId": "42", "traits": {"a": 1}}
        )
        assert event.type == "identify" and event.event is None and event.user_id == "42"
        assert event.occurred_at == event.received_at  # no timestamp: time of receipt


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"event": "x"}, "messageId"),
        ({"messageId": "", "event": "x"}, "messageId"),
        ({"messageId": "m", "type": "shout", "event": "x"}, "type"),
        ({"messageId": "m", "type": "track"}, "event name"),
        ({"messageId": "m", "event": "x", "timestamp": "yesterday"}, "ISO 8601"),
        ({"messageId": "m", "event": "x", "timestamp": "2024-05-01T12:00:00"}, "time zone"),
        ({"messageId": "m", "event": "x", "properties": {"v": float("nan")}}, "JSON"),
    ],
)
def test_unusable_messages_are_input_errors(
    database: Database, message: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InputError, match=problem), database.unit_of_work() as uow:
        uow.events.record(message)


def test_events_after_pages_through_everything(database: Database) -> None:
    with database.unit_of_work() as uow:
        for n in range(25):
            uow.events.record(_message(n))
    seen: list[str] = []
    cursor = 0
    with database.unit_of_work(read_only=True) as uow:
        while page := uow.events.after(cursor, limit=10):
            seen += [e.message_id for e in page]
            cursor = page[-1].id
    assert seen == [f"msg-{n:04d}" for n in range(25)]


def test_each_event_delivered_1_to_5_times_by_8_clients_is_stored_once(
    database: Database,
) -> None:
    rng = random.Random(6)
    deliveries = [n for n in range(EVENTS) for _ in range(rng.randint(1, 5))]
    rng.shuffle(deliveries)
    queues = [deliveries[i::CLIENTS] for i in range(CLIENTS)]
    start = threading.Barrier(CLIENTS)

    def client(queue: list[int]) -> list[tuple[str, int, bool]]:
        start.wait()
        results = []
        for n in queue:
            with database.unit_of_work() as uow:  # one connection and transaction each
                event, created = uow.events.record(_message(n))
            results.append((event.message_id, event.id, created))
        return results

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for batch in pool.map(client, queues) for r in batch]

    assert len(results) == len(deliveries)
    created = Counter(message_id for message_id, _, was_created in results if was_created)
    assert created == Counter({f"msg-{n:04d}": 1 for n in range(EVENTS)})  # once each
    ids = {message_id: set() for message_id, _, _ in results}  # type: dict[str, set[int]]
    for message_id, event_id, _ in results:
        ids[message_id].add(event_id)
    assert all(len(found) == 1 for found in ids.values())  # every replay: the first event
    with database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == EVENTS
        stored = {e.message_id for e in uow.events.after(limit=10 * EVENTS)}
    assert stored == {f"msg-{n:04d}" for n in range(EVENTS)}  # nothing lost
