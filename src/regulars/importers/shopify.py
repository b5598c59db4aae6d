"""Shopify orders export: the CSV that *Orders > Export* writes (optionally gzipped).

One row per line item; an order's own fields (totals, status, billing address, ...) are
filled on its first row only, and the rows of one order share its ``Name`` (``#1001``).
Headers are matched case-, space- and hyphen-insensitively through :data:`ALIASES`, so the
classic export (``Lineitem sku``, ``Cancelled at``) and the newer one (``Lineitem SKU``,
``Canceled at``, ``Phone`` after ``Name``) both import.

Required: ``Name, Created at, Lineitem quantity, Lineitem price, Lineitem name``.
Read when present: ``Email, Financial Status, Accepts Marketing, Currency, Subtotal,
Shipping, Taxes, Total, Discount Code, Discount Amount, Lineitem sku, Billing Name,
Billing City, Billing Country, Cancelled at, Refunded Amount, Id, Source``.

Rules
-----
- ``order_id`` is ``Name``: the number the merchant and the customer see, and the key that
  groups the rows (``Id`` is only on first rows and absent from older exports).
- The export has no customer id: ``customer_id`` is the ``Email``, trimmed and lower-cased.
  An order without an email is a guest order (no customer row).
- ``Created at`` (``2024-03-01 10:15:00 -0500``) keeps its offset; a time without one is
  local time in ``--timezone``.
- An order's fields come from its first row. That row must carry them (``Created at``, and
  ``Total`` when the column exists). A later row of the same ``Name`` may repeat them or
  leave them empty; if it gives a *different* value (time, email, currency, status,
  subtotal, total or id), two orders share one name and the import stops.
- ``subtotal`` is the sum of the lines (quantity x ``Lineitem price``), before discounts as
  the canonical schema defines it: Shopify's own ``Subtotal`` is after discounts. Orders
  whose ``Subtotal`` is neither that sum nor that sum minus ``Discount Amount`` (edited
  orders, removed items) are counted in ``details["subtotal_differs_from_lines"]``.
  ``discount_total``, ``shipping_total``, ``tax_total`` and ``total`` are ``Discount Amount``,
  ``Shipping``, ``Taxes`` and ``Total`` (an empty amount is 0; without a ``Total`` column the
  total is subtotal - discount + shipping + tax). ``Lineitem discount`` is not read: the
  order's ``Discount Amount`` already includes it.
- ``status``: a ``Cancelled at`` time makes the order cancelled; otherwise ``Financial
  Status`` decides: refunded, partially_refunded; voided and expired -> cancelled; paid,
  and also pending, authorized and partially_paid -> paid (the order was placed; these are
  counted in ``details["orders_not_fully_paid"]``); empty -> paid. Other values stop the import.
- ``discount_codes`` splits ``Discount Code`` on commas. ``channel`` is ``Source`` (web,
  pos, shopify_draft_order, an app id); ``source_name`` is ``shopify:<file name>``.
- Lines: ``product_id`` is ``Lineitem sku``, or ``Lineitem name`` when the sku is empty.
  ``Lineitem quantity`` is a whole number >= 0 and ``Lineitem price`` a number >= 0; a line
  of quantity 0 (removed by an order edit) is skipped by rule ``zero_quantity_line``.
- Refunds: an order with ``Refunded Amount`` > 0 gets one refund, ``refund_id`` =
  ``<Name>:refund``. The export has no refund date, so ``refunded_at`` is the order's
  ``Cancelled at`` when set, else its ``Created at`` (the earliest the refund can be).
- Customers: email, first name (first word of ``Billing Name``), city, country and
  ``Accepts Marketing`` (yes/no) from the customer's latest order that has them;
  ``created_at`` is the first order's time. Order ``Tags`` are not customer tags.
- Products: the distinct ``product_id`` values, with sku, name and price of their latest line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from regulars.errors import ImportFormatError, InputError
from regulars.importers.base import CanonicalData, ImportOptions
from regulars.importers.validate import (
    decimal_sql,
    first_bad_row,
    integer_sql,
    load_csv_raw,
    normalize_header,
    quote,
    timestamp_sql,
)

if TYPE_CHECKING:
    from regulars.importers import SourcePeek

FORMAT = "shopify"
DESCRIPTION = "Shopify orders export (Orders > Export, one row per line item)"

ALIASES: dict[str, tuple[str, ...]] = {
    "Name": ("name",),
    "Email": ("email",),
    "Financial Status": ("financial_status",),
    "Accepts Marketing": ("accepts_marketing", "accepts_email_marketing"),
    "Currency": ("currency",),
    "Subtotal": ("subtotal",),
    "Shipping": ("shipping",),
    "Taxes": ("taxes",),
    "Total": ("total",),
    "Discount Code": ("discount_code", "discount_codes"),
    "Discount Amount": ("discount_amount",),
    "Created at": ("created_at",),
    "Lineitem quantity": ("lineitem_quantity",),
    "Lineitem name": ("lineitem_name",),
    "Lineitem price": ("lineitem_price",),
    "Lineitem sku": ("lineitem_sku",),
    "Billing Name": ("billing_name",),
    "Billing City": ("billing_city",),
    "Billing Country": ("billing_country",),
    "Cancelled at": ("cancelled_at", "canceled_at"),
    "Refunded Amount": ("refunded_amount",),
    "Id": ("id",),
    "Source": ("source",),
}
"""Field (classic header) -> the normalized headers that mean it (:func:`normalize_header`)."""

REQUIRED = ("Name", "Created at", "Lineitem quantity", "Lineitem price", "Lineitem name")
MONEY = ("Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount")

FINANCIAL_STATUS = {
    "paid": "paid",
    "pending": "paid",
    "authorized": "paid",
    "partially_paid": "paid",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
    "voided": "cancelled",
    "expired": "cancelled",
}

# Order-level fields every row of one Name that carries them must agree on, as comparable SQL.
_ORDER_FIELDS = {
    "Created at": "created_ts",
    "Email": 'lower(f."Email")',
    "Currency": 'upper(f."Currency")',
    "Financial Status": "fin",
    "Subtotal": decimal_sql("Subtotal"),
    "Total": decimal_sql("Total"),
    "Id": 'f."Id"',
}


def detect(peek: SourcePeek) -> bool:
    """Return True for a CSV whose header has ``Name`` and ``Lineitem quantity``."""
    if peek.is_dir:
        return False
    header = {normalize_header(c) for c in peek.header}
    return {"name", "lineitem_quantity"} <= header


def read(path: Path, options: ImportOptions) -> CanonicalData:
    """Import a Shopify orders export.

    Parameters
    ----------
    path
        The export, as ``.csv`` or ``.csv.gz``.
    options
        Column mapping, time zone of times without offset, default currency, encoding.

    Returns
    -------
    CanonicalData
        Orders, order lines, customers, products and refunds.
    """
    with CanonicalData(path, FORMAT).building() as data:
        columns = load_csv_raw(data, path, "raw", options)
        headers = _match_headers(columns, path)
        _stage(data, headers, options)
        _validate(data, path, headers)
        _build(data, options)
        return data


def _match_headers(columns: list[str], path: Path) -> dict[str, str]:
    """Return field -> the file's header for it (the first match when several match)."""
    found: dict[str, str] = {}
    for column in columns:
        key = normalize_header(column)
        for field, aliases in ALIASES.items():
            if key in aliases and field not in found:
                found[field] = column
    for field in REQUIRED:
        if field not in found:
            raise ImportFormatError(
                f"Required column {field} missing.",
                file=path,
                row=1,
                column=field,
                expected="a Shopify orders export with columns " + ", ".join(REQUIRED),
                fix=f"Export the orders again from Shopify, or map your column with --map "
                f"your_column='{field}'. The file has: {', '.join(columns)}.",
            )
    return found


