"""API keys, managed over the API with an ``admin`` key (or with `regulars keys`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from regulars.service.auth import require_scope
from regulars.service.deps import database_of
from regulars.service.schemas import KeyCreate
from regulars.store import ApiKey, Database, NotFoundError, run_in_transaction

__all__ = ["key_view", "router"]

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Admin = Annotated[ApiKey, Depends(require_scope("admin"))]
Store = Annotated[Database, Depends(database_of)]


def key_view(key: ApiKey) -> dict[str, Any]:
    """Return a key as the API shows it (never its secret)."""
    return {
        "id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "scopes": sorted(key.scopes),
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@router.post("", status_code=201)
def create_key(body: KeyCreate, database: Store, _key: Admin) -> dict[str, Any]:
    """Create a key; its ``token`` is in this answer only and cannot be shown again."""
    issued = run_in_transaction(database, lambda uow: uow.api_keys.create(body.name, body.scopes))
    return {**key_view(issued.key), "token": issued.token}


@router.get("")
def list_keys(database: Store, _key: Admin) -> dict[str, Any]:
    """List the keys (revoked ones included), without their secrets."""
    with database.unit_of_work(read_only=True) as uow:
        return {"keys": [key_view(k) for k in uow.api_keys.all(include_revoked=True)]}


@router.delete("/{key_id}")
def revoke_key(
    request: Request,
    key_id: Annotated[int, Path(ge=1, le=2**62)],
    database: Store,
    _key: Admin,
) -> dict[str, Any]:
    """Revoke a key: it is refused from now on (by every server process within seconds)."""

    def work(uow: Any) -> ApiKey:
        if uow.api_keys.get(key_id) is None:
            raise NotFoundError(f"There is no API key with id {key_id}.")
        revoked: ApiKey = uow.api_keys.revoke(key_id)
        return revoked

    revoked = run_in_transaction(database, work)
    request.app.state.key_cache.forget()
    return key_view(revoked)
