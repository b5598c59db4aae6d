"""Generic order lines: one row per product line, from a CSV (optionally gzipped) or Parquet file.

Columns named as the canonical fields import with no flags; other names are mapped with
``--map their_col=field``.

Required: ``order_id, customer_id, ordered_at, product_id, quantity, unit_price``.
Optional: ``category, name, sku, currency, status, channel, discount_code, email, country``.

Rules
-----
- An empty ``customer_id`` makes the order a guest order (no customer row).
- ``ordered_at`` is ISO 8601 (``2024-03-01``, ``2024-03-01 10:15``, ``2024-03-01T10:15:00Z``,
  ``...+01:00``); without an offset it is local time in ``--timezone`` (default UTC).
- ``quantity`` is a whole number > 0 and ``unit_price`` a number >= 0 (a dot for decimals,
  no thousands separator, no currency sign). Returns are not negative lines: give the
  order ``status`` refunded (or import refunds from a source that has them).
- ``status`` is paid (default), cancelled, refunded or partially_refunded; ``completed``,
  ``complete``, ``fulfilled`` and ``processing`` read as paid, ``canceled`` as cancelled.
- ``currency`` defaults to ``--currency`` (USD when not given).
- Every line of one order must agree on customer_id, ordered_at, currency and status;
  otherwise the file has two different orders under one id and the import stops.
- An order's subtotal and total are the sum of its line totals (quantity x unit_price);
  this layout carries no order-level discounts, shipping or tax.
- Products are the distinct product ids, with the name, category and price of their latest line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from regulars.errors import InputError
from regulars.importers.base import CanonicalData, ImportOptions
from regulars.importers.validate import (
    decimal_sql,
    integer_sql,
    iso_timestamp_sql,
    load_csv_raw,
    quote,
    require_columns,
    require_values,
    session_timezone,
)

if TYPE_CHECKING:
    from regulars.importers import SourcePeek

FORMAT = "generic"
DESCRIPTION = (
    "one row per order line: order_id, customer_id, ordered_at, product_id, quantity, unit_price"
)

REQUIRED = ("order_id", "customer_id", "ordered_at", "product_id", "quantity", "unit_price")
OPTIONAL = (
    "category",
    "name",
    "sku",
    "currency",
    "status",
    "channel",
    "discount_code",
    "email",
    "country",
)

STATUS_ALIASES = {
    "paid": "paid",
    "completed": "paid",
    "complete": "paid",
    "fulfilled": "paid",
    "processing": "paid",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
    "partially refunded": "partially_refunded",
}


def detect(peek: SourcePeek) -> bool:
    """Return True for Parquet, or a CSV whose header has most of the required columns.

    "Most" (half or more) so that a file missing one column gets the generic importer's
    precise message ("Required column quantity missing") rather than "unknown layout".
    """
    if peek.is_dir:
        return False
    if peek.path.suffix == ".parquet":
        return True
    return len(set(REQUIRED) & set(peek.header)) * 2 >= len(REQUIRED)


def _load_parquet(data: CanonicalData, path: Path, raw: str, options: ImportOptions) -> list[str]:
    rel = data.con.sql("SELECT * FROM read_parquet(?)", params=[str(path)])
    columns = list(rel.columns)
    mapping = dict(options.column_map)
    mapped = [mapping.get(c, c) for c in columns]
    select = ", ".join(
        f"CAST({quote(c)} AS VARCHAR) AS {quote(m)}" for c, m in zip(columns, mapped, strict=True)
    )
    data.con.execute(
        f"CREATE TABLE {raw} AS SELECT row_number() OVER () + 1 AS _row, {select} "
        "FROM read_parquet(?)",
        [str(path)],
    )
    data.rows_read += data.count(raw)
    return mapped


def read(path: Path, options: ImportOptions) -> CanonicalData:
    """Import a generic order-lines file.

    Parameters
    ----------
    path
        CSV, CSV.gz or Parquet file.
    options
        Column mapping, time zone, default currency, encoding.

    Returns
    -------
    CanonicalData
        Orders, order lines, customers and products.
    """
    with CanonicalData(path, FORMAT).building() as data:
        if path.suffix == ".parquet":
            columns = _load_parquet(data, path, "raw", options)
        else:
            columns = load_csv_raw(data, path, "raw", options)
        require_columns(columns, REQUIRED, file=path)
        _check_codes(data, path, columns)
        _parse(data, columns, options)
        _check_parsed(data, path)
        _aggregate_orders(data, columns)
        _check_conflicts(data, path, columns)
        _build(data)
        return data


def _opt(columns: list[str], name: str, default: str = "NULL") -> str:
    return quote(name) if name in columns else default


def _check_codes(data: CanonicalData, path: Path, columns: list[str]) -> None:
    """Check the optional coded columns (status, currency) on the raw text."""
    if "status" in columns:
        known = ", ".join(f"'{k}'" for k in STATUS_ALIASES)
        require_values(
            data,
            "raw",
            "status",
            f"NULLIF(trim(status), '') IS NOT NULL AND lower(trim(status)) NOT IN ({known})",
            file=path,
            message="Unknown order status.",
            expected="paid, cancelled, refunded or partially_refunded",
            fix="Map the store's statuses to one of these before importing.",
        )
    if "currency" in columns:
        require_values(
            data,
            "raw",
            "currency",
            "NULLIF(trim(currency), '') IS NOT NULL "
            "AND NOT regexp_full_match(upper(trim(currency)), '[A-Z]{3}')",
            file=path,
            message="currency is not an ISO 4217 code.",
            expected="a three-letter code such as USD, EUR, GBP",
            fix="Correct the currency column, or drop it and pass --currency.",
        )


def _parse(data: CanonicalData, columns: list[str], options: ImportOptions) -> None:
    """Turn the raw text into typed lines in one pass (NULL where a value does not parse)."""
    currency = options.currency_or("USD")
    status_cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STATUS_ALIASES.items())
    status = (
        f"CASE lower(trim(status)) {status_cases} ELSE 'paid' END"
        if "status" in columns
        else "'paid'"
    )
    cur = (
        f"coalesce(NULLIF(upper(trim(currency)), ''), '{currency}')"
        if "currency" in columns
        else f"'{currency}'"
    )
    nullif = "NULLIF(trim({}), '')".format
    with session_timezone(data, options.timezone_or("UTC")):
        data.con.execute(
            f"""
            CREATE TABLE lines AS SELECT
                _row,
                {nullif("order_id")} AS order_id,
                {nullif("customer_id")} AS customer_id,
                {iso_timestamp_sql("ordered_at")} AS ordered_at,
                {nullif("product_id")} AS product_id,
                {nullif(_opt(columns, "sku"))} AS sku,
                {nullif(_opt(columns, "name"))} AS name,
                {nullif(_opt(columns, "category"))} AS category,
                {integer_sql("quantity")} AS quantity,
                {decimal_sql("unit_price")} AS unit_price,
                {cur} AS currency,
                {status} AS status,
                {nullif(_opt(columns, "channel"))} AS channel,
                {nullif(_opt(columns, "discount_code"))} AS discount_code,
                lower({nullif(_opt(columns, "email"))}) AS email,
                {nullif(_opt(columns, "country"))} AS country
            FROM raw
            """
        )


# (column, condition on the typed line, message, expected, fix), checked in this order.
_CHECKS = (
    (
        "order_id",
        "order_id IS NULL",
        "order_id is empty.",
        "an order id on every row",
        "Fill in order_id on this row, or remove the row.",
    ),
    (
        "product_id",
        "product_id IS NULL",
        "product_id is empty.",
        "a product id on every row",
        "Fill in product_id on this row, or remove the row.",
    ),
    (
        "ordered_at",
        "ordered_at IS NULL",
        "ordered_at is not a date and time.",
        "ISO 8601, e.g. 2024-03-01 10:15 or 2024-03-01T10:15:00Z",
        "Write dates as YYYY-MM-DD[ HH:MM[:SS]], with an offset or in --timezone local time.",
    ),
    (
        "quantity",
        "quantity IS NULL",
        "quantity is not a whole number.",
        "a whole number of units, e.g. 3",
        "Write quantities as whole numbers without units or separators.",
    ),
    (
        "quantity",
        "quantity <= 0",
        "quantity must be positive.",
        "a whole number greater than 0",
        "Returns are not negative lines here: set the order's status to refunded, "
        "or remove the row.",
    ),
    (
        "unit_price",
        "unit_price IS NULL",
        "unit_price is not a number.",
        "a number with a dot for decimals, e.g. 12.50 (no currency sign or separators)",
        "Remove currency signs and thousands separators from the price column.",
    ),
    (
        "unit_price",
        "unit_price < 0",
        "unit_price is negative.",
        "a price >= 0",
        "Record discounts and refunds as such, not as negative prices; or remove the row.",
    ),
)


def _check_parsed(data: CanonicalData, path: Path) -> None:
    """Find the first row breaking each rule in one scan; raise for the first rule broken."""
    firsts = ", ".join(f"min(_row) FILTER (WHERE {check[1]})" for check in _CHECKS)
    found = data.con.execute(f"SELECT {firsts} FROM lines").fetchone() or ()
    for (column, _, message, expected, fix), row in zip(_CHECKS, found, strict=True):
        if row is None:
            continue
        value = _raw_value(data, column, int(row))
        if value is None or not value.strip():
            message, expected = f"{column} is empty.", f"a value for {column} on every row"
            fix = f"Fill in {column} on this row, or remove the row."
        raise InputError(
            message,
            file=path,
            row=int(row),
            column=column,
            value=value,
            expected=expected,
            fix=fix,
        )


def _raw_value(data: CanonicalData, column: str, row: int) -> str | None:
    found = data.con.execute(f"SELECT {quote(column)} FROM raw WHERE _row = ?", [row]).fetchone()
    return found[0] if found else None


_ORDER_FIELDS = ("customer_id", "ordered_at", "currency", "status")


def _aggregate_orders(data: CanonicalData, columns: list[str]) -> None:
    """Aggregate the lines into ``order_agg``: one pass that serves the checks and the orders.

    For each order field it keeps min, max and count, so that a conflict (min <> max, or
    some lines with the field and some without) is found without a second pass.
    """
    fields = ", ".join(
        f"min({f}) AS {f}, max({f}) AS max_{f}, count({f}) AS n_{f}" for f in _ORDER_FIELDS
    )
    codes = (
        "CASE WHEN count(discount_code) > 0 THEN list_sort(list_distinct(list(discount_code))) END"
        if "discount_code" in columns
        else "CAST(NULL AS VARCHAR[])"
    )
    channel = "min(channel)" if "channel" in columns else "CAST(NULL AS VARCHAR)"
    data.con.execute(
        f"""
        CREATE TABLE order_agg AS
        SELECT order_id, {fields}, count(*) AS n_lines, min(_row) AS first_row,
               CAST(sum(quantity * unit_price) AS DECIMAL(18,4)) AS subtotal,
               {codes} AS discount_codes, {channel} AS channel
        FROM lines GROUP BY order_id
        """
    )


def _check_conflicts(data: CanonicalData, path: Path, columns: list[str]) -> None:
    """Raise if two lines of one order disagree on the order's own fields."""
    differs = " OR ".join(f"{f} <> max_{f} OR n_{f} NOT IN (0, n_lines)" for f in _ORDER_FIELDS)
    found = data.con.execute(
        f"SELECT order_id FROM order_agg WHERE {differs} ORDER BY first_row LIMIT 1"
    ).fetchone()
    if not found:
        return
    order_id = found[0]
    for field in _ORDER_FIELDS:
        clash = data.con.execute(
            f"""
            WITH o AS (SELECT _row, {field} AS val FROM lines WHERE order_id = ?)
            SELECT o._row, f.first_row FROM o,
                   (SELECT arg_min(val, _row) AS first_val, min(_row) AS first_row FROM o) f
            WHERE o.val IS DISTINCT FROM f.first_val ORDER BY o._row LIMIT 1
            """,
            [order_id],
        ).fetchone()
        if clash:
            row, first_row = int(clash[0]), int(clash[1])
            raise InputError(
                f"Order {order_id!r} appears with conflicting {field}: row {first_row} says "
                "otherwise.",
                file=path,
                row=row,
                column=field,
                value=_raw_value(data, field, row) if field in columns else None,
                expected=f"every line of one order to have the same {field}",
                fix="Two different orders share this id: give them distinct order ids, "
                "or correct the field.",
            )


