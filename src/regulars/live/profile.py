"""A customer as the API shows them: profile, latest scores, consents, orders summary.

::

    with database.unit_of_work(read_only=True) as uow:
        profile = customer_profile(uow, "cus_8f3a...")   # or the store's own id, or an email

Scores come from the latest *complete* version of the customer table (``regulars score``),
never from one still being written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from regulars.store import Customer, CustomerScore, NotFoundError, ScoreVersion, UnitOfWork
from regulars.store.money import from_minor
from regulars.store.tables import ORDERS, REFUNDS

__all__ = ["customer_profile", "find_customer", "order_summary", "score_view"]

SCORE_FIELDS = ("segment", "p_alive", "expected_orders", "churn_risk", "clv", "value_at_risk")
SERVED_APART = ("recommendations",)
"""What ``CustomerScore.extra`` holds that the profile leaves to its own route."""


def find_customer(uow: UnitOfWork, reference: str) -> Customer:
    """Return the customer ``reference`` names: a regulars id, the store's own id, or an email.

    A merged record's id finds the record it was merged into.

    Raises
    ------
    NotFoundError
        If no customer matches.
    """
    customers = uow.customers
    found = customers.get(reference)
    if found is None and reference:
        found = customers.find("external_id", reference)
        if found is None and "@" in reference:
            found = customers.find("email", reference)
    if found is None or found.erased_at is not None:
        raise NotFoundError(
            f"There is no customer {reference!r} (looked for a regulars id, the store's "
            "own customer id and an email)."
        )
    return found


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def order_summary(uow: UnitOfWork, customer_id: str) -> dict[str, Any]:
    """Return the customer's orders in numbers, per currency (cancelled orders apart).

    Amounts are given twice: in minor units (``revenue_minor``, exact) and as a decimal
    string in the currency's major unit (``revenue``).
    """
    conn = uow.connection
    paid = ORDERS.c.status != "cancelled"
    rows = conn.execute(
        sa.select(
            ORDERS.c.currency,
            sa.func.count().label("orders"),
            sa.func.sum(ORDERS.c.total).label("revenue"),
            sa.func.min(ORDERS.c.ordered_at).label("first"),
            sa.func.max(ORDERS.c.ordered_at).label("last"),
        )
        .where(ORDERS.c.customer_id == customer_id, paid)
        .group_by(ORDERS.c.currency)
        .order_by(ORDERS.c.currency)
    ).all()
    refunds = dict(
        conn.execute(
            sa.select(REFUNDS.c.currency, sa.func.sum(REFUNDS.c.amount))
            .join(ORDERS, ORDERS.c.order_id == REFUNDS.c.order_id)
            .where(ORDERS.c.customer_id == customer_id)
            .group_by(REFUNDS.c.currency)
        ).all()
    )
    cancelled = conn.execute(
        sa.select(sa.func.count()).where(
            ORDERS.c.customer_id == customer_id, ORDERS.c.status == "cancelled"
        )
    ).scalar_one()
    by_currency = []
    for row in rows:
        refunded = int(refunds.get(row.currency) or 0)
        revenue = int(row.revenue or 0)
        by_currency.append(
            {
                "currency": row.currency,
                "orders": int(row.orders),
                "revenue_minor": revenue,
                "revenue": str(from_minor(revenue, row.currency)),
                "refunded_minor": refunded,
                "refunded": str(from_minor(refunded, row.currency)),
                "average_order_value": str(
                    from_minor(round(revenue / row.orders), row.currency) if row.orders else 0
                ),
            }
        )
    # min/max keep the column's type: aware UTC datetimes on both backends.
    firsts = [r.first for r in rows]
    lasts = [r.last for r in rows]
    return {
        "orders": sum(int(r.orders) for r in rows),
        "cancelled_orders": int(cancelled),
        "first_order_at": _iso(min(firsts)) if firsts else None,
        "last_order_at": _iso(max(lasts)) if lasts else None,
        "by_currency": by_currency,
    }


def score_view(score: CustomerScore, version: ScoreVersion) -> dict[str, Any]:
    """Return a customer's row of the customer table as the API shows it."""
    view: dict[str, Any] = {
        "version": version.id,
        "as_of": _iso(version.as_of),
        "currency": version.currency,
    }
    for name in SCORE_FIELDS:
        view[name] = getattr(score, name)
    view["at_risk"] = score.at_risk
    extra: Mapping[str, Any] = score.extra or {}
    view.update({k: v for k, v in extra.items() if k not in SERVED_APART})
    if view.get("segments") is None:
        view["segments"] = [score.segment] if score.segment else []
    return view


def customer_profile(uow: UnitOfWork, reference: str) -> dict[str, Any]:
    """Return everything the API shows about a customer.

    Keys: ``id``, ``email``, ``first_name``, ``last_name``, ``phone``, ``traits``,
    ``identities`` (kind and value), ``created_at``, ``updated_at``, ``scores`` (the latest
    complete version's row, or ``None`` when the customer has not been scored yet),
    ``consents`` (the decision in force per channel) and ``orders`` (:func:`order_summary`).

    Raises
    ------
    NotFoundError
        If no customer matches ``reference`` (see :func:`find_customer`).
    """
    customer = find_customer(uow, reference)
    version = uow.scores.latest_complete_version()
    # customer.id is the live record, just read: the repositories need not look it up again.
    score = (
        None
        if version is None
        else uow.scores.score(customer.id, version_id=version.id, canonical=True)
    )
    consents = uow.consents.current(customer.id, canonical=True)
    identities = uow.customers.identities(customer.id, canonical=True)
    return {
        "id": customer.id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "traits": dict(customer.traits),
        "identities": [{"kind": i.kind, "value": i.value} for i in identities],
        "created_at": _iso(customer.created_at),
        "updated_at": _iso(customer.updated_at),
        "scores": None if score is None or version is None else score_view(score, version),
        "consents": {
            channel: {"status": c.status, "at": _iso(c.at), "source": c.source}
            for channel, c in sorted(consents.items())
        },
        "orders": order_summary(uow, customer.id),
    }
