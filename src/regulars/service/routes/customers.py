"""Customers: profile, recommendations, consents, and the GDPR export and erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from regulars.live.profile import customer_profile, find_customer
from regulars.service.auth import require_scope
from regulars.service.deps import database_of
from regulars.service.schemas import ConsentsUpdate
from regulars.store import ApiKey, Database, UnitOfWork, run_in_transaction

__all__ = ["router"]

router = APIRouter(prefix="/v1/customers", tags=["customers"])
Reader = Annotated[ApiKey, Depends(require_scope("read"))]
Writer = Annotated[ApiKey, Depends(require_scope("write"))]
Store = Annotated[Database, Depends(database_of)]
CustomerRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=320,
        description="The customer's regulars id (cus_...), the store's own id, or an email.",
    ),
]


@router.get("/{customer_id}")
def profile(customer_id: CustomerRef, database: Store, _key: Reader) -> dict[str, Any]:
    """Return the customer's profile, latest scores, consents in force and orders summary.

    ``scores`` (RFM segment and segments, CLV with its interval, churn risk, P(alive),
    expected orders and next order date) is ``null`` until `regulars score` has run.
    """
    with database.unit_of_work(read_only=True) as uow:
        return customer_profile(uow, customer_id)


@router.get("/{customer_id}/recommendations")
def recommendations(
    customer_id: CustomerRef,
    database: Store,
    _key: Reader,
    k: Annotated[int, Query(ge=1, le=100, description="How many products.")] = 10,
) -> dict[str, Any]:
    """Return the products to show this customer, best first (from the latest scores).

    Each item says why: ``buy_again`` (due to be bought again), ``cross_sell`` (bought by
    similar customers) or ``popular`` (a customer without history yet).
    """
    from regulars.live.recommendations import customer_recommendations

    with database.unit_of_work(read_only=True) as uow:
        return customer_recommendations(uow, find_customer(uow, customer_id).id, k=k)


@router.put("/{customer_id}/consents")
def put_consents(
    customer_id: CustomerRef, body: ConsentsUpdate, database: Store, _key: Writer
) -> dict[str, Any]:
    """Record consent decisions (per channel: granted, denied or revoked; when and where).

    The history is kept; the answer is the decision in force on each channel.
    """

    def work(uow: UnitOfWork) -> dict[str, Any]:
        customer = find_customer(uow, customer_id)
        now = uow.now()
        for decision in body.consents:
            uow.consents.record(
                customer.id,
                decision.channel,
                decision.status,
                at=decision.at or now,
                source=decision.source,
                address=decision.address,
                evidence=decision.evidence,
            )
        current = uow.consents.current(customer.id)
        return {
            "customer_id": customer.id,
            "consents": {
                channel: {"status": c.status, "at": c.at.isoformat(), "source": c.source}
                for channel, c in sorted(current.items())
            },
        }

    return run_in_transaction(database, work)


@router.get("/{customer_id}/export")
def export(customer_id: CustomerRef, database: Store, _key: Reader) -> dict[str, Any]:
    """Return everything regulars holds about the customer (GDPR art. 15 and 20).

    The profile, merged records, identities, orders with lines and refunds, events with
    their payloads, consents and scores.
    """
    with database.unit_of_work(read_only=True) as uow:
        return uow.privacy.export_customer(find_customer(uow, customer_id).id)


@router.delete("/{customer_id}")
def erase(customer_id: CustomerRef, database: Store, _key: Writer) -> dict[str, Any]:
    """Erase the customer's personal data everywhere (GDPR art. 17).

    Orders stay, with their totals and dates, under a pseudonym no one can tie back to the
    person, so the store's revenue and counts stay right.
    """

    def work(uow: UnitOfWork) -> dict[str, Any]:
        erasure = uow.privacy.erase_customer(find_customer(uow, customer_id).id)
        return {
            "erased": erasure.customer_id,
            "orders_kept_anonymously": erasure.orders,
            "events_scrubbed": erasure.events,
            "consents_kept_anonymously": erasure.consents,
            "identities_deleted": erasure.identities,
        }

    return run_in_transaction(database, work)
