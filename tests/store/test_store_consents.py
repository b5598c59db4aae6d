"""Consents: every decision kept per channel; the latest is in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from regulars.errors import InputError
from regulars.store import Database

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_history_is_kept_and_the_latest_decision_counts(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = uow.customers.create(email="ann@example.com")
        assert not uow.consents.allows(ann.id, "email")  # no row: no consent
        uow.consents.record(
            ann.id,
            "email",
            "granted",
            at=T0,
            source="checkout",
            address="ann@example.com",
            evidence={"ip": "203.0.113.9", "form": "Send me news"},
        )
        uow.consents.record(ann.id, "sms", "denied", at=T0, source="checkout")
        uow.consents.record(ann.id, "email", "revoked", at=T0 + timedelta(days=30), source="link")
        # reported late, but decided before the revocation: history, not in force
        uow.consents.record(ann.id, "email", "granted", at=T0 + timedelta(days=1), source="app")
    with database.unit_of_work(read_only=True) as uow:
        history = uow.consents.history(ann.id, "email")
        assert [(c.status, c.source) for c in history] == [
            ("granted", "checkout"),
            ("granted", "app"),
            ("revoked", "link"),
        ]
        assert history[0].evidence == {"ip": "203.0.113.9", "form": "Send me news"}
        assert history[0].address == "ann@example.com"
        current = uow.consents.current(ann.id)
        assert {k: v.status for k, v in current.items()} == {"email": "revoked", "sms": "denied"}
        assert not uow.consents.allows(ann.id, "email")
        uow_later = uow.consents.history(ann.id)
        assert len(uow_later) == 4


def test_the_same_decision_twice_is_kept_once(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = uow.customers.create(email="ann@example.com")
        first = uow.consents.record(ann.id, "push", "granted", at=T0, source="app")
        again = uow.consents.record(ann.id, "PUSH", "granted", at=T0, source="app")
        assert again == first and len(uow.consents.history(ann.id)) == 1
        assert uow.consents.allows(ann.id, "push")


@pytest.mark.parametrize(
    ("channel", "status", "problem"),
    [("email", "maybe", "status"), ("e mail", "granted", "channel"), ("", "granted", "channel")],
)
def test_bad_decisions_are_input_errors(
    database: Database, channel: str, status: str, problem: str
) -> None:
    with pytest.raises(InputError, match=problem), database.unit_of_work() as uow:
        ann = uow.customers.create(email="ann@example.com")
        uow.consents.record(ann.id, channel, status, at=T0, source="x")
