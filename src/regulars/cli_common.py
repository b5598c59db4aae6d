"""What every ``regulars`` command shares: the app, the consoles, options and small helpers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from regulars.errors import ConfigError

__all__ = ["_date", "_write_text", "app", "err", "out"]

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