# Orders lines by time, then by position in the file: a key for "the latest line" that
# compares as one integer (a struct of both compares far slower).
_LATEST = "(CAST(epoch_us(ordered_at) AS HUGEINT) * 1099511627776 + _row)"


def _build(data: CanonicalData) -> None:
    """Fill the canonical tables from the typed lines."""
    data.con.execute("DROP TABLE raw")
    source = f"{FORMAT}:{Path(data.source).name}"
    data.con.execute(
        """
        INSERT INTO order_lines
        SELECT order_id,
               CAST(row_number() OVER (PARTITION BY order_id ORDER BY _row) AS INTEGER),
               product_id, sku, name, category, quantity, unit_price,
               CAST(quantity * unit_price AS DECIMAL(18,4))
        FROM lines
        """
    )
    data.con.execute(
        """
        INSERT INTO orders
        SELECT order_id, customer_id, ordered_at, currency, subtotal, 0, 0, 0, subtotal,
               status, discount_codes, channel, ?
        FROM order_agg
        """,
        [source],
    )
    data.con.execute(
        """
        INSERT INTO products
        WITH l AS (SELECT *, {_LATEST} AS k FROM lines)
        SELECT product_id, arg_max(sku, k), arg_max(name, k), arg_max(category, k),
               arg_max(unit_price, k), arg_max(currency, k), true
        FROM l GROUP BY product_id
        """.replace("{_LATEST}", _LATEST)
    )
    data.con.execute(
        """
        INSERT INTO customers (customer_id, email, country)
        WITH l AS (SELECT *, {_LATEST} AS k FROM lines WHERE customer_id IS NOT NULL)
        SELECT customer_id, arg_max(email, k), arg_max(country, k)
        FROM l GROUP BY customer_id
        """.replace("{_LATEST}", _LATEST)
    )
    data.con.execute("DROP TABLE lines")
    data.con.execute("DROP TABLE order_agg")