def _stage(data: CanonicalData, headers: dict[str, str], options: ImportOptions) -> None:
    """Copy the raw rows into ``src``: one trimmed text column per field (NULL when empty)."""
    cols = ", ".join(
        f"NULLIF(trim({quote(headers[f])}), '') AS {quote(f)}"
        if f in headers
        else f"CAST(NULL AS VARCHAR) AS {quote(f)}"
        for f in ALIASES
    )
    data.con.execute(f"CREATE TABLE src0 AS SELECT _row, {cols} FROM raw")
    data.con.execute("DROP TABLE raw")
    # DuckDB cannot cast '10:15:00 -0500' (space before the offset), and reads '01/03/24' as
    # the year 1: drop that space, and accept only times that start YYYY-MM-DD.
    no_space = "regexp_replace({}, ' ([+-][0-9]{{2}}(:?[0-9]{{2}})?)$', '\\1')".format

    def parsed(column: str) -> str:
        iso = f"regexp_matches({column}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')"
        return f"CASE WHEN {iso} THEN {timestamp_sql(column, options.timezone_or('UTC'))} END"

    data.con.execute(
        f"""
        CREATE TABLE src AS SELECT *,
            {parsed("created_n")} AS created_ts,
            {parsed("cancelled_n")} AS cancelled_ts,
            regexp_replace(lower("Financial Status"), '[ -]+', '_', 'g') AS fin
        FROM (SELECT *, {no_space('"Created at"')} AS created_n,
                        {no_space('"Cancelled at"')} AS cancelled_n FROM src0)
        """
    )
    data.con.execute("DROP TABLE src0")


