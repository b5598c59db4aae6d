"""The ingest writer: single events stored many per transaction, a bad one failing alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from api_support import order_completed, viewed
from sqlalchemy import event

from regulars.errors import InputError
from regulars.service.writer import IngestWriter
from regulars.store import Database


async def _submit_all(writer: IngestWriter, messages: list[dict[str, Any]]) -> list[Any]:
    return await asyncio.gather(*(writer.submit(m) for m in messages), return_exceptions=True)


def test_a_crowd_of_events_shares_commits_and_a_bad_one_fails_alone(database: Database) -> None:
    commits: list[int] = []

    def count(_conn: Any) -> None:
        commits.append(1)

    event.listen(database.engine, "commit", count)
    writer = IngestWriter(database, max_group=50)
    messages = [viewed(f"v-{i}", f"anon-{i % 7}") for i in range(120)]
    bad = order_completed("bad", "u1", "1")
    bad["properties"]["total"] = "lots"
    messages.insert(60, bad)
    messages.append(dict(messages[0]))  # a replay in the crowd
    try:
        outcomes = asyncio.run(_submit_all(writer, messages))
    finally:
        writer.stop()
        event.remove(database.engine, "commit", count)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], InputError)
    assert errors[0].column == "properties.total"
    stored = [o for o in outcomes if not isinstance(o, BaseException)]
    assert sum(o.created for o in stored) == 120 and stored[-1].created is False
    assert stored[-1].event_id == stored[0].event_id
    with database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == 120 and uow.orders.get("1") is None
    assert len(commits) < 121  # messages shared transactions (one each would be 121)


def test_a_stopped_writer_starts_again_on_the_next_event(database: Database) -> None:
    writer = IngestWriter(database)
    first = asyncio.run(writer.submit(viewed("v-1", "a")))
    writer.stop()
    second = asyncio.run(writer.submit(viewed("v-2", "a")))
    writer.stop()
    assert (first.created, second.created) == (True, True)


@pytest.mark.parametrize("group", [1, 3])
def test_any_group_size_gives_the_same_store(database: Database, group: int) -> None:
    writer = IngestWriter(database, max_group=group)
    messages = [order_completed(f"o-{i}", f"u{i % 4}", f"{i}") for i in range(12)]
    try:
        outcomes = asyncio.run(_submit_all(writer, messages + messages[:5]))
    finally:
        writer.stop()
    assert not any(isinstance(o, BaseException) for o in outcomes)
    with database.unit_of_work(read_only=True) as uow:
        assert uow.orders.totals()["EUR"]["orders"] == 12 and uow.events.count() == 12
