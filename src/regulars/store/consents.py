"""Consents: per customer and channel, every decision kept, the latest one in force.

A consent row says that, at ``at``, the customer ``granted``, ``denied`` or ``revoked``
permission to be contacted on a channel (``email``, ``sms``, ``push``, ...), as reported by
``source`` ("checkout", "preference centre", "import"). Rows are never updated: the
history is the record of proof. The decision in force on a channel is the one with the
latest ``at`` (the latest recorded wins a tie); no row means no consent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store.records import Consent
from regulars.store.tables import CONSENT_STATUSES, CONSENTS
from regulars.store.types import check_text, optional_text, utc
from regulars.store.uow import Repository

__all__ = ["ConsentRepository"]

_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _consent(row: Any) -> Consent:
    return Consent(
        id=int(row.id),
        customer_id=row.customer_id,
        channel=row.channel,
        status=row.status,
        at=row.at,
        source=row.source,
        recorded_at=row.recorded_at,
        address=row.address,
        evidence=row.evidence,
    )


def _channel(value: Any) -> str:
    channel = value.strip().lower() if isinstance(value, str) else ""
    if not _CHANNEL.match(channel):
        raise InputError(
            "Not a channel name.",
            column="channel",
            value=value,
            expected="a short lower-case name such as email, sms or push",
        )
    return channel


class ConsentRepository(Repository):
    """Record and read consent decisions."""

    def record(
        self,
        customer_id: str,
        channel: str,
        status: str,
        *,
        at: datetime,
        source: str,
        address: str | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> Consent:
        """Add a decision to the customer's history and return it.

        The same decision sent again (same channel, status, time and source) is not added
        twice: the stored one is returned.

        Parameters
        ----------
        customer_id
            The customer (a merged record's id finds its survivor).
        channel
            ``email``, ``sms``, ``push``, ...
        status
            ``granted``, ``denied`` or ``revoked``.
        at
            When the customer decided (aware datetime).
        source
            Where the decision was taken or reported.
        address
            The email address or phone number the decision is about (personal data).
        evidence
            Proof of the decision (form text, IP address, ...; personal data).
        """
        target = self._uow.customers.canonical_id(customer_id)
        if status not in CONSENT_STATUSES:
            raise InputError(
                "Unknown consent status.",
                column="status",
                value=status,
                expected=f"one of {', '.join(CONSENT_STATUSES)}",
            )
        values = {
            "customer_id": target,
            "channel": _channel(channel),
            "status": status,
            "at": utc(at, field="at"),
            "source": check_text(source, field="source", max_length=100),
        }
        same = self._conn.execute(
            sa.select(CONSENTS).where(*(CONSENTS.c[k] == v for k, v in values.items()))
        ).first()
        if same is not None:
            return _consent(same)
        consent_id = self._conn.execute(
            sa.insert(CONSENTS)
            .values(
                **values,
                address=optional_text(address, field="address", max_length=320),
                evidence=dict(evidence) if evidence is not None else None,
                recorded_at=self._now(),
            )
            .returning(CONSENTS.c.id)
        ).scalar_one()
        row = self._conn.execute(sa.select(CONSENTS).where(CONSENTS.c.id == consent_id)).one()
        return _consent(row)

    def history(
        self, customer_id: str, channel: str | None = None, *, canonical: bool = False
    ) -> list[Consent]:
        """Return the customer's decisions (on one channel, or all), oldest first.

        ``canonical=True``: ``customer_id`` is known to be the live record (read in this
        transaction), so it is not looked up again.
        """
        target = customer_id if canonical else self._uow.customers.canonical_id(customer_id)
        query = sa.select(CONSENTS).where(CONSENTS.c.customer_id == target)
        if channel is not None:
            query = query.where(CONSENTS.c.channel == _channel(channel))
        rows = self._conn.execute(query.order_by(CONSENTS.c.at, CONSENTS.c.id))
        return [_consent(r) for r in rows]

    def current(self, customer_id: str, *, canonical: bool = False) -> dict[str, Consent]:
        """Return the decision in force on each channel the customer has decided about.

        ``canonical``: as for :meth:`history`.
        """
        latest: dict[str, Consent] = {}
        for consent in self.history(customer_id, canonical=canonical):
            latest[consent.channel] = consent  # history is ordered: the last one wins
        return latest

    def allows(self, customer_id: str, channel: str) -> bool:
        """Whether the decision in force on ``channel`` is ``granted``."""
        decision = self.current(customer_id).get(_channel(channel))
        return decision is not None and decision.granted