_QTY = integer_sql("Lineitem quantity")
_PRICE = decimal_sql("Lineitem price")
_NUMBER_FIX = "Remove currency signs and thousands separators; use a dot for decimals."
_TIME_EXPECTED = "a time as Shopify writes it, e.g. 2024-03-01 10:15:00 -0500"
_TIME_FIX = "Export the orders again, or write times as YYYY-MM-DD HH:MM:SS +HHMM."
_KNOWN_STATUS = ", ".join(f"'{k}'" for k in FINANCIAL_STATUS)

# (field, condition of a bad row, message, expected, fix), checked in this order.
_CHECKS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Name", '"Name" IS NULL', "Name is empty.", "the order name, e.g. #1001, on every row",
     "Fill in the order's Name on every row of the order, or remove the row."),
    ("Lineitem quantity", f"{_QTY} IS NULL", "Lineitem quantity is not a whole number.",
     "a whole number of units, e.g. 2", "Write quantities as whole numbers."),
    ("Lineitem quantity", f"{_QTY} < 0", "Lineitem quantity is negative.", "a whole number >= 0",
     "Returns belong in Refunded Amount, not in negative lines."),
    ("Lineitem price", f"{_PRICE} IS NULL", "Lineitem price is not a number.",
     "a number, e.g. 19.99", _NUMBER_FIX),
    ("Lineitem price", f"{_PRICE} < 0", "Lineitem price is negative.", "a price >= 0",
     "Record discounts in Discount Amount, not as negative prices."),
    ("Lineitem name", '"Lineitem name" IS NULL AND "Lineitem sku" IS NULL',
     "The line has neither a Lineitem name nor a Lineitem sku.",
     "a product name or sku on every line", "Fill in the product's name or sku."),
    *(
        (f, f'"{f}" IS NOT NULL AND {decimal_sql(f)} IS NULL', f"{f} is not a number.",
         "an amount, e.g. 45.00", _NUMBER_FIX)
        for f in MONEY
    ),
    ("Created at", '"Created at" IS NOT NULL AND created_ts IS NULL',
     "Created at is not a date and time.", _TIME_EXPECTED, _TIME_FIX),
    ("Cancelled at", '"Cancelled at" IS NOT NULL AND cancelled_ts IS NULL',
     "Cancelled at is not a date and time.", _TIME_EXPECTED, _TIME_FIX),
    ("Financial Status", f"fin IS NOT NULL AND fin NOT IN ({_KNOWN_STATUS})",
     "Unknown Financial Status.", " | ".join(FINANCIAL_STATUS),
     "Use one of Shopify's financial statuses, or leave it empty for paid."),
    ("Currency",
     """"Currency" IS NOT NULL AND NOT regexp_full_match(upper("Currency"), '[A-Z]{3}')""",
     "Currency is not an ISO 4217 code.", "a code such as USD, EUR, GBP",
     "Correct the currency, or leave it empty and pass --currency."),
)  # fmt: skip


