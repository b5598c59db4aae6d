"""The commands of the live service: ``regulars serve`` and ``regulars keys``.

Registered on the app of :mod:`.cli`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from regulars.cli_common import DatabaseOption, app, database_url, open_store, out

if TYPE_CHECKING:
    pass

__all__ = ["keys_app", "serve"]

keys_app = typer.Typer(help="Create, list and revoke the HTTP API's keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    database: DatabaseOption = None,
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL: 2-4).")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the HTTP API (events in, customers and segments out); docs at /docs.

    The database is migrated at start-up. Limits: REGULARS_MAX_BODY_BYTES,
    REGULARS_MAX_BATCH_MESSAGES, REGULARS_RATE_LIMIT_PER_SECOND, REGULARS_RATE_LIMIT_BURST,
    REGULARS_REQUEST_TIMEOUT_SECONDS (see docs/service.md).
    """
    import uvicorn

    from regulars.service.rate_limit import SHARED_FILE_VAR, create_shared_file
    from regulars.service.settings import ServiceSettings

    ServiceSettings.from_env()  # a bad setting fails here, with its message
    os.environ["REGULARS_DATABASE_URL"] = database_url(database)  # read by every worker
    open_store(database).dispose()  # reachable, and migrated once before the workers start
    os.environ["REGULARS_LOG_LEVEL"] = log_level
    buckets = None
    if workers > 1 and os.name == "posix":  # the workers share each key's rate limit
        buckets = create_shared_file()
        os.environ[SHARED_FILE_VAR] = str(buckets)
    out.print(f"regulars API on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    try:
        uvicorn.run(
            "regulars.service.serve:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        if buckets is not None:
            buckets.unlink(missing_ok=True)
            os.environ.pop(SHARED_FILE_VAR, None)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. storefront.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, write or admin; repeat for several."),
    ],
    database: DatabaseOption = None,
) -> None:
    """Create an API key and print its token (shown this once only)."""
    store = open_store(database)
    try:
        with store.unit_of_work() as uow:
            issued = uow.api_keys.create(name, scope)
    finally:
        store.dispose()
    key = issued.key
    out.print(f"Created key {key.id} ({key.name}; scopes: {', '.join(sorted(key.scopes))}).")
    out.print("Its token, shown this once (keep it secret):")
    print(issued.token)


@keys_app.command("list")
def keys_list(database: DatabaseOption = None) -> None:
    """List the API keys (never their secrets)."""
    store = open_store(database)
    try:
        with store.unit_of_work(read_only=True) as uow:
            keys = uow.api_keys.all(include_revoked=True)
    finally:
        store.dispose()
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        out.print(
            f"{key.id}\t{key.prefix}\t{key.name}\t{','.join(sorted(key.scopes))}\t{state}",
            markup=False,
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `regulars keys list`).")],
    database: DatabaseOption = None,
) -> None:
    """Revoke an API key (refused by the API within seconds)."""
    from regulars.store import NotFoundError

    store = open_store(database)
    try:
        with store.unit_of_work() as uow:
            if uow.api_keys.get(key_id) is None:
                raise NotFoundError(f"There is no API key with id {key_id}.")
            key = uow.api_keys.revoke(key_id)
    finally:
        store.dispose()
    out.print(f"Revoked key {key.id} ({key.name}).")
