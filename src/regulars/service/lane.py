"""The ingestion lane: ``POST /v1/track`` and ``/v1/identify`` without FastAPI's layers.

A single event is the API's hottest request: a store sends one for every page view. Its
work in the library is small (the writer stores it with others in one transaction:
:mod:`.writer`), so FastAPI's routing, dependency solving and response handling were most
of its cost (about 1.6 of 2.2 ms of CPU a request, docs/benchmarks.md, section
"service-profile"). This ASGI middleware serves the ordinary case itself, by the same
rules and with the same parts as the routes in :mod:`.routes.events`:

- the key is read from the header by :func:`.auth.token_of` and found in the process's
  key cache (:class:`.auth.KeyCache`, no database call), and it has the ``write`` scope;
- the body is JSON (as FastAPI reads it: no content type, ``application/json`` or
  ``application/*+json``) and the route's own pydantic model (:class:`.schemas.TrackMessage`
  or :class:`.schemas.IdentifyMessage`) accepts it;
- the key is within its rate (:class:`.rate_limit.RateLimiter`).

Anything else (no key, a key not yet cached, a wrong scope, a body that does not
validate, a key over its rate) is handed to FastAPI with the body already read, so
every refusal, its status and its problem details, comes from one place: the routes and
:mod:`.problems`. What the library refuses (a bad ``Order Completed``) is answered with
:func:`.problems.refusal`, as the app's handler answers it. The lane sits inside the
app's limits (body size, timeout) and access log, so they apply to it too.

``create_app(..., ingest_lane=False)`` serves these routes through FastAPI alone;
``tests/service/test_service_lane.py`` checks that both answer alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regulars.errors import RegularsError
from regulars.service.auth import token_of
from regulars.service.problems import refusal
from regulars.service.routes.events import answer_body, with_message_id
from regulars.service.schemas import IdentifyMessage, TrackMessage

__all__ = ["IngestLane"]

_MODELS: dict[str, type[TrackMessage] | type[IdentifyMessage]] = {
    "/v1/track": TrackMessage,
    "/v1/identify": IdentifyMessage,
}
_JSON_HEADERS = [(b"content-type", b"application/json")]


class IngestLane:
    """Serve well-formed single events with a cached ``write`` key; pass the rest on.

    Parameters
    ----------
    app
        The ASGI app (the FastAPI app's inner stack) to hand every other request to.
    state
        Where the app keeps its key cache, rate limiter and writer (``app.state``), read
        on each request so that they may be replaced after start-up.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        model = _MODELS.get(scope["path"]) if scope["type"] == "http" else None
        if model is None or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of a repeated header, as Starlette
        state = self.state
        token = token_of(headers.get(b"authorization", b"").decode("latin-1"))
        key = state.key_cache.peek(token) if token else None
        if key is None or not key.allows("write") or not _is_json(headers):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away, or the size limit answered already
            return
        replay = _replaying(body, receive)
        try:
            message = model.model_validate(json.loads(body)).message()
        except Exception:  # not JSON, too deep, not valid: FastAPI answers
            await self.app(scope, replay, send)
            return
        if state.rate_limiter.take(key.id) > 0:
            await self.app(scope, replay, send)  # the route's dependency answers the 429
            return
        scope.setdefault("state", {})["api_key"] = key
        try:
            result = await state.writer.submit(with_message_id(message))
        except RegularsError as error:
            await refusal(error, scope["path"])(scope, replay, send)
            return
        payload = answer_body(result)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _is_json(headers: dict[bytes, bytes]) -> bool:
    """Whether FastAPI would read this body as JSON (no content type counts as JSON)."""
    value = headers.get(b"content-type", b"")
    if not value:
        return True
    main, _, sub = value.split(b";", 1)[0].strip().lower().partition(b"/")
    return main == b"application" and b"/" not in sub and (sub == b"json" or sub.endswith(b"+json"))


async def _read_body(receive: Receive) -> bytes | None:
    """Read the whole body; ``None`` when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Callable[[], Any]:
    """Return a ``receive`` that gives the body read already, then defers to ``receive``."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
