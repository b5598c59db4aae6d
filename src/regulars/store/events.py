"""Raw events: Segment messages stored once per ``messageId``.

:meth:`EventRepository.record` is idempotent and race-safe: it inserts with
``ON CONFLICT (message_id) DO NOTHING RETURNING`` (one statement for a new event) and reads
the stored row only when nothing was inserted, so whichever delivery of a message commits
first is the one kept, and every replay (concurrent or later) gets that first stored event
with ``created=False``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from regulars.errors import InputError
from regulars.store.errors import NotFoundError
from regulars.store.identities import normalize_identity
from regulars.store.records import Event
from regulars.store.tables import EVENTS
from regulars.store.types import check_text, optional_text, utc
from regulars.store.uow import Repository

__all__ = ["SEGMENT_TYPES", "EventRepository", "parse_timestamp"]

SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
"""The Segment message types the store accepts."""


def parse_timestamp(value: Any, *, field: str = "timestamp") -> datetime:
    """Read a Segment timestamp (ISO 8601 with a zone, or an aware datetime) as UTC.

    Raises
    ------
    InputError
        If the value is not a point in time with a time zone.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InputError(
                "Not an ISO 8601 timestamp.",
                column=field,
                value=value,
                expected="e.g. 2024-05-01T12:00:00Z",
            ) from None
    return utc(value, field=field)


def _event(row: Any) -> Event:
    return Event(
        id=int(row.id),
        message_id=row.message_id,
        type=row.type,
        event=row.event,
        user_id=row.user_id,
        anonymous_id=row.anonymous_id,
        customer_id=row.customer_id,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        payload=row.payload,
    )


def _identity(message: Mapping[str, Any], key: str, kind: str) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        return None
    return normalize_identity(kind, value)