def _validate(data: CanonicalData, path: Path, headers: dict[str, str]) -> None:
    firsts = '(SELECT * FROM src QUALIFY row_number() OVER (PARTITION BY "Name" ORDER BY _row) = 1)'
    first_row_checks = [("Created at", "created_ts IS NULL")]
    if "Total" in headers:
        first_row_checks.append(("Total", '"Total" IS NULL'))
    for field, condition, message, expected, fix in _CHECKS:
        found = first_bad_row(data, "src", field, condition)
        if found:
            raise InputError(
                message,
                file=path,
                row=found[0],
                column=headers.get(field, field),
                value=found[1],
                expected=expected,
                fix=fix,
            )
    for field, condition in first_row_checks:
        head = data.con.execute(
            f'SELECT _row, "Name" FROM {firsts} WHERE {condition} ORDER BY _row LIMIT 1'
        ).fetchone()
        if head:
            raise InputError(
                f"Order {head[1]!r} starts on a row without its order fields ({field} is empty).",
                file=path,
                row=int(head[0]),
                column=headers[field],
                expected="Created at and Total filled on the first row of every order",
                fix="Keep the rows of each order together, first row first, as Shopify "
                "exports them.",
            )
    _check_conflicts(data, path, headers)


def _check_conflicts(data: CanonicalData, path: Path, headers: dict[str, str]) -> None:
    """Raise when two rows of one Name carry different order-level values."""
    for field, expr in _ORDER_FIELDS.items():
        if field not in headers:
            continue
        found = data.con.execute(
            f"""
            WITH v AS (SELECT _row, "Name", {quote(field)} AS raw_value, {expr} AS val
                       FROM src f),
                 firsts AS (SELECT "Name", arg_min(val, _row) AS first_val,
                                   min(_row) AS first_row FROM v GROUP BY "Name")
            SELECT v._row, v."Name", v.raw_value, firsts.first_row
            FROM v JOIN firsts USING ("Name")
            WHERE v.raw_value IS NOT NULL AND v._row > firsts.first_row
              AND v.val IS DISTINCT FROM firsts.first_val
            ORDER BY v._row LIMIT 1
            """
        ).fetchone()
        if found:
            row, name, value, first_row = found
            raise InputError(
                f"Order {name!r} has two different {field} values (row {first_row} and this "
                "row): two different orders share one Name.",
                file=path,
                row=int(row),
                column=headers[field],
                value=value,
                expected=f"the rows of one order to agree on {field}",
                fix="Give each order its own Name, or remove the repeated order.",
            )


