"""Canonical tables as Parquet files in one folder: what ``regulars simulate`` writes.

The folder holds any of ``customers.parquet``, ``products.parquet``, ``orders.parquet``,
``order_lines.parquet``, ``refunds.parquet`` and ``events.parquet``, each with the columns
of :mod:`regulars.schema` (extra columns are ignored, missing nullable ones are null).
Other files in the folder (``manifest.json``, ``truth/``, ``order_lines.csv``) are not read.

Rules
-----
- ``orders.parquet`` is required; every other table is optional.
- Every non-nullable column must be present and have a value in every row.
- Values are cast to the canonical types; a value that does not fit stops the import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from regulars.errors import ImportFormatError, InputError
from regulars.importers.base import CanonicalData, ImportOptions
from regulars.importers.validate import quote
from regulars.schema import TABLES, TableSpec

if TYPE_CHECKING:
    from regulars.importers import SourcePeek

FORMAT = "canonical"
DESCRIPTION = "a folder of canonical Parquet tables (orders.parquet, order_lines.parquet, ...)"


def detect(peek: SourcePeek) -> bool:
    """Return True for a folder with an ``orders.parquet`` file."""
    return peek.is_dir and "orders.parquet" in peek.files


def read(path: Path, options: ImportOptions) -> CanonicalData:
    """Import a folder of canonical Parquet tables.

    Parameters
    ----------
    path
        The folder.
    options
        Unused: the tables are already canonical (kept for the importer contract).

    Returns
    -------
    CanonicalData
        The tables found in the folder.
    """
    if not path.is_dir() or not (path / "orders.parquet").is_file():
        raise ImportFormatError(
            "A canonical source is a folder with an orders.parquet file.",
            file=path,
            expected="orders.parquet (and optionally order_lines, customers, products, "
            "refunds, events .parquet)",
            fix="Point regulars import at the folder `regulars simulate` wrote, or pick "
            "another --format.",
        )
    with CanonicalData(path, FORMAT).building() as data:
        for name, spec in TABLES.items():
            file = path / f"{name}.parquet"
            if file.is_file():
                _load_table(data, file, spec)
        return data


def _load_table(data: CanonicalData, file: Path, spec: TableSpec) -> None:
    try:
        columns = list(data.con.sql("SELECT * FROM read_parquet(?)", params=[str(file)]).columns)
    except duckdb.Error as exc:
        raise InputError(
            f"Not a readable Parquet file: {exc}",
            file=file,
            fix="Write the table again with a Parquet writer (pyarrow, pandas, DuckDB, Spark).",
        ) from exc
    for col in spec.columns:
        if not col.nullable and col.name not in columns:
            raise ImportFormatError(
                f"Required column {col.name} missing.",
                file=file,
                column=col.name,
                expected="columns " + ", ".join(spec.column_names),
                fix=f"Add the {col.name} column ({col.doc}).",
            )
    for col in spec.columns:
        if not col.nullable:
            found = data.con.execute(
                f"SELECT n FROM (SELECT row_number() OVER () AS n, {quote(col.name)} AS v "
                "FROM read_parquet(?)) WHERE v IS NULL LIMIT 1",
                [str(file)],
            ).fetchone()
            if found:
                raise InputError(
                    f"{col.name} is empty in record {found[0]}.",
                    file=file,
                    row=int(found[0]),
                    column=col.name,
                    expected=f"a value in every row ({col.doc})",
                    fix=f"Fill in {col.name}, or remove the record.",
                )
    types = {r[0]: r[1] for r in data.con.execute(f"DESCRIBE {spec.name}").fetchall()}
    select = ", ".join(
        f"CAST({quote(c.name)} AS {types[c.name]})"
        if c.name in columns
        else f"CAST(NULL AS {types[c.name]})"
        for c in spec.columns
    )
    try:
        data.con.execute(
            f"INSERT INTO {spec.name} SELECT {select} FROM read_parquet(?)", [str(file)]
        )
    except duckdb.Error as exc:
        raise InputError(
            f"A value does not fit the canonical type: {exc}",
            file=file,
            expected="the column types of regulars.schema." + spec.name.upper(),
            fix="Write the column with the canonical type (see docs/schema.md).",
        ) from exc
    data.rows_read += data.count(spec.name)
