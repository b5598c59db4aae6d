"""Ingestion: ``POST /v1/track``, ``/v1/identify`` and ``/v1/batch`` (the Segment HTTP API).

A batch is one transaction: stored whole or not at all. Single messages go through the
process's :class:`~regulars.service.writer.IngestWriter`, which stores the messages of
many requests in one transaction, each in a savepoint of its own (a bad message fails
alone). A message whose ``messageId`` was received before changes nothing and gets its
first delivery's answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.exceptions import HTTPException

from regulars.service.auth import require_scope
from regulars.service.deps import database_of
from regulars.service.schemas import (
    BatchRequest,
    BatchResponse,
    IdentifyMessage,
    IngestResponse,
    TrackMessage,
)
from regulars.store import ApiKey, Database, run_in_transaction

if TYPE_CHECKING:
    from regulars.live.ingest import Ingested

__all__ = ["answer_body", "router", "with_message_id"]

router = APIRouter(prefix="/v1", tags=["events"])
Writer = Annotated[ApiKey, Depends(require_scope("write"))]
ATTEMPTS = 8
"""Tries of a transaction that meets a deadlock (concurrent ingests of one customer)."""
Store = Annotated[Database, Depends(database_of)]


def with_message_id(message: dict[str, Any]) -> dict[str, Any]:
    """Give a message without a ``messageId`` one of its own (it cannot be deduplicated)."""
    if not message.get("messageId"):
        message["messageId"] = f"regulars-{uuid.uuid4()}"
    return message


async def _ingest_one(request: Request, message: dict[str, Any]) -> Response:
    """Store one message through the process's writer (stored with others in one commit).

    The answer is an :class:`IngestResponse` (the route declares it for the OpenAPI spec),
    serialized here from the library's result: FastAPI passes a ``Response`` through
    without validating it again (validating and serializing took about 5% of a track
    request's CPU in docs/benchmarks.md's profile).
    """
    result = await request.app.state.writer.submit(message)
    return Response(answer_body(result), media_type="application/json")


def answer_body(result: Ingested) -> bytes:
    """Return a single message's answer (an :class:`IngestResponse`) as JSON bytes."""
    return json.dumps(result.as_dict(), separators=(",", ":")).encode()  # as FastAPI writes


def _ingest(database: Database, messages: Sequence[dict[str, Any]]) -> list[IngestResponse]:
    from regulars.live.ingest import ingest_batch

    results = run_in_transaction(
        database, lambda uow: ingest_batch(uow, messages), attempts=ATTEMPTS
    )
    return [IngestResponse(**result.as_dict()) for result in results]


@router.post("/track", response_model=IngestResponse)
async def track(message: TrackMessage, request: Request, _key: Writer) -> Response:
    """Record something a customer did (``Order Completed``, ``Product Viewed``, ...).

    ``Order Completed`` / ``Order Updated`` / ``Order Cancelled`` write the order,
    ``Order Refunded`` a refund; every event is kept for the customer's timeline.
    """
    return await _ingest_one(request, with_message_id(message.message()))


@router.post("/identify", response_model=IngestResponse)
async def identify(message: IdentifyMessage, request: Request, _key: Writer) -> Response:
    """Say who a customer is: ``userId``, ``traits.email`` and the browser's ``anonymousId``.

    Earlier anonymous events of that ``anonymousId`` are linked to the customer; two records
    found to be one person are merged, keeping every order and event.
    """
    return await _ingest_one(request, with_message_id(message.message()))


@router.post("/batch", response_model=BatchResponse)
def batch(body: BatchRequest, request: Request, database: Store, _key: Writer) -> BatchResponse:
    """Send up to ``max_batch_messages`` messages at once (all stored, or none on an error)."""
    limit = request.app.state.settings.max_batch_messages
    if len(body.batch) > limit:
        raise HTTPException(
            413,
            f"The batch holds {len(body.batch)} messages; the limit is {limit}. "
            "Split it into several requests.",
        )
    shared = {
        k: v for k, v in (("context", body.context), ("integrations", body.integrations)) if v
    }
    messages = [with_message_id({**shared, **m.message()}) for m in body.batch]
    results = _ingest(database, messages)
    created = sum(r.created for r in results)
    return BatchResponse(
        received=len(results), created=created, duplicates=len(results) - created, results=results
    )
