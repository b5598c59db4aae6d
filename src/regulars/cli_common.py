"""What every ``regulars`` command shares: the app, the consoles, options and small helpers."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from regulars.errors import ConfigError

if TYPE_CHECKING:
    from regulars.store import Database

__all__ = [
    "DatabaseOption",
    "_date",
    "_write_text",
    "app",
    "database_url",
    "err",
    "open_store",
    "out",
]

app = typer.Typer(
    name="regulars",
    help=(
        "regulars turns an online store's one-time buyers into regulars.\n\n"
        "Import a store's order history into a workspace, then measure, predict and act. "
        "Start with: regulars simulate --out demo && regulars import demo && regulars summary"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(
            f"{option} {text!r} is not a date.", fix=f"Write {option} as YYYY-MM-DD."
        ) from exc


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


DEFAULT_DATABASE = "regulars.db"
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="The operational store: a SQLite file, or a URL (postgresql+psycopg://user@host/db, "
        "sqlite:///path). Default: REGULARS_DATABASE_URL, else ./regulars.db.",
        show_default=False,
    ),
]


def database_url(database: str | None) -> str:
    """Return the URL of the store ``--database`` names (a file becomes a sqlite:/// URL).

    The option wins over ``REGULARS_DATABASE_URL``, which wins over ``./regulars.db``.
    """
    if database is None:
        database = os.environ.get("REGULARS_DATABASE_URL") or DEFAULT_DATABASE
    if "://" in database:
        return database
    return f"sqlite:///{Path(database).expanduser().resolve()}"


def open_store(database: str | None) -> Database:
    """Open and migrate the operational store ``--database`` names."""
    from regulars.store import open_database

    store = open_database(database_url(database))
    store.migrate()
    return store
