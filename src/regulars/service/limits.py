"""Request limits as ASGI middleware: body size and time.

The rate limit is per key, so it lives with authentication (:mod:`.auth`); the batch size
limit is checked by the batch route.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regulars.service.problems import PROBLEM_JSON, TYPE_BASE

__all__ = ["BodySizeLimit", "RequestTimeout", "send_problem"]


async def send_problem(send: Send, status: int, title: str, detail: str, slug: str) -> None:
    """Send a whole problem-details response through a raw ASGI ``send``."""
    body = json.dumps(
        {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Tracked:
    """A ``send`` that remembers whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodySizeLimit:
    """Refuse a request body larger than ``max_bytes`` with a 413, before reading it whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = (
            f"The request body is larger than the limit of {self.max_bytes:,} bytes; "
            "send fewer events per request."
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_problem(send, 413, "Content too large", detail, "too-large")
            return
        seen = 0
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer now, and tell the app the client has gone: it stops reading.
                    refused = True
                    await send_problem(send, 413, "Content too large", detail, "too-large")
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)


class RequestTimeout:
    """Answer 503 when a request takes longer than ``seconds``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = _Tracked(send)
        with anyio.move_on_after(self.seconds) as scope_timer:
            await self.app(scope, receive, tracked)
        if scope_timer.cancelled_caught and not tracked.started:
            state: dict[str, Any] = scope.setdefault("state", {})
            state["timed_out"] = True
            await send_problem(
                send,
                503,
                "Service unavailable",
                f"The request took longer than {self.seconds:g} s. Retry it; an event sent "
                "again with the same messageId is never counted twice.",
                "timeout",
            )
