"""The canonical tables: every source is turned into these, whatever it looked like.

Each table is a :class:`TableSpec` with a docstring per column; ``spec.arrow_schema`` is the
Arrow schema (each field carries its docstring in the field metadata under ``b"doc"``).

Conventions
-----------
- **Money** is ``decimal128(18, 4)``: exact (never a float), wide enough for any line total,
  and with four decimals so prices of fractions of a cent survive (Online Retail has 0.001).
  Every money column sits in a row, or belongs to an order, that has a ``currency`` column
  (ISO 4217 code). Amounts are never summed across currencies.
- **Time** is ``timestamp[us, tz=UTC]``. Importers convert local times with the store's
  time zone (an import option) and never read the clock.
- **Identifiers** are strings, as the source wrote them (leading zeros kept).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

__all__ = [
    "CUSTOMERS",
    "EVENTS",
    "MONEY",
    "ORDERS",
    "ORDER_LINES",
    "ORDER_STATUSES",
    "PRODUCTS",
    "REFUNDS",
    "TABLES",
    "TIMESTAMP",
    "ColumnSpec",
    "TableSpec",
    "conform",
    "empty_table",
]

MONEY = pa.decimal128(18, 4)
"""Arrow type of every money column: exact decimal, 4 decimals."""

TIMESTAMP = pa.timestamp("us", tz="UTC")
"""Arrow type of every point in time: microseconds, timezone-aware UTC."""

ORDER_STATUSES = ("paid", "cancelled", "refunded", "partially_refunded")
"""The values ``orders.status`` may take."""

REFUND_LINE = pa.struct(
    [
        pa.field("product_id", pa.string()),
        pa.field("quantity", pa.int64()),
        pa.field("amount", MONEY),
    ]
)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a canonical table."""

    name: str
    type: pa.DataType
    nullable: bool
    doc: str

    @property
    def arrow_field(self) -> pa.Field:
        """The Arrow field, with the docstring in its metadata."""
        return pa.field(self.name, self.type, nullable=self.nullable, metadata={"doc": self.doc})


