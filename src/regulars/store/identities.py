"""The identities that recognise customers: their stored form and the SQL on their table.

An identity is an email (lower-cased), an external id (the shop's customer id, Segment's
``userId``) or an anonymous id (Segment's ``anonymousId``); each belongs to one customer at
most. These helpers run in the caller's transaction;
:class:`~regulars.store.customers.CustomerRepository` decides what to link, merge or lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from regulars.errors import InputError
from regulars.store._sql import insert_ignore
from regulars.store.tables import CUSTOMER_IDENTITIES, CUSTOMERS, EVENTS, IDENTITY_KINDS
from regulars.store.types import check_text

__all__ = [
    "attach_anonymous_events",
    "insert_identity",
    "live_owners",
    "lock_anonymous_id",
    "lock_anonymous_ids",
    "normalize_identity",
    "owner_of",
    "owners_of",
]

_ANONYMOUS_LOCK_SPACE = 0x616E6F6E  # "anon": the first key of the anonymous-id locks


def normalize_identity(kind: str, value: Any) -> str:
    """Return the stored form of an identity (emails lower-cased, text stripped).

    Raises
    ------
    InputError
        If ``kind`` is unknown or ``value`` is not a valid identity of that kind.
    """
    if kind not in IDENTITY_KINDS:
        raise InputError(
            "Unknown identity kind.",
            value=kind,
            expected=f"one of {', '.join(IDENTITY_KINDS)}",
        )
    if kind == "email":
        email = check_text(value, field="email", max_length=320).lower()
        local, _, domain = email.partition("@")
        if not local or not domain or " " in email:
            raise InputError("Not an email address.", column="email", value=value)
        return email
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # Segment allows numeric user ids
    return check_text(value, field=kind, max_length=255)


def owner_of(conn: Connection, kind: str, value: str) -> str | None:
    """Return the id of the record the identity (stored form) belongs to, or ``None``."""
    owner = conn.execute(
        sa.select(CUSTOMER_IDENTITIES.c.customer_id).where(
            CUSTOMER_IDENTITIES.c.kind == kind, CUSTOMER_IDENTITIES.c.value == value
        )
    ).scalar_one_or_none()
    return None if owner is None else str(owner)


def owners_of(
    conn: Connection, identities: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Return the owners of the identities ``(kind, value)`` that have one, in one query."""
    table = CUSTOMER_IDENTITIES
    rows = conn.execute(
        sa.select(table.c.kind, table.c.value, table.c.customer_id).where(_any_of(identities))
    )
    return {(r.kind, r.value): str(r.customer_id) for r in rows}


def _any_of(identities: Iterable[tuple[str, str]]) -> sa.ColumnElement[bool]:
    """Return "the identity is one of these (kind, value) pairs".

    An OR of pairs, not a row-value IN: SQLite searches its (kind, value) index for each
    term of an OR, but scans the whole table for a row-value IN list.
    """
    table = CUSTOMER_IDENTITIES
    return sa.or_(*(sa.and_(table.c.kind == k, table.c.value == v) for k, v in identities))


def insert_identity(
    conn: Connection, customer_id: str, kind: str, value: str, *, at: datetime
) -> bool:
    """Give the record the identity unless it belongs to one already; return whether it did."""
    row = {"customer_id": customer_id, "kind": kind, "value": value, "created_at": at}
    return insert_ignore(conn, CUSTOMER_IDENTITIES, row, ("kind", "value"))


def attach_anonymous_events(conn: Connection, customer_id: str, anonymous_id: str) -> int:
    """Give the record the events of the anonymous id that belong to nobody; return how many."""
    result = conn.execute(
        sa.update(EVENTS)
        .where(EVENTS.c.anonymous_id == anonymous_id, EVENTS.c.customer_id.is_(None))
        .values(customer_id=customer_id)
    )
    return int(result.rowcount)


def lock_anonymous_id(conn: Connection, anonymous_id: str) -> None:
    """Hold the anonymous id (stored form) until the transaction ends, on PostgreSQL.

    An advisory lock in the two-key space, which never meets the migrations' single-key
    one; SQLite runs one writer at a time, so there is nothing to do there.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:value))"),
            {"space": _ANONYMOUS_LOCK_SPACE, "value": anonymous_id},
        )


def lock_anonymous_ids(conn: Connection, anonymous_ids: Sequence[str]) -> None:
    """Take :func:`lock_anonymous_id`'s lock on many anonymous ids, in one statement.

    The locks are taken in the order of their keys, so two transactions locking sets that
    overlap wait for each other instead of deadlocking.
    """
    if conn.dialect.name != "postgresql" or not anonymous_ids:
        return
    conn.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(:space, key) FROM (SELECT DISTINCT hashtext(v) AS key"
            " FROM unnest(CAST(:values AS text[])) AS v ORDER BY key) AS keys"
        ),
        {"space": _ANONYMOUS_LOCK_SPACE, "values": sorted(set(anonymous_ids))},
    )


def live_owners(
    conn: Connection, identities: Sequence[tuple[str, str]], *, lock: bool
) -> dict[tuple[str, str], tuple[str, bool, bool]]:
    """Return the owners of the identities ``(kind, value)`` that have one, in one query.

    Each maps to ``(customer_id, live, has_email)``: ``live`` when the record is neither
    merged nor erased. With ``lock`` (PostgreSQL, in a writing transaction), the owners'
    rows are locked ``FOR KEY SHARE``, in id order, as the customer repository's reads
    are: no merge or deletion of them can commit before this transaction ends.
    """
    if not identities:
        return {}
    ci, c = CUSTOMER_IDENTITIES, CUSTOMERS
    query = (
        sa.select(
            ci.c.kind,
            ci.c.value,
            ci.c.customer_id,
            (c.c.merged_into.is_(None) & c.c.erased_at.is_(None)).label("live"),
            c.c.email.is_not(None).label("has_email"),
        )
        .select_from(ci.join(c, c.c.id == ci.c.customer_id))
        .where(_any_of(set(identities)))
        .order_by(c.c.id)
    )
    if lock:
        query = query.with_for_update(read=True, key_share=True, of=c)
    return {
        (row.kind, row.value): (str(row.customer_id), bool(row.live), bool(row.has_email))
        for row in conn.execute(query)
    }
