"""The ``regulars`` command: a few lines over the library per command.

A user's mistake (a :class:`~regulars.errors.RegularsError`) prints one clear message and
exits non-zero; ``--debug`` (anywhere on the line) shows the traceback as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from regulars.cli_common import _date, app, err, out
from regulars.errors import ConfigError, RegularsError
from regulars.importers import FORMATS, ImportOptions, format_module, read_source
from regulars.importers.base import ImportSummary
from regulars.workspace import Workspace, content_hash

__all__ = ["app", "main"]

DEFAULT_WORKSPACE = Path("store.duckdb")

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        help="The workspace file (a DuckDB database; created by the first import).",
        envvar="REGULARS_WORKSPACE",
    ),
]


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when something fails.")
    ] = False,
) -> None:
    """Turn an online store's one-time buyers into regulars."""


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise ConfigError(
                f"--map {pair!r} is not of the form their_column=canonical_field.",
                fix="Write for example --map 'Order Number=order_id' (one --map per column).",
            )
        mapping[theirs.strip()] = ours.strip()
    return mapping


def _formats_help() -> str:
    return "Source layout: auto (detect), " + ", ".join(FORMATS) + "."


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="The file or folder to import.", show_default=False)],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    format: Annotated[str, typer.Option("--format", "-f", help=_formats_help())] = "auto",
    mode: Annotated[
        str,
        typer.Option(
            help="append: add rows, replacing rows with the same key; replace: empty the "
            "workspace first."
        ),
    ] = "append",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Map a source column to a canonical field: their_col=field. Repeatable.",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="Time zone of timestamps written without an offset (default: UTC; "
            "Europe/London for Online Retail)."
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(help="ISO 4217 currency of sources without a currency column."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the source.")] = "utf-8",
    report_rejects: Annotated[
        Path | None,
        typer.Option(
            "--report-rejects",
            help="Write the rows skipped by documented rules (with the rule) to this CSV file.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import a store's orders (or events) into a workspace, in one transaction.

    A bad file stops the import with a message naming the file, row, column and value;
    the workspace is then left exactly as it was. Importing the same content again is a
    no-op.
    """
    options = ImportOptions(
        column_map=_parse_map(map_ or []),
        timezone=timezone,
        currency=currency,
        encoding=encoding,
    )
    if mode not in ("append", "replace"):
        raise ConfigError(f"Unknown mode {mode!r}.", fix="Use --mode append or --mode replace.")
    with (
        err.status(f"Reading {path} ..."),
        read_source(path, format=format, options=options) as data,
    ):
        key = content_hash(path, data.format, options)
        result = Workspace(workspace).write(data, content_hash=key, mode=mode)  # type: ignore[arg-type]
        if report_rejects is not None:
            _write_rejects(data.rejects(), report_rejects)
    if as_json:
        out.print_json(json.dumps({**result.summary.as_dict(), "written": result.written}))
        return
    _print_summary(result.summary)
    if not result.written:
        out.print(f"[yellow]This content was imported into {workspace} before: nothing changed.")
    else:
        out.print(f"Imported into [bold]{workspace}[/] (import #{result.import_id}, mode {mode}).")


def _write_rejects(rejects: Any, path: Path) -> None:
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pacsv.write_csv(rejects, tmp)
    tmp.replace(path)


def _print_summary(summary: ImportSummary) -> None:
    table = Table(title=f"Import of {summary.source} ({summary.format})", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("rows read", summary.rows_read),
        ("orders", summary.orders),
        ("order lines", summary.order_lines),
        ("customers", summary.customers),
        ("guest orders", summary.guest_orders),
        ("cancelled orders", summary.cancelled_orders),
        ("refunds", summary.refunds),
        ("products", summary.products),
        ("events", summary.events),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}")
    for rule, n in sorted(summary.skipped.items()):
        table.add_row(f"skipped: {rule}", f"{n:,}")
    for name, value in sorted(summary.details.items()):
        table.add_row(name.replace("_", " "), f"{value:,}")
    out.print(table)


@app.command()
def simulate(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the simulated store to.")
    ] = Path("simulated-store"),
    customers: Annotated[int, typer.Option(help="Number of customers (up to 10,000,000).")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same store.")] = 0,
    start: Annotated[str, typer.Option(help="First day of the store's history (YYYY-MM-DD).")] = (
        "2024-01-01"
    ),
    end: Annotated[str, typer.Option(help="Last day of the store's history (YYYY-MM-DD).")] = (
        "2025-12-31"
    ),
    horizon_days: Annotated[
        int, typer.Option(help="Days after the end over which the true future is recorded.")
    ] = 365,
    lines_csv: Annotated[
        bool, typer.Option("--lines-csv", help="Also write order_lines.csv (generic layout).")
    ] = False,
    events: Annotated[bool, typer.Option(help="Simulate storefront events.")] = True,
) -> None:
    """Simulate a realistic store: customers, orders, refunds, events, and the ground truth.

    The folder it writes is itself an import source: regulars import FOLDER.
    """
    from regulars.simulate import simulate_store

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("customers", total=customers)
        summary = simulate_store(
            out_dir,
            customers=customers,
            seed=seed,
            start=_date(start, "--start"),
            end=_date(end, "--end"),
            horizon_days=horizon_days,
            lines_csv=lines_csv,
            events=events,
            progress=lambda done: bar.update(task, completed=done),
        )
    out.print(
        f"Simulated {summary.customers:,} customers, {summary.orders:,} orders, "
        f"{summary.order_lines:,} order lines, {summary.refunds:,} refunds and "
        f"{summary.events:,} events into [bold]{summary.out}[/] (seed {summary.seed})."
    )


@app.command()
def summary(workspace: WorkspaceOption = DEFAULT_WORKSPACE) -> None:
    """Print what a workspace holds: customers, orders, revenue, repeat buyers, date range."""
    from regulars.analytics.overview import store_overview

    ws = Workspace(workspace)
    backend = ws.connect()
    tables = {
        name: ws.table(name, backend) for name in ("orders", "refunds", "customers", "events")
    }
    facts = store_overview(**tables)
    table = Table(title=f"Store in {workspace}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in facts.rows():
        table.add_row(name, value)
    out.print(table)


@app.command()
def schema() -> None:
    """Print the canonical tables every source is turned into, as markdown."""
    from regulars.schema import schema_markdown

    sys.stdout.write(schema_markdown())


@app.command()
def formats(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print every format with its rules, as markdown.")
    ] = False,
) -> None:
    """List the source layouts regulars can import (with --markdown: their rules too)."""
    if markdown:
        from regulars.importers import formats_markdown

        sys.stdout.write(formats_markdown())
        return
    table = Table(title="Import formats (--format)")
    table.add_column("format")
    table.add_column("what it reads")
    for name in FORMATS:
        table.add_row(name, format_module(name).DESCRIPTION)
    out.print(table)


# The commands over a store's analysis (report, customers, predict, evaluate) live in
# cli_store, those over recommendations (recommend, offers, evaluate-recs) in cli_recs;
# importing them registers them on the same app.
from regulars import cli_live, cli_recs, cli_service, cli_store  # noqa: E402, F401


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; print user errors as one message, tracebacks only with ``--debug``."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="regulars")  # exits through SystemExit when done
    except RegularsError as exc:
        if debug:
            raise
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[bold red]Unexpected error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in regulars, not in your data. Run again with --debug for the "
            "traceback, and please report it.",
            highlight=False,
        )
        sys.exit(1)