class EventRepository(Repository):
    """Store and read raw events."""

    def record(
        self,
        message: Mapping[str, Any],
        *,
        customer_id: str | None = None,
        canonical: bool = False,
    ) -> tuple[Event, bool]:
        """Store a Segment message unless its ``messageId`` is already stored.

        Parameters
        ----------
        message
            The message as received (kept whole in ``payload``): ``messageId`` is required;
            ``type`` defaults to ``track`` (which needs ``event``); ``timestamp`` defaults
            to the time of receipt.
        customer_id
            The customer the caller resolved; by default the owner of the message's
            ``userId`` (as external id) or ``anonymousId``, when one is known.
        canonical
            Whether ``customer_id`` is already the live record's id, read in this
            transaction (as :meth:`~regulars.store.customers.CustomerRepository.resolve`
            returns it): it is then stored as given, without reading the customer again.

        Returns
        -------
        tuple[Event, bool]
            The stored event, and whether this call stored it (``False``: a replay, and the
            event is the one stored first).

        Raises
        ------
        InputError
            If the message has no usable ``messageId``, type, event name or timestamp, or
            cannot be stored as JSON.
        """
        if not isinstance(message, Mapping):
            raise InputError("An event must be a JSON object.", value=message)
        message_id = check_text(message.get("messageId"), field="messageId", max_length=255)
        try:
            values = self._values(message, message_id, customer_id, canonical=canonical)
        except (InputError, NotFoundError):
            existing = self.get(message_id)  # a replay is not checked again
            if existing is None:
                raise
            return existing, False
        insert = postgresql.insert if self._uow.backend == "postgresql" else sqlite.insert
        inserted = self._conn.execute(
            insert(EVENTS)
            .values(values)
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(*EVENTS.columns)
        ).first()
        if inserted is not None:
            return _event(inserted), True
        stored = self.get(message_id)  # a replay, or a concurrent delivery committed first
        assert stored is not None, "an event not inserted for its message id is there"
        return stored, False

    def record_new(
        self, messages: Sequence[tuple[Mapping[str, Any], str | None]]
    ) -> dict[str, Event]:
        """Store many messages whose customers the caller knows, in one statement.

        Parameters
        ----------
        messages
            Pairs of a message (as :meth:`record` takes it, with distinct ``messageId``
            values) and its customer: a live record read in this transaction, or ``None``
            for a message that belongs to nobody (stored so, without any lookup).

        Returns
        -------
        dict[str, Event]
            The events stored, by ``messageId``. A message missing from it was stored
            before (or by a concurrent transaction): a replay, for :meth:`get` to answer.

        Raises
        ------
        InputError
            If a message has no usable ``messageId``, type, event name or timestamp.
        """
        if not messages:
            return {}
        rows = [
            self._values(
                message,
                check_text(message.get("messageId"), field="messageId", max_length=255),
                customer_id,
                canonical=True,
                look_up=False,
            )
            for message, customer_id in messages
        ]
        insert = postgresql.insert if self._uow.backend == "postgresql" else sqlite.insert
        statement = (
            insert(EVENTS)
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(*EVENTS.columns)
        )
        stored = self._conn.execute(statement, rows)  # one multi-row INSERT (insertmanyvalues)
        return {row.message_id: _event(row) for row in stored}

    def get(self, message_id: str) -> Event | None:
        """Return the event stored under ``message_id``, or ``None``."""
        row = self._conn.execute(sa.select(EVENTS).where(EVENTS.c.message_id == message_id)).first()
        return None if row is None else _event(row)

    def for_customer(self, customer_id: str) -> list[Event]:
        """Return the customer's events (merged records included), oldest first."""
        target = self._uow.customers.canonical_id(customer_id)
        rows = self._conn.execute(
            sa.select(EVENTS)
            .where(EVENTS.c.customer_id == target)
            .order_by(EVENTS.c.occurred_at, EVENTS.c.id)
        )
        return [_event(r) for r in rows]

    def after(self, event_id: int = 0, *, limit: int = 1000) -> list[Event]:
        """Return up to ``limit`` events stored after ``event_id``, in storage order.

        The cursor for copying events elsewhere: pass the last id returned to get the next
        page.
        """
        rows = self._conn.execute(
            sa.select(EVENTS).where(EVENTS.c.id > event_id).order_by(EVENTS.c.id).limit(limit)
        )
        return [_event(r) for r in rows]

    def count(self) -> int:
        """Return how many events are stored."""
        return int(self._conn.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar_one())

    def _values(
        self,
        message: Mapping[str, Any],
        message_id: str,
        customer_id: str | None,
        *,
        canonical: bool,
        look_up: bool = True,
    ) -> dict[str, Any]:
        kind = str(message.get("type") or "track").strip().lower()
        if kind not in SEGMENT_TYPES:
            raise InputError(
                "Unknown Segment message type.",
                column="type",
                value=message.get("type"),
                expected=f"one of {', '.join(SEGMENT_TYPES)}",
            )
        name = optional_text(message.get("event"), field="event", max_length=200)
        if kind == "track" and name is None:
            raise InputError("A track message needs an event name.", column="event")
        user_id = _identity(message, "userId", "external_id")
        anonymous_id = _identity(message, "anonymousId", "anonymous_id")
        received_at = self._now()
        stamp = message.get("timestamp")
        occurred_at = received_at if stamp is None else parse_timestamp(stamp)
        try:
            payload = json.loads(json.dumps(dict(message), allow_nan=False))
        except (TypeError, ValueError) as err:
            raise InputError(f"The event cannot be stored as JSON: {err}.") from None
        return {
            "message_id": message_id,
            "type": kind,
            "event": name,
            "user_id": user_id,
            "anonymous_id": anonymous_id,
            "customer_id": (
                customer_id
                if canonical and (customer_id is not None or not look_up)
                else self._customer(customer_id, user_id, anonymous_id)
            ),
            "occurred_at": occurred_at,
            "received_at": received_at,
            "payload": payload,
        }

    def _customer(
        self, customer_id: str | None, user_id: str | None, anonymous_id: str | None
    ) -> str | None:
        customers = self._uow.customers
        if customer_id is not None:
            return customers.canonical_id(customer_id)
        if anonymous_id is not None:
            customers.lock_anonymous_id(anonymous_id)  # no race with a link of the same id
        for kind, value in (("external_id", user_id), ("anonymous_id", anonymous_id)):
            if value is not None and (found := customers.find(kind, value)) is not None:
                return found.id
        return None
