"""Segments of the latest customer table, and the customers in each (cursor paging)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.exceptions import HTTPException

from regulars.live.profile import score_view
from regulars.service.auth import require_scope
from regulars.service.deps import database_of, decode_cursor, encode_cursor
from regulars.store import ApiKey, Database, NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/v1/segments", tags=["segments"])
Reader = Annotated[ApiKey, Depends(require_scope("read"))]
Store = Annotated[Database, Depends(database_of)]


@router.get("")
def segments(database: Store, _key: Reader) -> dict[str, Any]:
    """Return every segment of the latest scores (RFM segments, at_risk, ...) with its size."""
    with database.unit_of_work(read_only=True) as uow:
        version = uow.scores.latest_complete_version()
        if version is None:
            return {"version": None, "as_of": None, "segments": []}
        return {
            "version": version.id,
            "as_of": version.as_of.isoformat(),
            "segments": [
                {"name": name, "customers": count}
                for name, count in uow.scores.segments(version.id)
            ],
        }


@router.get("/{name}/customers")
def segment_customers(
    request: Request,
    name: Annotated[str, Path(min_length=1, max_length=100)],
    database: Store,
    _key: Reader,
    limit: Annotated[int, Query(ge=1, le=1000, description="Customers per page.")] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=500, description="The `next_cursor` of the previous page."),
    ] = None,
) -> dict[str, Any]:
    """Return one page of the segment's customers with their scores, by customer id.

    Every page of one walk comes from the same version of the scores, even when a new one
    is written meanwhile; ``next_cursor`` is ``null`` on the last page.
    """
    limit = min(limit, request.app.state.settings.page_size_max)
    with database.unit_of_work(read_only=True) as uow:
        if cursor is None:
            version = uow.scores.latest_complete_version()
            after = None
        else:
            position = decode_cursor(cursor, "v", "after", "s")
            if position["s"] != name:
                raise HTTPException(422, "cursor: this cursor pages another segment.")
            try:
                version = uow.scores.version(int(position["v"]))
            except (NotFoundError, TypeError, ValueError):
                raise HTTPException(
                    410,
                    "The scores this cursor pages have been replaced and removed; start "
                    "again without a cursor.",
                ) from None
            after = str(position["after"])
        if version is None:
            raise NotFoundError("No scores yet: run `regulars score` first.")
        known = dict(uow.scores.segments(version.id))
        if name not in known:
            raise NotFoundError(
                f"There is no segment {name!r} in the scores as of "
                f"{version.as_of.date()}; GET /v1/segments lists them."
            )
        page = uow.scores.segment_customers(
            name, after=after, limit=limit + 1, version_id=version.id
        )
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        encode_cursor({"v": version.id, "s": name, "after": page[-1].customer_id}) if more else None
    )
    return {
        "segment": name,
        "version": version.id,
        "as_of": version.as_of.isoformat(),
        "customers": known[name],
        "items": [{"customer_id": s.customer_id, **score_view(s, version)} for s in page],
        "next_cursor": next_cursor,
    }