def _build(data: CanonicalData, options: ImportOptions) -> None:
    currency = options.currency_or("USD")
    status_cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in FINANCIAL_STATUS.items())
    money = {f: f"coalesce(abs({decimal_sql(f)}), 0)" for f in MONEY}
    con = data.con
    data.reject_sql(
        "SELECT _row AS row, 'zero_quantity_line' AS rule, "
        "'Lineitem quantity is 0 (an item removed from the order)' AS detail, "
        "to_json(s) AS record FROM (SELECT * EXCLUDE (created_n, cancelled_n, created_ts, "
        "cancelled_ts, fin) FROM src) s WHERE " + integer_sql("Lineitem quantity") + " = 0"
    )
    con.execute(
        f"""
        CREATE TABLE lines AS SELECT _row, "Name" AS order_id,
            coalesce("Lineitem sku", "Lineitem name") AS product_id,
            "Lineitem sku" AS sku, "Lineitem name" AS name,
            {integer_sql("Lineitem quantity")} AS quantity,
            {decimal_sql("Lineitem price")} AS unit_price
        FROM src WHERE {integer_sql("Lineitem quantity")} > 0
        """
    )
    con.execute(
        f"""
        CREATE TABLE heads AS
        WITH sums AS (SELECT order_id, sum(quantity * unit_price) AS lines_total
                      FROM lines GROUP BY order_id)
        SELECT f._row, f."Name" AS order_id, lower(f."Email") AS customer_id,
            f.created_ts AS ordered_at, coalesce(upper(f."Currency"), '{currency}') AS currency,
            CAST(coalesce(s.lines_total, 0) AS DECIMAL(18,4)) AS subtotal,
            {money["Discount Amount"]} AS discount_total, {money["Shipping"]} AS shipping_total,
            {money["Taxes"]} AS tax_total, {decimal_sql("Subtotal")} AS shop_subtotal,
            {decimal_sql("Total")} AS total,
            CASE WHEN f.cancelled_ts IS NOT NULL THEN 'cancelled'
                 ELSE CASE f.fin {status_cases} ELSE 'paid' END END AS status,
            f.fin, f.cancelled_ts, {money["Refunded Amount"]} AS refunded,
            list_filter(list_transform(string_split(f."Discount Code", ','), lambda c: trim(c)),
                        lambda c: c <> '') AS codes,
            f."Source" AS channel, split_part(f."Billing Name", ' ', 1) AS first_name,
            f."Billing City" AS city, f."Billing Country" AS country,
            CASE lower(f."Accepts Marketing") WHEN 'yes' THEN true WHEN 'true' THEN true
                 WHEN 'no' THEN false WHEN 'false' THEN false END AS accepts
        FROM src f LEFT JOIN sums s ON s.order_id = f."Name"
        QUALIFY row_number() OVER (PARTITION BY f."Name" ORDER BY f._row) = 1
        """
    )
    con.execute(
        """
        INSERT INTO orders
        SELECT order_id, customer_id, ordered_at, currency, subtotal, discount_total,
               shipping_total, tax_total,
               coalesce(total, subtotal - discount_total + shipping_total + tax_total), status,
               CASE WHEN len(codes) > 0 THEN codes END, channel, ?
        FROM heads ORDER BY _row
        """,
        [f"{FORMAT}:{Path(data.source).name}"],
    )
    con.execute(
        """
        INSERT INTO order_lines
        SELECT order_id, CAST(row_number() OVER (PARTITION BY order_id ORDER BY _row) AS INTEGER),
               product_id, sku, name, NULL, quantity, unit_price,
               CAST(quantity * unit_price AS DECIMAL(18,4))
        FROM lines ORDER BY _row
        """
    )
    con.execute(
        """
        INSERT INTO refunds
        SELECT order_id || ':refund', order_id, coalesce(cancelled_ts, ordered_at), refunded,
               currency, 'Refunded Amount of the Shopify export', NULL
        FROM heads WHERE refunded > 0 ORDER BY _row
        """
    )
    con.execute(
        """
        INSERT INTO products
        SELECT l.product_id, arg_max(l.sku, (h.ordered_at, l._row)),
               arg_max(l.name, (h.ordered_at, l._row)),
               NULL, arg_max(l.unit_price, (h.ordered_at, l._row)),
               arg_max(h.currency, (h.ordered_at, l._row)), true
        FROM lines l JOIN heads h USING (order_id) GROUP BY l.product_id
        """
    )
    latest = "arg_max({0}, (ordered_at, _row)) FILTER (WHERE {0} IS NOT NULL)".format
    con.execute(
        f"""
        INSERT INTO customers (customer_id, email, first_name, created_at, country, city,
                               accepts_email_marketing)
        SELECT customer_id, customer_id, {latest("first_name")}, min(ordered_at),
               {latest("country")}, {latest("city")}, {latest("accepts")}
        FROM heads WHERE customer_id IS NOT NULL GROUP BY customer_id
        """
    )
    data.details.update(
        line_items=data.count("order_lines"),
        orders_with_refunds=data.count("refunds"),
        orders_not_fully_paid=_count(
            data,
            "heads WHERE fin IN ('pending', 'authorized', 'partially_paid') "
            "AND cancelled_ts IS NULL",
        ),
        subtotal_differs_from_lines=_count(
            data,
            "heads WHERE shop_subtotal IS NOT NULL "
            "AND shop_subtotal NOT IN (subtotal, subtotal - discount_total)",
        ),
    )
    for table in ("lines", "heads", "src"):
        con.execute(f"DROP TABLE {table}")


def _count(data: CanonicalData, where: str) -> int:
    row = data.con.execute("SELECT count(*) FROM " + where).fetchone()
    return int(row[0]) if row else 0
