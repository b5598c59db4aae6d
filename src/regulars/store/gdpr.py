"""GDPR: export everything held about a customer, and erase it.

What :meth:`PrivacyRepository.erase_customer` does, in the unit of work's transaction:

- a new customer record with a random pseudonym (``anon_...``) and no personal data takes
  over the customer's orders, refunds, events and consents, so the store's order counts,
  revenue and dates stay right and the records can no longer be tied to the person;
- orders and their lines, totals, currency and dates are kept; refund reasons (free text)
  are cleared;
- every event of the customer (linked to them, or carrying one of their ids, or mentioning
  one of their email addresses anywhere in its payload) keeps its type, name,
  ``messageId`` (so a replay stays deduplicated) and times; its ``userId``,
  ``anonymousId`` and payload (properties, traits, context) are dropped;
- consents keep channel, status, time and source; address and evidence are cleared;
- identities, scores and their segment rows, the customer record and the records merged
  into it are deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from regulars.store._sql import like_text
from regulars.store.tables import (
    CONSENTS,
    CUSTOMER_IDENTITIES,
    CUSTOMER_SCORES,
    CUSTOMER_SEGMENTS,
    CUSTOMERS,
    EVENTS,
    ORDERS,
    REFUNDS,
    SCORE_VERSIONS,
)
from regulars.store.types import new_id
from regulars.store.uow import Repository

__all__ = ["ERASED_PAYLOAD", "Erasure", "PrivacyRepository"]

ERASED_PAYLOAD: Mapping[str, Any] = {"erased": True}
"""What an erased event's payload becomes."""


@dataclass(frozen=True)
class Erasure:
    """What an erasure did."""

    customer_id: str
    pseudonym: str
    orders: int
    events: int
    consents: int
    identities: int


