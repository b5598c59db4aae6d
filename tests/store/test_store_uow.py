"""The unit of work owns the transaction: commit on success, rollback on error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from regulars.store import Database, UnitOfWork, run_in_transaction
from regulars.store.tables import metadata


def _count_everything(database: Database) -> int:
    with database.engine.connect() as conn:
        return sum(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        )


class Boom(Exception):
    pass


def test_an_error_rolls_back_everything(database: Database) -> None:
    with pytest.raises(Boom), database.unit_of_work() as uow:
        customer = uow.customers.resolve(email="ann@example.com").customer
        uow.events.record({"messageId": "m1", "event": "Viewed", "userId": "u1"})
        uow.consents.record(customer.id, "email", "granted", at=uow.now(), source="checkout")
        uow.api_keys.create("storefront", ["write"])
        raise Boom
    assert _count_everything(database) == 0


def test_leaving_the_block_commits(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.customers.resolve(email="ann@example.com")
    with database.unit_of_work(read_only=True) as uow:
        assert uow.customers.find("email", "ann@example.com") is not None


def test_explicit_commit_and_rollback(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.customers.resolve(email="kept@example.com")
        uow.commit()
        uow.customers.resolve(email="dropped@example.com")
        uow.rollback()
    with database.unit_of_work() as uow:
        assert uow.customers.find("email", "kept@example.com") is not None
        assert uow.customers.find("email", "dropped@example.com") is None


def test_a_read_only_unit_of_work_refuses_writes(database: Database) -> None:
    with (
        pytest.raises(sa.exc.DBAPIError, match=r"read-only|readonly"),
        database.unit_of_work(read_only=True) as uow,
    ):
        uow.customers.resolve(email="ann@example.com")
    with database.unit_of_work() as uow:  # the next writer on the same pooled connection
        uow.customers.resolve(email="ann@example.com")


def test_the_unit_of_work_is_only_usable_inside_its_block(database: Database) -> None:
    uow = UnitOfWork(database)
    with pytest.raises(RuntimeError, match="outside"):
        _ = uow.connection


def test_run_in_transaction_returns_and_commits(database: Database) -> None:
    created = run_in_transaction(
        database, lambda uow: uow.customers.resolve(external_id="42").customer.id
    )
    with database.unit_of_work(read_only=True) as uow:
        assert uow.customers.require(created).id == created
