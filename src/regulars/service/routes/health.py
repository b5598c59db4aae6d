"""Liveness and readiness, for load balancers and orchestrators (no key needed)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from regulars.service.deps import database_of
from regulars.store import Database, current_revision, head_revision

__all__ = ["PUBLIC_PATHS", "router"]

router = APIRouter(tags=["health"])
Store = Annotated[Database, Depends(database_of)]

_head = cache(head_revision)

PUBLIC_PATHS = frozenset({"/health", "/ready"})
"""The only routes answered without a key (plus the API's own docs)."""


@router.get("/health")
def health() -> dict[str, str]:
    """Answer while the process is up (liveness)."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
def ready(database: Store) -> dict[str, Any] | JSONResponse:
    """Answer 200 when the database answers and its schema is the current one (readiness)."""
    try:
        revision = current_revision(database)
    except Exception as err:  # any failure means not ready
        return JSONResponse(
            {"status": "unavailable", "database": database.backend, "error": type(err).__name__},
            status_code=503,
        )
    head = _head()
    if revision != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": database.backend,
                "detail": f"schema at {revision}, expected {head}: run `regulars serve` "
                "(it migrates) or Database.migrate()",
            },
            status_code=503,
        )
    return {"status": "ok", "database": database.backend, "schema": revision}
