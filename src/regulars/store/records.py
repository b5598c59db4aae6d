"""What the repositories take and give back: plain frozen dataclasses, no SQLAlchemy.

Money fields are integers in minor units of the record's (or its order's) ``currency``;
times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ApiKey",
    "Consent",
    "Customer",
    "CustomerScore",
    "Event",
    "Identity",
    "IssuedKey",
    "Order",
    "OrderLine",
    "Refund",
    "Resolution",
    "ScoreVersion",
]


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored: never its secret."""

    id: int
    prefix: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        """Whether the key may do ``scope`` (``admin`` may do everything); revoked: never."""
        if self.revoked_at is not None:
            return False
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class IssuedKey:
    """A key just created: ``token`` is shown once and cannot be recovered later."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class Customer:
    """A customer record; ``merged_into`` is set on a record merged into another."""

    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    traits: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    merged_into: str | None = None
    merged_at: datetime | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class Identity:
    """One way of recognising a customer: an email, an external id or an anonymous id."""

    kind: str
    value: str
    customer_id: str
    created_at: datetime


@dataclass(frozen=True)
class Resolution:
    """What :meth:`~regulars.store.customers.CustomerRepository.resolve` did."""

    customer: Customer
    created: bool
    merged: tuple[str, ...] = ()
    """Ids of the records merged into ``customer`` on the way."""


@dataclass(frozen=True)
class Event:
    """A raw Segment message as stored (``payload`` is the message as received)."""

    id: int
    message_id: str
    type: str
    event: str | None
    user_id: str | None
    anonymous_id: str | None
    customer_id: str | None
    occurred_at: datetime
    received_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class OrderLine:
    """One product line; money in minor units of the order's currency."""

    line_no: int
    product_id: str
    quantity: int
    unit_price: int
    line_total: int
    sku: str | None = None
    name: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Order:
    """An order with its lines; money in minor units of ``currency``."""

    order_id: str
    customer_id: str | None
    ordered_at: datetime
    currency: str
    subtotal: int
    total: int
    discount_total: int = 0
    shipping_total: int = 0
    tax_total: int = 0
    status: str = "paid"
    lines: tuple[OrderLine, ...] = ()
    discount_codes: tuple[str, ...] = ()
    channel: str | None = None
    source_name: str | None = None


@dataclass(frozen=True)
class Refund:
    """A refund of (part of) an order; ``lines`` are dicts of product_id, quantity, amount."""

    refund_id: str
    order_id: str
    refunded_at: datetime
    amount: int
    currency: str
    reason: str | None = None
    lines: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Consent:
    """One consent decision for one channel, as the source reported it."""

    id: int
    customer_id: str
    channel: str
    status: str
    at: datetime
    source: str
    recorded_at: datetime
    address: str | None = None
    evidence: Mapping[str, Any] | None = None

    @property
    def granted(self) -> bool:
        """Whether this decision allows messages on the channel."""
        return self.status == "granted"


@dataclass(frozen=True)
class ScoreVersion:
    """One computation of the customer table."""

    id: int
    as_of: datetime
    status: str
    customers: int
    started_at: datetime
    completed_at: datetime | None = None
    currency: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerScore:
    """One customer's row of the customer table (model outputs are floats)."""

    customer_id: str
    segment: str | None = None
    p_alive: float | None = None
    expected_orders: float | None = None
    churn_risk: float | None = None
    clv: float | None = None
    value_at_risk: float | None = None
    at_risk: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    version_id: int | None = None
