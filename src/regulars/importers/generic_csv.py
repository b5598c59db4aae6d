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
    load_csv_raw,
    quote,
    require_columns,
    require_values,
    timestamp_sql,
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
    """Return True for a CSV or Parquet file whose header has the required canonical columns."""
    if peek.is_dir:
        return False
    if peek.path.suffix == ".parquet":
        return True
    return set(REQUIRED) <= set(peek.header)


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
        _validate(data, path, columns, options)
        _build(data, columns, options)
        return data


def _opt(columns: list[str], name: str, default: str = "NULL") -> str:
    return quote(name) if name in columns else default


def _validate(data: CanonicalData, path: Path, columns: list[str], options: ImportOptions) -> None:
    for col in ("order_id", "product_id", "ordered_at", "quantity", "unit_price"):
        require_values(
            data,
            "raw",
            col,
            f"{quote(col)} IS NULL OR trim({quote(col)}) = ''",
            file=path,
            message=f"{col} is empty.",
            expected=f"a value in every row for {col}",
            fix=f"Fill in {col} on this row, or remove the row.",
        )
    require_values(
        data,
        "raw",
        "ordered_at",
        f"{timestamp_sql('ordered_at', options.timezone)} IS NULL",
        file=path,
        message="ordered_at is not a date and time.",
        expected="ISO 8601, e.g. 2024-03-01 10:15 or 2024-03-01T10:15:00Z",
        fix="Write dates as YYYY-MM-DD[ HH:MM[:SS]], with an offset or in --timezone local time.",
    )
    require_values(
        data,
        "raw",
        "quantity",
        f"{integer_sql('quantity')} IS NULL",
        file=path,
        message="quantity is not a whole number.",
        expected="a whole number of units, e.g. 3",
        fix="Write quantities as whole numbers without units or separators.",
    )
    require_values(
        data,
        "raw",
        "quantity",
        f"{integer_sql('quantity')} <= 0",
        file=path,
        message="quantity must be positive.",
        expected="a whole number greater than 0",
        fix="Returns are not negative lines here: set the order's status to refunded, "
        "or remove the row.",
    )
    require_values(
        data,
        "raw",
        "unit_price",
        f"{decimal_sql('unit_price')} IS NULL",
        file=path,
        message="unit_price is not a number.",
        expected="a number with a dot for decimals, e.g. 12.50 (no currency sign or separators)",
        fix="Remove currency signs and thousands separators from the price column.",
    )
    require_values(
        data,
        "raw",
        "unit_price",
        f"{decimal_sql('unit_price')} < 0",
        file=path,
        message="unit_price is negative.",
        expected="a price >= 0",
        fix="Record discounts and refunds as such, not as negative prices; or remove the row.",
    )
    if "status" in columns:
        known = ", ".join(f"'{k}'" for k in STATUS_ALIASES)
        require_values(
            data,
            "raw",
            "status",
            f"status IS NOT NULL AND lower(trim(status)) NOT IN ({known})",
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
            "currency IS NOT NULL AND NOT regexp_full_match(upper(trim(currency)), '[A-Z]{3}')",
            file=path,
            message="currency is not an ISO 4217 code.",
            expected="a three-letter code such as USD, EUR, GBP",
            fix="Correct the currency column, or drop it and pass --currency.",
        )
    _check_conflicts(data, path, columns, options)


def _check_conflicts(
    data: CanonicalData, path: Path, columns: list[str], options: ImportOptions
) -> None:
    """Raise if two lines of one order disagree on the order's own fields."""
    fields = ["customer_id", "ordered_at"] + [c for c in ("currency", "status") if c in columns]
    for col in fields:
        value = f"coalesce(trim({quote(col)}), '')"
        if col == "ordered_at":
            value = f"CAST({timestamp_sql(col, options.timezone)} AS VARCHAR)"
        found = data.con.execute(
            f"""
            WITH v AS (SELECT _row, order_id, {quote(col)} AS raw_value, {value} AS val FROM raw),
                 firsts AS (SELECT order_id, arg_min(val, _row) AS first_val,
                                   min(_row) AS first_row
                            FROM v GROUP BY order_id)
            SELECT v._row, v.order_id, v.raw_value, f.first_row, f.first_val
            FROM v JOIN firsts f USING (order_id)
            WHERE v.val IS DISTINCT FROM f.first_val
            ORDER BY v._row LIMIT 1
            """
        ).fetchone()
        if found:
            row, order_id, raw_value, first_row, _ = found
            raise InputError(
                f"Order {order_id!r} appears with conflicting {col}: row {first_row} says "
                f"otherwise.",
                file=path,
                row=int(row),
                column=col,
                value=raw_value,
                expected=f"every line of one order to have the same {col}",
                fix="Two different orders share this id: give them distinct order ids, "
                "or correct the field.",
            )


def _build(data: CanonicalData, columns: list[str], options: ImportOptions) -> None:
    currency = options.currency_or("USD")
    status_cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STATUS_ALIASES.items())
    status = (
        f"CASE lower(trim(status)) {status_cases} ELSE 'paid' END"
        if "status" in columns
        else "'paid'"
    )
    cur = (
        f"coalesce(upper(trim(currency)), '{currency}')"
        if "currency" in columns
        else f"'{currency}'"
    )
    nullif = "NULLIF(trim({}), '')".format
    data.con.execute(
        f"""
        CREATE TABLE lines AS SELECT
            _row,
            trim(order_id) AS order_id,
            {nullif("customer_id")} AS customer_id,
            {timestamp_sql("ordered_at", options.timezone)} AS ordered_at,
            trim(product_id) AS product_id,
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
        SELECT order_id, any_value(customer_id), min(ordered_at), any_value(currency),
               CAST(sum(quantity * unit_price) AS DECIMAL(18,4)), 0, 0, 0,
               CAST(sum(quantity * unit_price) AS DECIMAL(18,4)),
               any_value(status),
               CASE WHEN count(discount_code) > 0
                    THEN list_sort(list_distinct(list(discount_code))) END,
               any_value(channel), ?
        FROM lines GROUP BY order_id
        """,
        [source],
    )
    data.con.execute(
        """
        INSERT INTO products
        SELECT product_id, arg_max(sku, (ordered_at, _row)), arg_max(name, (ordered_at, _row)),
               arg_max(category, (ordered_at, _row)), arg_max(unit_price, (ordered_at, _row)),
               arg_max(currency, (ordered_at, _row)), true
        FROM lines GROUP BY product_id
        """
    )
    data.con.execute(
        """
        INSERT INTO customers (customer_id, email, country)
        SELECT customer_id, arg_max(email, (ordered_at, _row)), arg_max(country, (ordered_at, _row))
        FROM lines WHERE customer_id IS NOT NULL GROUP BY customer_id
        """
    )
    data.con.execute("DROP TABLE lines")
