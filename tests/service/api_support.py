"""What the API tests share: a client with a key per scope, and a small shop's events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from regulars.service import ServiceSettings, create_app
from regulars.store import Database


@dataclass
class Api:
    """A test client of the app, with a token per scope."""

    client: TestClient
    app: FastAPI
    database: Database
    tokens: dict[str, str]

    def headers(self, scope: str) -> dict[str, str]:
        """Return the Authorization header of the ``scope`` key."""
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


def make_api(
    database: Database, settings: ServiceSettings | None = None, *, ingest_lane: bool = True
) -> Iterator[Api]:
    """Yield an :class:`Api` over ``database`` with keys read, write, admin and read+write."""
    with database.unit_of_work() as uow:
        tokens = {
            "read": uow.api_keys.create("reader", ["read"]).token,
            "write": uow.api_keys.create("writer", ["write"]).token,
            "admin": uow.api_keys.create("admin", ["admin"]).token,
            "both": uow.api_keys.create("shop", ["read", "write"]).token,
        }
    app = create_app(database, settings or ServiceSettings(), ingest_lane=ingest_lane)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app, database, tokens)


def order_completed(
    message_id: str,
    user_id: str | None,
    order_id: str,
    *,
    anonymous_id: str | None = None,
    total: float = 30.0,
    products: list[tuple[str, float, int]] | None = None,
    timestamp: str = "2026-11-20T10:00:00Z",
    email: str | None = None,
) -> dict[str, Any]:
    """Return an ``Order Completed`` track message (EUR)."""
    items = products or [("mug", 10.0, 1), ("tea", 20.0, 1)]
    message: dict[str, Any] = {
        "messageId": message_id,
        "type": "track",
        "event": "Order Completed",
        "timestamp": timestamp,
        "properties": {
            "order_id": order_id,
            "total": total,
            "revenue": total,
            "currency": "EUR",
            "products": [
                {"product_id": p, "price": price, "quantity": q, "name": p.title()}
                for p, price, q in items
            ],
        },
    }
    if user_id is not None:
        message["userId"] = user_id
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    if email is not None:
        message["context"] = {"traits": {"email": email}}
    return message


def identify(
    message_id: str, user_id: str, email: str, *, anonymous_id: str | None = None
) -> dict[str, Any]:
    """Return an ``identify`` message with a name and an email."""
    message: dict[str, Any] = {
        "messageId": message_id,
        "type": "identify",
        "userId": user_id,
        "traits": {"email": email, "firstName": "Ann", "lastName": "Lee", "phone": "+3312345"},
        "timestamp": "2026-11-19T09:00:00Z",
    }
    if anonymous_id is not None:
        message["anonymousId"] = anonymous_id
    return message


def viewed(message_id: str, anonymous_id: str, product: str = "mug") -> dict[str, Any]:
    """Return an anonymous ``Product Viewed`` message."""
    return {
        "messageId": message_id,
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": anonymous_id,
        "properties": {"product_id": product, "price": 10.0, "currency": "EUR"},
        "timestamp": "2026-11-18T08:00:00Z",
    }
