"""The commands over the live service's operational store: score and sync.

``regulars score`` computes the customer table of the store (``regulars.live.scoring``) and
writes it as a new score version, served by the API once complete; ``regulars sync``
copies the store into an analytics workspace (``regulars.live.sync``). The database is
``--database`` (a SQLite file or a URL), else ``REGULARS_DATABASE_URL``, else
``./regulars.db``. Registered on the app of :mod:`.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from regulars.cli_common import DatabaseOption, _date, app, err, open_store, out
from regulars.cli_store import CurrencyOption, DiscountOption, HorizonOption, ModelOption
from regulars.models.units import horizon_label, parse_horizon

if TYPE_CHECKING:
    pass

__all__ = ["score", "sync"]


@app.command()
def score(
    database: DatabaseOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Scoring date YYYY-MM-DD (default: the day of the last sale)."
        ),
    ] = None,
    horizon: HorizonOption = "12m",
    model: ModelOption = "auto",
    discount_rate: DiscountOption = 0.1,
    recommendations: Annotated[
        int, typer.Option("--recommendations", help="Products recommended per customer (0: none).")
    ] = 10,
    currency: CurrencyOption = None,
) -> None:
    """Score every customer of the operational store and publish it as a new version.

    Computes the customer table (RFM segment, segments, CLV, churn risk, P(alive), expected
    orders, value at risk, top products) and writes it in one transaction: the API serves
    the previous version until this one is complete.
    """
    from regulars.live.scoring import score_store

    days = parse_horizon(horizon)
    when = _date(as_of, "--as-of") if as_of else None
    store = open_store(database)
    try:
        with err.status(f"Scoring the customers of {store.url} ..."):
            version = score_store(
                store,
                as_of=when,
                horizon_days=days,
                model=model,
                discount_rate=discount_rate,
                recommendations=recommendations,
                currency=currency,
            )
    finally:
        store.dispose()
    meta = version.meta
    predictions = meta.get("predictions", "")
    note = "" if predictions == "ok" else f"\nPredictions: {predictions} (RFM only)."
    out.print(
        f"Score version {version.id}: {version.customers:,} customers scored as of "
        f"{meta.get('as_of', version.as_of.date().isoformat())} over {horizon_label(days)} "
        f"({version.currency or 'no currency'}; model: {meta.get('model', 'none')}).{note}"
    )


@app.command()
def sync(
    database: DatabaseOption = None,
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace",
            "-w",
            help="The workspace file to fill (a DuckDB database; created if missing).",
            envvar="REGULARS_WORKSPACE",
        ),
    ] = Path("store.duckdb"),
    events: Annotated[
        bool, typer.Option("--events/--no-events", help="Also copy the events.")
    ] = True,
) -> None:
    """Copy the operational store (orders, lines, refunds, customers, events) into a workspace.

    The workspace's tables are replaced in one transaction; `regulars report`, `predict`,
    `customers` and `summary` then run on it.
    """
    from regulars.live.sync import sync_to_workspace

    store = open_store(database)
    try:
        with err.status(f"Copying {store.url} into {workspace} ..."):
            result = sync_to_workspace(store, workspace, events=events)
    finally:
        store.dispose()
    counts = result.counts
    what = (
        f"{counts['orders']:,} orders, {counts['order_lines']:,} lines, "
        f"{counts['refunds']:,} refunds, {counts['customers']:,} customers, "
        f"{counts['events']:,} events"
    )
    if result.written:
        out.print(f"Synced {what} into [bold]{result.workspace}[/].")
    else:
        out.print(
            f"[yellow]{result.workspace} already holds this content ({what}): nothing changed."
        )
