"""What the API takes and gives, as pydantic models (they make the OpenAPI spec).

Incoming messages follow the Segment spec (camelCase: ``messageId``, ``userId``,
``anonymousId``); what regulars answers is its own, in snake_case like the customer table.
Only the envelope is checked here; the library (:mod:`regulars.live.ingest`) checks the
properties of e-commerce events and names the field at fault.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "ConsentDecision",
    "ConsentsUpdate",
    "IdentifyMessage",
    "IngestResponse",
    "KeyCreate",
    "OtherMessage",
    "TrackMessage",
]

Id = Annotated[str | int, Field(description="A string (numbers are read as text).")]


class _Message(BaseModel):
    """The fields every Segment message shares."""

    model_config = ConfigDict(extra="allow")

    messageId: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Unique per message: a message sent again with the same id is counted "
        "once. Without one, the service makes one (and cannot tell a retry from a new event).",
    )
    userId: Id | None = Field(None, description="The store's own id of the customer.")
    anonymousId: Id | None = Field(None, description="The browser's or device's id.")
    timestamp: datetime | None = Field(
        None, description="When it happened (ISO 8601); default: when it is received."
    )
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _someone(self) -> _Message:
        if self.userId in (None, "") and self.anonymousId in (None, ""):
            raise ValueError("a message needs a userId or an anonymousId (or both)")
        return self

    def message(self) -> dict[str, Any]:
        """Return the message as the library takes it (as sent, without unset fields)."""
        return self.model_dump(mode="json", exclude_none=True)


class TrackMessage(_Message):
    """Something a customer did: ``Order Completed``, ``Product Viewed``, ``Email Opened``..."""

    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=200, description="The event's name.")
    properties: dict[str, Any] = Field(default_factory=dict)


class IdentifyMessage(_Message):
    """Who a customer is: ties ``userId``, ``anonymousId`` and ``traits.email`` together."""

    type: Literal["identify"] = "identify"
    traits: dict[str, Any] = Field(default_factory=dict)


class OtherMessage(_Message):
    """A ``page``, ``screen``, ``group`` or ``alias`` message (stored, not interpreted)."""

    type: Literal["page", "screen", "group", "alias"]


BatchMessage = Annotated[TrackMessage | IdentifyMessage | OtherMessage, Field(discriminator="type")]


class BatchRequest(BaseModel):
    """Several messages at once (``context`` and ``integrations`` apply to each)."""

    model_config = ConfigDict(extra="allow")

    batch: list[BatchMessage] = Field(min_length=1)
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


class IngestResponse(BaseModel):
    """What became of one message (for a replay: what became of its first delivery)."""

    message_id: str
    event_id: int
    type: str
    event: str | None = None
    customer_id: str | None = None
    created: bool = Field(description="False when the messageId had been received before.")
    order_id: str | None = None


class BatchResponse(BaseModel):
    """What became of each message of a batch, in the order sent."""

    received: int
    created: int
    duplicates: int
    results: list[IngestResponse]


class ConsentDecision(BaseModel):
    """One consent decision on one channel."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=32, examples=["email", "sms"])
    status: Literal["granted", "denied", "revoked"]
    at: datetime | None = Field(None, description="When the customer decided; default: now.")
    source: str = Field("api", min_length=1, max_length=100)
    address: str | None = Field(None, max_length=320)
    evidence: dict[str, Any] | None = None


class ConsentsUpdate(BaseModel):
    """Decisions to add to the customer's consent history."""

    model_config = ConfigDict(extra="forbid")

    consents: list[ConsentDecision] = Field(min_length=1, max_length=50)


class KeyCreate(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Literal["read", "write", "admin"]] = Field(min_length=1)
