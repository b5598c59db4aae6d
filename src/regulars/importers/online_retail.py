"""UCI Online Retail: every invoice line of a UK online gift retailer (Chen, Sain & Guo 2012).

Columns: ``InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
Country``. Other spellings (Online Retail II: ``Invoice``, ``Price``, ``Customer ID``) import
with ``--map Invoice=InvoiceNo --map Price=UnitPrice --map "Customer ID=CustomerID"``.

Rules
-----
Every line left out is recorded as a reject with the first rule it breaks, in this order.

1. ``non_product_line``: the stock code is not a product. ``POST`` (postage), ``DOT``
   (dotcom postage) and ``C2`` (carriage) on a sales invoice are added to that order's
   ``shipping_total``; ``D`` (discount) on a sales invoice is added to its ``discount_total``.
   ``M``/``m`` (manual), ``BANK CHARGES``, ``AMAZONFEE``, ``CRUK`` (charity commission),
   ``S`` (samples), ``PADS`` (a 0.001 placeholder), ``B`` (adjust bad debt) and ``gift_*``
   (gift vouchers sold: prepaid credit, not a sale) are only left out. On a cancellation
   invoice every non-product line (postage, manual and fee credits, discounts granted after
   the sale) is left out: the invoice names no order to credit them to.
2. ``zero_quantity``: quantity 0.
3. ``negative_quantity``: a negative quantity on a sales invoice (a stock adjustment such as
   "damaged" or "lost").
4. ``cancellation_positive_quantity``: a positive quantity on a cancellation invoice.
5. ``non_positive_price``: a unit price of 0 or less.
6. ``guest_cancellation``: a cancellation without a CustomerID cannot be linked to an order.
7. ``cancellation_without_order``: the customer has no order at or before the cancellation
   in the file (the purchase predates the data).

Orders and refunds
------------------
- A sales invoice (``InvoiceNo`` not starting with ``C``) with at least one product line kept
  is an order (``order_id`` = InvoiceNo); an invoice whose lines are all left out makes no
  order (``details["invoices_without_order"]``; the ``A`` bad-debt invoices are such).
  ``ordered_at`` is the invoice's earliest line time.
- An empty CustomerID makes a guest order; ``17850.0`` reads as ``17850``.
- Exact duplicate lines are kept (repeated scans are charged twice on the invoice);
  ``details["duplicate_lines"]`` counts them.
- ``subtotal`` is the sum of quantity x unit price of the product lines; ``total`` =
  subtotal - discount_total + shipping_total (no tax in this data).
- An invoice starting with ``C`` is a cancellation. Each of its product lines is credited to
  the customer's latest order at or before the cancellation that has the same stock code;
  failing that, to the customer's latest order at or before it (ties: the highest order
  id). One refund per (cancellation invoice, order): ``refund_id`` is the invoice number,
  suffixed ``-1``, ``-2``, ... (by order id) when the invoice credits several orders;
  ``amount`` = sum of |quantity| x unit price; ``refunded_at`` = the invoice time. Quantities
  are not capped at what the order bought. An order whose refunds reach its subtotal is
  ``refunded``, otherwise ``partially_refunded``; no order is ``cancelled`` (a C invoice
  credits orders that were placed, so it is a refund).
- ``InvoiceDate`` is ``YYYY-MM-DD HH:MM`` (or the original ``M/D/YYYY H:MM``), UK local
  time: read in ``Europe/London`` unless ``--timezone`` names another zone.
- Currency is GBP unless ``--currency`` says otherwise.
- Customers are every CustomerID in the file, with the Country of their latest line.
- Products are the product stock codes, named by their most frequent description on lines
  with a positive price (ties: the latest), priced at their latest sale price.
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

FORMAT = "online-retail"
DESCRIPTION = "UCI Online Retail invoice lines: InvoiceNo, StockCode, Quantity, UnitPrice, ..."

REQUIRED = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

NON_PRODUCT_CODES: dict[str, tuple[str, str]] = {
    "POST": ("shipping", "postage"),
    "DOT": ("shipping", "dotcom postage"),
    "C2": ("shipping", "carriage"),
    "D": ("discount", "discount"),
    "M": ("other", "manual adjustment"),
    "BANK CHARGES": ("other", "bank charges"),
    "AMAZONFEE": ("other", "Amazon fee"),
    "CRUK": ("other", "CRUK charity commission"),
    "S": ("other", "samples"),
    "PADS": ("other", "placeholder line"),
    "B": ("other", "bad debt adjustment"),
}
"""Upper-cased stock code -> (what it does on a sales invoice, label); ``gift_*`` is ``other``."""

GIFT_PREFIX = "GIFT_"
US_DATE_FORMAT = "%m/%d/%Y %H:%M"


def detect(peek: SourcePeek) -> bool:
    """Return True for a file whose header has ``InvoiceNo`` and ``StockCode``."""
    return not peek.is_dir and {"InvoiceNo", "StockCode"} <= set(peek.header)


def read(path: Path, options: ImportOptions) -> CanonicalData:
    """Import a UCI Online Retail file.

    Parameters
    ----------
    path
        CSV or CSV.gz file.
    options
        Column mapping, time zone (Europe/London unless set), currency (GBP unless set),
        encoding.

    Returns
    -------
    CanonicalData
        Orders, order lines, refunds, customers and products, with rejects by rule.
    """
    tz = options.timezone_or("Europe/London")
    with CanonicalData(path, FORMAT).building() as data:
        columns = load_csv_raw(data, path, "raw", options)
        require_columns(columns, REQUIRED, file=path)
        _validate(data, path, tz)
        _stage_lines(data, tz)
        _reject_lines(data, columns)
        currency = options.currency_or("GBP")
        _build_orders(data, currency)
        _build_refunds(data, columns, currency)
        _build_customers_and_products(data, currency)
        _count_details(data)
        data.con.execute("DROP TABLE lines; DROP TABLE raw; DROP TABLE cancels")
        return data


def _time_sql(tz: str) -> str:
    iso = timestamp_sql("InvoiceDate", tz)
    return f"coalesce({iso}, {timestamp_sql('InvoiceDate', tz, US_DATE_FORMAT)})"


def _validate(data: CanonicalData, path: Path, tz: str) -> None:
    for col in ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"):
        require_values(
            data, "raw", col, f"{quote(col)} IS NULL OR trim({quote(col)}) = ''",
            file=path,
            message=f"{col} is empty.",
            expected=f"a value in every row for {col}",
            fix=f"Fill in {col} on this row, or remove the row.",
        )  # fmt: skip
    checks = [
        ("Quantity", f"{integer_sql('Quantity')} IS NULL", "Quantity is not a whole number.",
         "a whole number of units, e.g. 6 or -2", "Write quantities as whole numbers."),
        ("UnitPrice", f"{decimal_sql('UnitPrice')} IS NULL", "UnitPrice is not a number.",
         "a number with a dot for decimals, e.g. 2.55",
         "Remove currency signs and thousands separators from UnitPrice."),
        ("InvoiceDate", f"{_time_sql(tz)} IS NULL", "InvoiceDate is not a date and time.",
         "YYYY-MM-DD HH:MM (or M/D/YYYY H:MM), e.g. 2010-12-01 08:26",
         "Write InvoiceDate as YYYY-MM-DD HH:MM in the store's local time."),
    ]  # fmt: skip
    for col, bad, message, expected, fix in checks:
        require_values(
            data, "raw", col, bad, file=path, message=message, expected=expected, fix=fix
        )
    found = data.con.execute(
        """
        WITH v AS (SELECT _row, trim(InvoiceNo) AS inv, CustomerID AS raw_value,
                          coalesce(regexp_replace(trim(CustomerID), '\\.0+$', ''), '') AS val
                   FROM raw),
             firsts AS (SELECT inv, arg_min(val, _row) AS first_val, min(_row) AS first_row
                        FROM v GROUP BY inv)
        SELECT v._row, v.inv, v.raw_value, f.first_row
        FROM v JOIN firsts f USING (inv) WHERE v.val <> f.first_val ORDER BY v._row LIMIT 1
        """
    ).fetchone()
    if found:
        raise InputError(
            f"Invoice {found[1]!r} has lines of two customers (row {found[3]} says otherwise).",
            file=path,
            row=int(found[0]),
            column="CustomerID",
            value=found[2],
            expected="one CustomerID on every line of an invoice",
            fix="Correct the CustomerID, or give the two invoices distinct numbers.",
        )


def _stage_lines(data: CanonicalData, tz: str) -> None:
    codes = ", ".join(f"('{c}', '{k}', '{label}')" for c, (k, label) in NON_PRODUCT_CODES.items())
    data.con.execute(
        f"""
        CREATE TABLE lines AS
        WITH typed AS (
            SELECT _row, trim(InvoiceNo) AS invoice,
                   upper(left(trim(InvoiceNo), 1)) = 'C' AS is_c,
                   trim(StockCode) AS code, NULLIF(trim(Description), '') AS description,
                   {integer_sql("Quantity")} AS quantity, {decimal_sql("UnitPrice")} AS price,
                   {_time_sql(tz)} AS line_at,
                   NULLIF(regexp_replace(trim(CustomerID), '\\.0+$', ''), '') AS customer_id,
                   NULLIF(trim(Country), '') AS country
            FROM raw),
        codes(code, kind, label) AS (VALUES {codes})
        SELECT t.*, CAST(t.quantity * t.price AS DECIMAL(18,4)) AS amount,
               min(t.line_at) OVER (PARTITION BY t.invoice) AS invoice_at,
               CASE WHEN c.kind IS NOT NULL THEN c.kind
                    WHEN upper(t.code) LIKE '{GIFT_PREFIX}%' THEN 'other'
                    ELSE 'product' END AS kind,
               CASE WHEN c.kind IS NOT NULL THEN c.label
                    WHEN upper(t.code) LIKE '{GIFT_PREFIX}%' THEN 'gift voucher' END AS label,
               CASE WHEN c.kind IS NOT NULL OR upper(t.code) LIKE '{GIFT_PREFIX}%'
                        THEN 'non_product_line'
                    WHEN t.quantity = 0 THEN 'zero_quantity'
                    WHEN NOT t.is_c AND t.quantity < 0 THEN 'negative_quantity'
                    WHEN t.is_c AND t.quantity > 0 THEN 'cancellation_positive_quantity'
                    WHEN t.price <= 0 THEN 'non_positive_price'
                    WHEN t.is_c AND t.customer_id IS NULL THEN 'guest_cancellation'
               END AS rule,
               false AS has_order
        FROM typed t LEFT JOIN codes c ON upper(t.code) = c.code
        ORDER BY t._row
        """
    )
    data.con.execute(
        """
        UPDATE lines SET has_order = true WHERE invoice IN (
            SELECT invoice FROM lines WHERE NOT is_c AND kind = 'product' AND rule IS NULL)
        """
    )


def _reject_lines(data: CanonicalData, columns: list[str]) -> None:
    detail = """CASE rule
        WHEN 'non_product_line' THEN label || ' (' || code || '): ' || CASE
            WHEN is_c THEN 'credited on a cancellation invoice; not a product, left out'
            WHEN kind = 'shipping' AND has_order AND amount > 0
                THEN 'added to the order''s shipping_total'
            WHEN kind = 'discount' AND has_order THEN 'added to the order''s discount_total'
            ELSE 'not a product, left out' END
        WHEN 'zero_quantity' THEN 'quantity is 0'
        WHEN 'negative_quantity' THEN 'negative quantity on a sales invoice (stock adjustment)'
        WHEN 'cancellation_positive_quantity' THEN 'positive quantity on a cancellation invoice'
        WHEN 'non_positive_price' THEN 'unit price is ' || CAST(price AS VARCHAR)
        WHEN 'guest_cancellation' THEN 'cancellation without CustomerID: no order to credit'
        END"""
    data.reject_sql(
        f"SELECT l._row AS row, l.rule, {detail} AS detail, {_record_sql(columns)} AS record "
        "FROM lines l JOIN raw r USING (_row) WHERE l.rule IS NOT NULL"
    )


def _record_sql(columns: list[str]) -> str:
    pairs = ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}', r.{quote(c)}" for c in columns)
    return f"CAST(json_object({pairs}) AS VARCHAR)"


def _build_orders(data: CanonicalData, currency: str) -> None:
    source = f"{FORMAT}:{Path(data.source).name}"
    data.con.execute(
        """
        INSERT INTO order_lines
        SELECT invoice, CAST(row_number() OVER (PARTITION BY invoice ORDER BY _row) AS INTEGER),
               code, code, description, NULL, quantity, price, amount
        FROM lines WHERE NOT is_c AND kind = 'product' AND rule IS NULL
        """
    )
    data.con.execute(
        """
        INSERT INTO orders
        WITH o AS (
            SELECT invoice, any_value(customer_id) AS customer_id, min(invoice_at) AS line_at,
                   coalesce(sum(amount) FILTER (WHERE kind = 'product' AND rule IS NULL), 0)
                       AS subtotal,
                   coalesce(sum(abs(amount)) FILTER (WHERE kind = 'discount'), 0) AS discount,
                   coalesce(sum(amount) FILTER (WHERE kind = 'shipping' AND amount > 0), 0)
                       AS shipping
            FROM lines WHERE has_order GROUP BY invoice)
        SELECT invoice, customer_id, line_at, ?, subtotal, discount, shipping, 0,
               subtotal - discount + shipping, 'paid', NULL, NULL, ?
        FROM o ORDER BY line_at, invoice
        """,
        [currency, source],
    )


def _build_refunds(data: CanonicalData, columns: list[str], currency: str) -> None:
    con = data.con
    con.execute(
        """
        CREATE TEMP TABLE cancels AS
        WITH c AS (SELECT _row, invoice, customer_id, code, invoice_at, -quantity AS quantity,
                          -amount AS amount
                   FROM lines WHERE is_c AND rule IS NULL),
        by_product AS (
            SELECT c._row, arg_max(o.order_id, (o.ordered_at, o.order_id)) AS order_id
            FROM c JOIN orders o ON o.customer_id = c.customer_id AND o.ordered_at <= c.invoice_at
            SEMI JOIN order_lines ol ON ol.order_id = o.order_id AND ol.product_id = c.code
            GROUP BY c._row),
        latest AS (
            SELECT c._row, arg_max(o.order_id, (o.ordered_at, o.order_id)) AS order_id
            FROM c JOIN orders o ON o.customer_id = c.customer_id AND o.ordered_at <= c.invoice_at
            GROUP BY c._row)
        SELECT c.*, coalesce(p.order_id, l.order_id) AS order_id, p.order_id IS NULL AS fallback
        FROM c LEFT JOIN by_product p USING (_row) LEFT JOIN latest l USING (_row)
        """
    )
    data.reject_sql(
        "SELECT c._row AS row, 'cancellation_without_order' AS rule, "
        "'no order of this customer at or before the cancellation (bought before the data)' "
        "AS detail,"
        f" {_record_sql(columns)} AS record "
        "FROM cancels c JOIN raw r USING (_row) WHERE c.order_id IS NULL"
    )
    con.execute(
        """
        INSERT INTO refunds
        WITH r AS (
            SELECT invoice, order_id, any_value(invoice_at) AS line_at, sum(amount) AS amount,
                   list({'product_id': code, 'quantity': quantity, 'amount': amount}
                        ORDER BY _row) AS lines,
                   bool_or(fallback) AS fallback
            FROM cancels WHERE order_id IS NOT NULL GROUP BY invoice, order_id),
        n AS (SELECT *, count(*) OVER (PARTITION BY invoice) AS parts,
                     row_number() OVER (PARTITION BY invoice ORDER BY order_id) AS part
              FROM r)
        SELECT CASE WHEN parts = 1 THEN invoice ELSE invoice || '-' || part END,
               order_id, line_at, amount, ?,
               CASE WHEN fallback THEN 'cancellation invoice ' || invoice
                         || ' (a product not in the order: credited to the latest order)'
                    ELSE 'cancellation invoice ' || invoice END,
               lines
        FROM n ORDER BY line_at, invoice, part
        """,
        [currency],
    )
    con.execute(
        """
        UPDATE orders SET status = CASE WHEN r.amount >= orders.subtotal THEN 'refunded'
                                        ELSE 'partially_refunded' END
        FROM (SELECT order_id, sum(amount) AS amount FROM refunds GROUP BY order_id) r
        WHERE orders.order_id = r.order_id
        """
    )


def _build_customers_and_products(data: CanonicalData, currency: str) -> None:
    data.con.execute(
        """
        INSERT INTO customers (customer_id, country)
        SELECT customer_id, arg_max(country, (line_at, _row)) FROM lines
        WHERE customer_id IS NOT NULL GROUP BY customer_id ORDER BY customer_id
        """
    )
    data.con.execute(
        """
        INSERT INTO products (product_id, sku, name, price, currency, active)
        WITH names AS (
            SELECT code, description, count(*) FILTER (WHERE price > 0) AS priced, count(*) AS n,
                   max((line_at, _row)) AS latest
            FROM lines WHERE kind = 'product' AND description IS NOT NULL
            GROUP BY code, description),
        best AS (SELECT code, arg_max(description, (priced, n, latest)) AS name
                 FROM names GROUP BY code),
        prices AS (
            SELECT code, arg_max(price, (line_at, _row)) AS price FROM lines
            WHERE kind = 'product' AND NOT is_c AND rule IS NULL GROUP BY code)
        SELECT code, code, best.name, prices.price, ?, true
        FROM (SELECT DISTINCT code FROM lines WHERE kind = 'product')
        LEFT JOIN best USING (code) LEFT JOIN prices USING (code)
        ORDER BY code
        """,
        [currency],
    )


def _count_details(data: CanonicalData) -> None:
    row = data.con.execute(
        """
        SELECT count(DISTINCT invoice),
               count(DISTINCT invoice) FILTER (WHERE NOT is_c),
               count(DISTINCT invoice) FILTER (WHERE is_c),
               count(*) FILTER (WHERE is_c),
               count(DISTINCT customer_id),
               count(DISTINCT invoice) FILTER (WHERE NOT is_c AND NOT has_order),
               count(*) FILTER (WHERE kind = 'shipping' AND NOT is_c AND has_order AND amount > 0),
               count(*) FILTER (WHERE kind = 'discount' AND NOT is_c AND has_order)
        FROM lines
        """
    ).fetchone()
    names = (
        "invoices",
        "sales_invoices",
        "cancellation_invoices",
        "cancellation_lines",
        "customer_ids",
        "invoices_without_order",
        "shipping_lines",
        "discount_lines",
    )
    data.details.update(zip(names, (int(v) for v in row or ()), strict=True))
    more = data.con.execute(
        """
        SELECT (SELECT count(*) FROM raw)
                   - (SELECT count(*) FROM (SELECT DISTINCT * EXCLUDE (_row) FROM raw)),
               (SELECT count(*) FROM cancels WHERE order_id IS NOT NULL),
               (SELECT count(*) FROM cancels WHERE order_id IS NOT NULL AND fallback),
               (SELECT count(DISTINCT invoice) FROM cancels WHERE order_id IS NOT NULL),
               (SELECT count(*) FROM orders WHERE status = 'refunded'),
               (SELECT count(*) FROM orders WHERE status = 'partially_refunded')
        """
    ).fetchone()
    more_names = (
        "duplicate_lines",
        "cancellation_lines_refunded",
        "cancellation_lines_refunded_by_fallback",
        "cancellation_invoices_refunded",
        "refunded_orders",
        "partially_refunded_orders",
    )
    data.details.update(zip(more_names, (int(v) for v in more or ()), strict=True))