@dataclass(frozen=True)
class TableSpec:
    """One canonical table: a name, what a row is, its columns and its key."""

    name: str
    doc: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the table."""
        return pa.schema([c.arrow_field for c in self.columns], metadata={"doc": self.doc})

    @property
    def column_names(self) -> list[str]:
        """The column names, in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        """Return the column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def __iter__(self) -> Iterator[ColumnSpec]:
        return iter(self.columns)


def _c(name: str, type_: pa.DataType, doc: str, *, nullable: bool = True) -> ColumnSpec:
    return ColumnSpec(name, type_, nullable, doc)


CUSTOMERS = TableSpec(
    "customers",
    "One row per known customer (guests have no row).",
    (
        _c("customer_id", pa.string(), "The store's customer id.", nullable=False),
        _c("email", pa.string(), "Email address, lower-cased; null when unknown."),
        _c("first_name", pa.string(), "First name, for greetings."),
        _c("created_at", TIMESTAMP, "When the customer record was created (UTC)."),
        _c("birthday", pa.date32(), "Date of birth (year may be a placeholder)."),
        _c("country", pa.string(), "Country name or ISO code, as the source gives it."),
        _c("city", pa.string(), "City of the customer's (billing) address."),
        _c("gender", pa.string(), "Gender as the source gives it; null when unknown."),
        _c("accepts_email_marketing", pa.bool_(), "Consent to marketing email."),
        _c("accepts_sms_marketing", pa.bool_(), "Consent to marketing SMS."),
        _c("tags", pa.list_(pa.string()), "Free tags from the store."),
    ),
    key=("customer_id",),
)

PRODUCTS = TableSpec(
    "products",
    "One row per product the store sells (non-product charges such as postage are not here).",
    (
        _c("product_id", pa.string(), "The store's product id.", nullable=False),
        _c("sku", pa.string(), "Stock keeping unit; may differ from product_id."),
        _c("name", pa.string(), "Product name."),
        _c("category", pa.string(), "Product category (one level)."),
        _c("price", MONEY, "Current list price, in `currency`."),
        _c("currency", pa.string(), "ISO 4217 currency code of `price`."),
        _c(
            "active",
            pa.bool_(),
            "Whether the product is on sale (False: discontinued).",
            nullable=False,
        ),
    ),
    key=("product_id",),
)

ORDERS = TableSpec(
    "orders",
    "One row per order (cancelled and refunded orders included, with their status).",
    (
        _c("order_id", pa.string(), "The store's order id.", nullable=False),
        _c("customer_id", pa.string(), "The buyer; null for a guest checkout."),
        _c("ordered_at", TIMESTAMP, "When the order was placed (UTC).", nullable=False),
        _c(
            "currency",
            pa.string(),
            "ISO 4217 currency code of every amount of the order.",
            nullable=False,
        ),
        _c(
            "subtotal",
            MONEY,
            "Sum of the line totals, before discounts, shipping and tax.",
            nullable=False,
        ),
        _c("discount_total", MONEY, "Order-level discounts, as a positive amount.", nullable=False),
        _c("shipping_total", MONEY, "Shipping charged.", nullable=False),
        _c("tax_total", MONEY, "Tax charged.", nullable=False),
        _c(
            "total",
            MONEY,
            "What the customer paid: subtotal - discount + shipping + tax.",
            nullable=False,
        ),
        _c(
            "status",
            pa.string(),
            "One of paid, cancelled, refunded, partially_refunded.",
            nullable=False,
        ),
        _c("discount_codes", pa.list_(pa.string()), "Discount codes used on the order."),
        _c("channel", pa.string(), "Sales channel (web, pos, marketplace, ...)."),
        _c("source_name", pa.string(), "Where the row came from (importer format and file)."),
    ),
    key=("order_id",),
)

ORDER_LINES = TableSpec(
    "order_lines",
    "One row per product line of an order (non-product charges are in the order's totals).",
    (
        _c("order_id", pa.string(), "The order the line belongs to.", nullable=False),
        _c("line_no", pa.int32(), "1-based position of the line in its order.", nullable=False),
        _c("product_id", pa.string(), "The product bought.", nullable=False),
        _c("sku", pa.string(), "Stock keeping unit of the product."),
        _c("name", pa.string(), "Product name at the time of the order."),
        _c("category", pa.string(), "Product category at the time of the order."),
        _c("quantity", pa.int64(), "Units bought (positive).", nullable=False),
        _c("unit_price", MONEY, "Price of one unit, in the order's currency.", nullable=False),
        _c(
            "line_total",
            MONEY,
            "quantity * unit_price (before order-level discounts).",
            nullable=False,
        ),
    ),
    key=("order_id", "line_no"),
)

REFUNDS = TableSpec(
    "refunds",
    "One row per refund or cancellation credited against an order.",
    (
        _c("refund_id", pa.string(), "The refund's id.", nullable=False),
        _c("order_id", pa.string(), "The order refunded.", nullable=False),
        _c("refunded_at", TIMESTAMP, "When the refund was made (UTC).", nullable=False),
        _c("amount", MONEY, "Amount refunded, positive, in `currency`.", nullable=False),
        _c("currency", pa.string(), "ISO 4217 currency code of `amount`.", nullable=False),
        _c("reason", pa.string(), "Why, as the source says (or the importer's rule)."),
        _c("lines", pa.list_(REFUND_LINE), "Refunded items: product_id, quantity, amount."),
    ),
    key=("refund_id",),
)

EVENTS = TableSpec(
    "events",
    "One row per storefront or customer event (Segment spec), deduplicated by messageId.",
    (
        _c(
            "event_id",
            pa.string(),
            "The event's messageId: unique, the deduplication key.",
            nullable=False,
        ),
        _c(
            "type",
            pa.string(),
            "Event name (e.g. 'Order Completed') or 'identify'.",
            nullable=False,
        ),
        _c("customer_id", pa.string(), "The Segment userId; null for anonymous visitors."),
        _c("anonymous_id", pa.string(), "The Segment anonymousId."),
        _c("occurred_at", TIMESTAMP, "When it happened (Segment timestamp, UTC).", nullable=False),
        _c("properties", pa.string(), "The event's properties (or identify traits) as JSON text."),
    ),
    key=("event_id",),
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_LINES, REFUNDS, EVENTS)
}
"""Every canonical table by name, in the order they are written."""


def empty_table(name: str) -> pa.Table:
    """Return an empty Arrow table with the canonical schema of ``name``."""
    return TABLES[name].arrow_schema.empty_table()


def conform(name: str, table: pa.Table) -> pa.Table:
    """Return ``table`` with exactly the canonical columns of ``name``, in order, cast to type.

    Missing nullable columns are filled with nulls; extra columns are dropped.

    Raises
    ------
    KeyError
        If a required (non-nullable) column is missing: an importer bug, not a user error.
    """
    spec = TABLES[name]
    arrays = []
    for col in spec.columns:
        if col.name in table.column_names:
            arrays.append(table.column(col.name).cast(col.type))
        elif col.nullable:
            arrays.append(pa.nulls(table.num_rows, col.type))
        else:
            raise KeyError(f"{name}.{col.name} is required")
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema)


def schema_markdown() -> str:
    """Return the canonical schema as a markdown document (the source of ``docs/schema.md``)."""
    out = [
        "# The canonical tables",
        "",
        "Every source is turned into these tables (generated from `src/regulars/schema.py`;",
        "`regulars schema > docs/schema.md` writes this page again).",
        "",
        "Money is `decimal128(18, 4)` with a currency code beside it; time is UTC.",
    ]
    for spec in TABLES.values():
        out += [
            "",
            f"## {spec.name}",
            "",
            f"{spec.doc} Key: `{', '.join(spec.key)}`.",
            "",
            "| column | type | required | meaning |",
            "|---|---|---|---|",
        ]
        out += [
            f"| `{c.name}` | `{c.type}` | {'no' if c.nullable else 'yes'} | {c.doc} |"
            for c in spec.columns
        ]
    return "\n".join(out) + "\n"
