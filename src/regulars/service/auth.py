"""API keys on every route: who calls, and may they.

A key is sent as ``Authorization: Bearer <token>``, or, as Segment's libraries send their
write key, as HTTP Basic with the token as the user name and no password. Scopes:
``write`` sends events, ``read`` reads customers and segments, ``admin`` manages keys (and
may do everything). A missing or wrong key is a 401, a key without the scope a 403, and a
key over its rate a 429.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from regulars.store import ApiKey, Database

__all__ = ["SCOPES", "KeyCache", "require_scope", "token_of"]

SCOPES = ("read", "write", "admin")

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key of regulars (`regulars keys create`), as a bearer token.",
)


class KeyCache:
    """Keys recently authenticated, by the SHA-256 of their token, for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._keys: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def peek(self, token: str) -> ApiKey | None:
        """Return the key of ``token`` if it is cached and fresh (no database call)."""
        with self._lock:
            hit = self._keys.get(_digest(token))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def lookup(self, database: Database, token: str) -> ApiKey | None:
        """Return the live key of ``token`` (from the cache when fresh), or ``None``."""
        cached = self.peek(token)
        if cached is not None:
            return cached
        digest = _digest(token)
        now = time.monotonic()
        with database.unit_of_work(read_only=True) as uow:
            key = uow.api_keys.authenticate(token)
        with self._lock:
            if key is None:
                self._keys.pop(digest, None)
            elif self.ttl > 0:
                if len(self._keys) > 10_000:
                    self._keys.clear()
                self._keys[digest] = (key, now + self.ttl)
        return key

    def forget(self) -> None:
        """Drop every cached key (after a key is revoked here)."""
        with self._lock:
            self._keys.clear()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_of(authorization: str) -> str | None:
    """Return the API token an ``Authorization`` header carries, or ``None``.

    ``Bearer <token>`` (read as FastAPI's ``HTTPBearer`` reads it), or HTTP Basic with the
    token as the user name, as Segment's libraries send their write key.
    """
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user.partition(":")[0] or None
    return None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="regulars"'})


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """Return the dependency that lets a request through only with a key of ``scope``."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def authorized(
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> ApiKey:
        # ``_bearer`` puts the scheme in the OpenAPI spec; the token is read from the
        # header as the ingestion lane (:mod:`.lane`) reads it, Basic included.
        token = token_of(request.headers.get("authorization", ""))
        if not token:
            raise _unauthorized(
                "This route needs an API key: send `Authorization: Bearer <key>` "
                "(create one with `regulars keys create`)."
            )
        state = request.app.state
        key: ApiKey | None = state.key_cache.peek(token)
        if key is None:  # ask the database, off the event loop
            key = await run_in_threadpool(state.key_cache.lookup, state.database, token)
        if key is None:
            raise _unauthorized("The API key is unknown, malformed or revoked.")
        request.state.api_key = key
        if not key.allows(scope):
            raise HTTPException(
                403,
                f"The key {key.prefix!r} ({key.name}) may not {_VERBS[scope]}: it needs the "
                f"{scope!r} scope (it has {', '.join(sorted(key.scopes))}).",
            )
        wait = state.rate_limiter.take(key.id)
        if wait > 0:
            raise HTTPException(
                429,
                f"The key {key.prefix!r} is over its rate limit of "
                f"{state.rate_limiter.rate:g} requests a second; retry after the delay.",
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )
        return key

    authorized.required_scope = scope  # type: ignore[attr-defined]  # for the route audit
    return authorized


_VERBS = {"read": "read customers or segments", "write": "send events", "admin": "manage keys"}
