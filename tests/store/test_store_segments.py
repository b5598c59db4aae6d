"""Segments of a score version: counts per segment, paging through one, pruning, erasure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store import CustomerScore, Database
from regulars.store.tables import CUSTOMER_SEGMENTS

AS_OF_1 = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF_2 = datetime(2024, 2, 1, tzinfo=UTC)


def _customers(database: Database, n: int) -> list[str]:
    with database.unit_of_work() as uow:
        return sorted(uow.customers.create(external_id=f"c{i}").id for i in range(n))


def _rows(ids: list[str]) -> list[CustomerScore]:
    rows = []
    for n, customer in enumerate(ids):
        extra = ["first_time_buyer"] if n % 3 == 0 else ["repeat_buyer"]
        if n % 4 == 0:
            extra.append("at_risk")
        segment = "Champions" if n % 2 == 0 else "Lost"
        rows.append(
            CustomerScore(customer, segment=segment, clv=float(n), extra={"segments": extra})
        )
    return rows


def _segment_rows(database: Database) -> int:
    with database.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(CUSTOMER_SEGMENTS)
        return int(conn.execute(query).scalar_one())


def test_segments_count_the_latest_complete_version(database: Database) -> None:
    ids = _customers(database, 30)
    with database.unit_of_work() as uow:
        assert uow.scores.segments() == []
        assert uow.scores.segment_customers("Lost") == []
        old = uow.scores.write_version(AS_OF_1, _rows(ids[:6]))
        uow.scores.write_version(AS_OF_2, _rows(ids))
    with database.unit_of_work(read_only=True) as uow:
        assert uow.scores.segments() == [
            ("Champions", 15),
            ("Lost", 15),
            ("at_risk", 8),
            ("first_time_buyer", 10),
            ("repeat_buyer", 20),
        ]
        assert dict(uow.scores.segments(old.id))["Champions"] == 3


def test_segment_customers_pages_by_customer_id(database: Database) -> None:
    ids = _customers(database, 40)
    with database.unit_of_work() as uow:
        uow.scores.write_version(AS_OF_1, _rows(ids))
    wanted = [c for n, c in enumerate(ids) if n % 2 == 0]
    seen: list[str] = []
    after = None
    with database.unit_of_work(read_only=True) as uow:
        while page := uow.scores.segment_customers("Champions", after=after, limit=7):
            assert len(page) <= 7
            assert all(row.segment == "Champions" for row in page)
            seen += [row.customer_id for row in page]
            after = page[-1].customer_id
        first = uow.scores.segment_customers("at_risk", limit=1)[0]
        assert first.customer_id == ids[0] and first.clv == 0.0
        assert first.extra["segments"] == ["first_time_buyer", "at_risk"]
        assert uow.scores.segment_customers("nobody") == []
        with pytest.raises(InputError, match="page size"):
            uow.scores.segment_customers("Lost", limit=0)
    assert seen == wanted


def test_a_segment_named_twice_counts_once_and_bad_names_are_refused(database: Database) -> None:
    ids = _customers(database, 2)
    with database.unit_of_work() as uow:
        row = CustomerScore(ids[0], segment="Lost", extra={"segments": ["Lost", "at_risk"]})
        uow.scores.write_version(AS_OF_1, [row, CustomerScore(ids[1])])
        assert uow.scores.segments() == [("Lost", 1), ("at_risk", 1)]
    with pytest.raises(InputError, match="not a list"), database.unit_of_work() as uow:
        uow.scores.write_version(AS_OF_2, [CustomerScore(ids[0], extra={"segments": "Lost"})])
    with database.unit_of_work(read_only=True) as uow:  # rolled back: the first one is served
        assert uow.scores.latest_complete_version() is not None
        assert uow.scores.latest_complete_version().as_of == AS_OF_1  # type: ignore[union-attr]


def test_prune_drops_the_segment_rows(database: Database) -> None:
    ids = _customers(database, 10)
    with database.unit_of_work() as uow:
        for day in range(1, 5):
            uow.scores.write_version(datetime(2024, 1, day, tzinfo=UTC), _rows(ids))
    per_version = _segment_rows(database) // 4
    with database.unit_of_work() as uow:
        assert uow.scores.prune(keep=1) == 3
    assert _segment_rows(database) == per_version


def test_erasure_and_merge_drop_the_customers_segment_rows(database: Database) -> None:
    ids = _customers(database, 6)
    with database.unit_of_work() as uow:
        uow.scores.write_version(AS_OF_1, _rows(ids))
    before = dict(_segments(database))
    with database.unit_of_work() as uow:
        uow.privacy.erase_customer(ids[0])  # Champions, first_time_buyer, at_risk
        uow.customers.merge(ids[2], ids[1])  # the loser (Lost, repeat_buyer) loses its scores
    after = dict(_segments(database))
    assert after["Champions"] == before["Champions"] - 1
    assert after["Lost"] == before["Lost"] - 1
    assert "at_risk" not in after or after["at_risk"] == before["at_risk"] - 1
    with database.engine.connect() as conn:
        left = conn.execute(
            sa.select(CUSTOMER_SEGMENTS.c.customer_id).where(
                CUSTOMER_SEGMENTS.c.customer_id.in_(ids[:2])
            )
        ).all()
    assert left == []


def _segments(database: Database) -> list[tuple[str, int]]:
    with database.unit_of_work(read_only=True) as uow:
        return uow.scores.segments()