def _plain(value: Any) -> Any:
    """Return ``value`` with datetimes as ISO text, ready for JSON."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_plain(v) for v in value]
    return value


def _rows(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    return [_plain(dict(row._mapping)) for row in result]


class PrivacyRepository(Repository):
    """Data-subject requests: export and erasure."""

    def export_customer(self, customer_id: str) -> dict[str, Any]:
        """Return everything the store holds about a customer, as JSON-ready data.

        Keys: ``customer``, ``merged_records``, ``identities``, ``orders`` (each with its
        ``lines`` and ``refunds``), ``events`` (with their payloads), ``consents``,
        ``scores`` (with their version's ``as_of``).

        Raises
        ------
        NotFoundError
            If there is no such customer.
        """
        customer = self._uow.customers.require(customer_id)
        ids = [customer.id, *self._uow.customers.merged_ids(customer.id)]
        conn = self._conn
        orders = []
        for order in self._uow.orders.for_customer(customer.id):
            entry = _plain(asdict(order))
            entry["refunds"] = [_plain(asdict(r)) for r in self._uow.orders.refunds(order.order_id)]
            orders.append(entry)
        scores = conn.execute(
            sa.select(CUSTOMER_SCORES, SCORE_VERSIONS.c.as_of, SCORE_VERSIONS.c.status)
            .join(SCORE_VERSIONS, SCORE_VERSIONS.c.id == CUSTOMER_SCORES.c.version_id)
            .where(CUSTOMER_SCORES.c.customer_id.in_(ids))
            .order_by(CUSTOMER_SCORES.c.version_id)
        )
        return {
            "customer": _plain(asdict(customer)),
            "merged_records": ids[1:],
            "identities": _rows(
                conn.execute(
                    sa.select(
                        CUSTOMER_IDENTITIES.c.kind,
                        CUSTOMER_IDENTITIES.c.value,
                        CUSTOMER_IDENTITIES.c.created_at,
                    )
                    .where(CUSTOMER_IDENTITIES.c.customer_id.in_(ids))
                    .order_by(CUSTOMER_IDENTITIES.c.id)
                )
            ),
            "orders": orders,
            "events": _rows(
                conn.execute(
                    sa.select(EVENTS)
                    .where(self._events_of(customer.id, ids))
                    .order_by(EVENTS.c.occurred_at, EVENTS.c.id)
                )
            ),
            "consents": _rows(
                conn.execute(
                    sa.select(CONSENTS)
                    .where(CONSENTS.c.customer_id.in_(ids))
                    .order_by(CONSENTS.c.at, CONSENTS.c.id)
                )
            ),
            "scores": _rows(scores),
        }

    def erase_customer(self, customer_id: str) -> Erasure:
        """Erase a customer's personal data everywhere, keeping anonymous order totals.

        Erasing a customer already erased does nothing more (and returns zero counts).

        Raises
        ------
        NotFoundError
            If there is no such customer.
        """
        customer = self._uow.customers.require(customer_id)
        if customer.erased_at is not None:
            return Erasure(customer.id, customer.id, 0, 0, 0, 0)
        ids = [customer.id, *self._uow.customers.merged_ids(customer.id)]
        events_filter = self._events_of(customer.id, ids)
        conn = self._conn
        now = self._now()
        pseudonym = new_id("anon")
        conn.execute(
            sa.insert(CUSTOMERS).values(
                id=pseudonym,
                traits={},
                created_at=customer.created_at,
                updated_at=now,
                erased_at=now,
            )
        )
        orders = conn.execute(
            sa.update(ORDERS).where(ORDERS.c.customer_id.in_(ids)).values(customer_id=pseudonym)
        ).rowcount
        conn.execute(
            sa.update(REFUNDS)
            .where(
                REFUNDS.c.order_id.in_(
                    sa.select(ORDERS.c.order_id).where(ORDERS.c.customer_id == pseudonym)
                )
            )
            .values(reason=None)
        )
        events = conn.execute(
            sa.update(EVENTS)
            .where(events_filter)
            .values(
                customer_id=pseudonym, user_id=None, anonymous_id=None, payload=dict(ERASED_PAYLOAD)
            )
        ).rowcount
        consents = conn.execute(
            sa.update(CONSENTS)
            .where(CONSENTS.c.customer_id.in_(ids))
            .values(customer_id=pseudonym, address=None, evidence=None)
        ).rowcount
        scored_in = sa.select(CUSTOMER_SCORES.c.version_id).where(
            CUSTOMER_SCORES.c.customer_id.in_(ids)
        )
        conn.execute(  # the foreign key cascades too; explicit, through the index
            sa.delete(CUSTOMER_SEGMENTS).where(
                CUSTOMER_SEGMENTS.c.version_id.in_(scored_in),
                CUSTOMER_SEGMENTS.c.customer_id.in_(ids),
            )
        )
        conn.execute(sa.delete(CUSTOMER_SCORES).where(CUSTOMER_SCORES.c.customer_id.in_(ids)))
        identities = conn.execute(
            sa.delete(CUSTOMER_IDENTITIES).where(CUSTOMER_IDENTITIES.c.customer_id.in_(ids))
        ).rowcount
        conn.execute(sa.delete(CUSTOMERS).where(CUSTOMERS.c.id.in_(ids[1:])))
        conn.execute(sa.delete(CUSTOMERS).where(CUSTOMERS.c.id == customer.id))
        return Erasure(customer.id, pseudonym, orders, events, consents, identities)

    def _events_of(self, customer_id: str, ids: list[str]) -> sa.ColumnElement[bool]:
        """Return the condition that selects the events holding the customer's data."""
        identities = self._conn.execute(
            sa.select(CUSTOMER_IDENTITIES.c.kind, CUSTOMER_IDENTITIES.c.value).where(
                CUSTOMER_IDENTITIES.c.customer_id.in_(ids)
            )
        ).all()
        anonymous = [i.value for i in identities if i.kind == "anonymous_id"]
        external = [i.value for i in identities if i.kind == "external_id"]
        emails = [i.value for i in identities if i.kind == "email"]
        customer = self._uow.customers.get(customer_id)
        if customer is not None and customer.email and customer.email not in emails:
            emails.append(customer.email)
        clauses: list[sa.ColumnElement[bool]] = [EVENTS.c.customer_id.in_(ids)]
        if anonymous:
            clauses.append(EVENTS.c.anonymous_id.in_(anonymous))
        if external:
            clauses.append(EVENTS.c.user_id.in_(external))
        clauses += [like_text(EVENTS.c.payload, email) for email in emails]
        return sa.or_(*clauses)
