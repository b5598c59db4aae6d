"""Dependencies the routes share: the store, settings and paging.

They are ``async`` only so that FastAPI calls them on the event loop instead of handing
each to the thread pool (they do no I/O).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException

from regulars.service.settings import ServiceSettings
from regulars.store import Database

__all__ = ["database_of", "decode_cursor", "encode_cursor", "settings_of"]


async def database_of(request: Request) -> Database:
    """Return the app's operational store."""
    database: Database = request.app.state.database
    return database


async def settings_of(request: Request) -> ServiceSettings:
    """Return the app's settings."""
    settings: ServiceSettings = request.app.state.settings
    return settings


def encode_cursor(position: dict[str, Any]) -> str:
    """Return an opaque cursor for ``position``."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *keys: str) -> dict[str, Any]:
    """Return the position an opaque cursor holds (a 422 when it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        position = None
    if not isinstance(position, dict) or any(k not in position for k in keys):
        raise HTTPException(
            422,
            "cursor: not a cursor this API gave; pass the `next_cursor` of the previous "
            "page, or leave it out for the first page.",
        )
    return position
