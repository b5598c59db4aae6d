"""Score versions: readers always get the latest complete version, never a half-written one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from regulars.store import ConflictError, CustomerScore, Database, NotFoundError

AS_OF_1 = datetime(2024, 1, 1, tzinfo=UTC)
AS_OF_2 = datetime(2024, 2, 1, tzinfo=UTC)
CUSTOMERS = 120


def _customers(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        return [uow.customers.create(external_id=f"c{n}").id for n in range(CUSTOMERS)]


def _rows(ids: list[str], segment: str) -> list[CustomerScore]:
    return [
        CustomerScore(
            customer_id=i,
            segment=segment,
            p_alive=0.5,
            clv=float(n),
            at_risk=n % 2 == 0,
            extra={"rfm": "555"},
        )
        for n, i in enumerate(ids)
    ]


def test_write_and_read_a_version(database: Database) -> None:
    ids = _customers(database)
    with database.unit_of_work() as uow:
        assert uow.scores.latest_complete_version() is None
        assert uow.scores.score(ids[0]) is None
        version = uow.scores.write_version(
            AS_OF_1, _rows(ids, "new"), currency="EUR", meta={"model": "bgnbd"}
        )
    assert version.status == "complete" and version.customers == CUSTOMERS
    with database.unit_of_work(read_only=True) as uow:
        latest = uow.scores.latest_complete_version()
        assert latest == version and latest.meta == {"model": "bgnbd"}
        row = uow.scores.score(ids[3])
        assert row is not None and row.clv == 3.0 and row.at_risk is False
        assert row.extra == {"rfm": "555"} and row.version_id == version.id
        assert len(uow.scores.scores()) == CUSTOMERS


def test_a_reader_during_a_write_sees_the_previous_complete_version(database: Database) -> None:
    ids = _customers(database)
    with database.unit_of_work() as uow:
        first = uow.scores.write_version(AS_OF_1, _rows(ids[:50], "old"))
    written, read = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with database.unit_of_work() as uow:
                version = uow.scores.begin_version(AS_OF_2)
                uow.scores.add_scores(version.id, _rows(ids, "new"))
                written.set()
                assert read.wait(30)
                uow.scores.complete_version(version.id)
        except BaseException as err:  # reported by the main thread
            errors.append(err)
            written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert written.wait(30)
    with database.unit_of_work(read_only=True) as uow:
        assert uow.scores.latest_complete_version() == first
        served = uow.scores.scores()
        assert len(served) == 50 and {s.segment for s in served} == {"old"}
        assert [v.id for v in uow.scores.versions()] == [first.id]  # not even "building"
    read.set()
    thread.join(30)
    assert not errors
    with database.unit_of_work(read_only=True) as uow:
        latest = uow.scores.latest_complete_version()
        assert latest is not None and latest.as_of == AS_OF_2 and latest.customers == CUSTOMERS
        assert {s.segment for s in uow.scores.scores()} == {"new"}


def test_a_version_written_in_batches_is_served_only_once_complete(database: Database) -> None:
    ids = _customers(database)
    with database.unit_of_work() as uow:
        first = uow.scores.write_version(AS_OF_1, _rows(ids, "old"))
        building = uow.scores.begin_version(AS_OF_2)
        uow.commit()
        uow.scores.add_scores(building.id, _rows(ids[:60], "new"))
        uow.commit()
        assert uow.scores.latest_complete_version() == first
        uow.scores.add_scores(building.id, _rows(ids[60:], "new"))
        done = uow.scores.complete_version(building.id)
        assert uow.scores.latest_complete_version() == done
        with pytest.raises(ConflictError, match="complete"):
            uow.scores.add_scores(done.id, _rows(ids[:1], "late"))
        with pytest.raises(NotFoundError):
            uow.scores.version(10**6)


def test_prune_keeps_the_newest_complete_versions(database: Database) -> None:
    ids = _customers(database)[:5]
    with database.unit_of_work() as uow:
        made = [
            uow.scores.write_version(datetime(2024, m, 1, tzinfo=UTC), _rows(ids, str(m)))
            for m in range(1, 6)
        ]
        assert uow.scores.prune(keep=2) == 3
        assert [v.id for v in uow.scores.versions()] == [made[4].id, made[3].id]
        assert len(uow.scores.scores(made[3].id)) == 5
