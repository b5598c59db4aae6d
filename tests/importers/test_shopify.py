"""The Shopify orders-export importer: mapping, totals, statuses, refunds and error messages."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from regulars.errors import ImportFormatError, InputError
from regulars.importers import FORMATS, ImportOptions, SourcePeek, read_source, shopify
from regulars.workspace import Workspace, content_hash

# The classic header, as Shopify's help center lists it (see docs/reference conventions, 2).
CLASSIC_LINE = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,"
    "Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,"
    "Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,"
    "Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,"
    "Location,Device ID,Id,Tags,Risk Level,Source,Lineitem discount"
)
CLASSIC = CLASSIC_LINE.split(",")

# The newer naming: Phone after Name, compare-at, SKU, Canceled at, other capitalisation.
NEWER_LINE = (
    "Name,Phone,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,"
    "Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,"
    "Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,"
    "Lineitem compare-at price,Lineitem SKU,Lineitem requires shipping,Billing Name,"
    "Billing City,Billing Country,Canceled at,Payment Reference (deprecated),Refunded Amount,"
    "Id,Tags,Source,Lineitem discount,Payment terms,Next payment due at"
)
NEWER = NEWER_LINE.split(",")

# An order: its own fields, then its line items (quantity, name, price, sku).
ORDERS: list[tuple[dict[str, str], list[tuple[str, str, str, str]]]] = [
    (
        {
            "Name": "#1001", "Email": "Alice@Example.com", "Financial Status": "paid",
            "Accepts Marketing": "yes", "Currency": "USD", "Subtotal": "45.00",
            "Shipping": "5.00", "Taxes": "4.00", "Total": "54.00", "Discount Code": "SAVE5",
            "Discount Amount": "5.00", "Created at": "2024-03-01 10:15:00 -0500",
            "Billing Name": "Alice Smith", "Billing City": "Boston", "Billing Country": "US",
            "Id": "5550001", "Source": "web",
        },
        [("2", "T-shirt - M", "20.00", "TEE-M"), ("1", "Mug", "10.00", "MUG")],
    ),
    (
        {
            "Name": "#1002", "Email": "bob@example.com", "Financial Status": "partially_refunded",
            "Accepts Marketing": "no", "Currency": "EUR", "Subtotal": "40.00",
            "Shipping": "0.00", "Taxes": "0.00", "Total": "40.00",
            "Discount Code": "WELCOME, VIP", "Discount Amount": "6.50",
            "Created at": "2024-03-05 09:00:00 +0100", "Refunded Amount": "15.50",
            "Billing Name": "Bob", "Billing City": "Paris", "Billing Country": "FR",
            "Id": "5550002", "Source": "pos",
        },
        [("3", "Poster", "15.50", "")],  # no sku: the name is the product id
    ),
    (
        {
            "Name": "#1003", "Email": "", "Financial Status": "voided", "Currency": "USD",
            "Subtotal": "99.00", "Shipping": "0.00", "Taxes": "0.00", "Total": "99.00",
            "Discount Amount": "0.00", "Created at": "2024-03-06 08:00:00 -0500",
            "Cancelled at": "2024-03-07 12:00:00 -0500", "Id": "5550003", "Source": "web",
        },
        [("1", "Lamp", "99.00", "LAMP")],
    ),
    (
        {
            "Name": "#1004", "Email": "alice@example.com", "Financial Status": "pending",
            "Accepts Marketing": "no", "Currency": "USD", "Subtotal": "20.00",
            "Shipping": "5.00", "Taxes": "0.00", "Total": "25.00", "Discount Amount": "0.00",
            "Created at": "2024-04-01 18:30:00 -0400", "Billing Name": "Alice Smith",
            "Billing City": "Cambridge", "Billing Country": "US", "Id": "5550004",
            "Source": "web",
        },
        [("1", "T-shirt - M", "20.00", "TEE-M"), ("0", "Mug", "10.00", "MUG")],  # removed
    ),
    (
        {
            "Name": "#1005", "Email": "carol@example.com", "Financial Status": "refunded",
            "Currency": "USD", "Subtotal": "30.00", "Shipping": "0.00", "Taxes": "0.00",
            "Total": "30.00", "Discount Amount": "0.00", "Refunded Amount": "30.00",
            "Created at": "2024-04-02 09:00:00 +0000", "Billing Name": "Carol Ann Jones",
            "Id": "5550005", "Source": "web",
        },
        [("1", "Scarf", "30.00", "SCARF")],
    ),
]  # fmt: skip

# Names of the two headers for the fields the fixture fills.
NEWER_NAMES = {"Lineitem sku": "Lineitem SKU", "Cancelled at": "Canceled at"}


def export_text(header: list[str], orders=ORDERS, *, repeat_email: bool = True) -> str:
    """Write orders as Shopify does: order fields on the first row of each order only."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    names = {c: c for c in header} | {v: k for k, v in NEWER_NAMES.items()}
    for fields, lines in orders:
        for i, (qty, name, price, sku) in enumerate(lines):
            row = dict(fields) if i == 0 else {"Name": fields["Name"]}
            if i > 0 and repeat_email:
                row["Email"] = fields.get("Email", "")
            row |= {
                "Lineitem quantity": qty,
                "Lineitem name": name,
                "Lineitem price": price,
                "Lineitem sku": sku,
            }
            writer.writerow([row.get(names[c], "") for c in header])
    return out.getvalue()


def write(tmp_path: Path, text: str, name: str = "orders_export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def dec(text: str) -> Decimal:
    return Decimal(text or "0")


def expected_subtotal(lines: list[tuple[str, str, str, str]]) -> Decimal:
    return sum((int(q) * Decimal(p) for q, _, p, _ in lines), Decimal(0))


def all_formats_present() -> bool:
    return all(importlib.util.find_spec(module) is not None for module in FORMATS.values())


# -- the good export ---------------------------------------------------------------------


@pytest.mark.parametrize("header", [CLASSIC, NEWER], ids=["classic", "newer"])
def test_orders_totals_statuses_and_codes(tmp_path: Path, header: list[str]) -> None:
    path = write(tmp_path, export_text(header))
    with shopify.read(path, ImportOptions()) as data:
        data.check()
        orders = {r["order_id"]: r for r in data.table("orders").to_pylist()}
        summary = data.summary()
    assert summary.orders == len(ORDERS)
    for fields, lines in ORDERS:
        order = orders[fields["Name"]]
        assert order["subtotal"] == expected_subtotal(lines)  # before discounts
        assert order["discount_total"] == dec(fields["Discount Amount"])
        assert order["shipping_total"] == dec(fields["Shipping"])
        assert order["tax_total"] == dec(fields["Taxes"])
        assert order["total"] == dec(fields["Total"])
        assert order["currency"] == fields["Currency"]
        assert order["channel"] == fields["Source"]
        assert order["source_name"] == "shopify:orders_export.csv"
    # Shopify's Subtotal is after discounts: lines - discount = Subtotal for #1001.
    first = ORDERS[0][0]
    assert orders["#1001"]["subtotal"] - dec(first["Discount Amount"]) == dec(first["Subtotal"])
    assert {k: v["status"] for k, v in orders.items()} == {
        "#1001": "paid",
        "#1002": "partially_refunded",
        "#1003": "cancelled",  # voided and cancelled
        "#1004": "paid",  # pending counts as a placed order
        "#1005": "refunded",
    }
    assert orders["#1001"]["discount_codes"] == ["SAVE5"]
    assert orders["#1002"]["discount_codes"] == ["WELCOME", "VIP"]
    assert orders["#1003"]["discount_codes"] is None
    assert orders["#1001"]["ordered_at"] == datetime(2024, 3, 1, 15, 15, tzinfo=UTC)
    assert orders["#1002"]["ordered_at"] == datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert summary.details["orders_not_fully_paid"] == 1
    assert summary.details["subtotal_differs_from_lines"] == 0


def test_lines_products_and_the_removed_line(tmp_path: Path) -> None:
    path = write(tmp_path, export_text(CLASSIC))
    with shopify.read(path, ImportOptions()) as data:
        lines = data.table("order_lines").to_pylist()
        products = {r["product_id"]: r for r in data.table("products").to_pylist()}
        rejects = data.rejects().to_pylist()
        summary = data.summary()
    kept = [ln for _, order_lines in ORDERS for ln in order_lines if ln[0] != "0"]
    assert len(lines) == len(kept) == summary.details["line_items"]
    assert [(r["order_id"], r["line_no"]) for r in lines[:2]] == [("#1001", 1), ("#1001", 2)]
    tee = next(r for r in lines if r["order_id"] == "#1001" and r["product_id"] == "TEE-M")
    assert (tee["quantity"], tee["unit_price"], tee["line_total"]) == (
        2,
        Decimal("20.00"),
        2 * Decimal("20.00"),
    )
    assert next(r for r in lines if r["order_id"] == "#1002")["product_id"] == "Poster"
    assert set(products) == {"TEE-M", "MUG", "Poster", "LAMP", "SCARF"}
    assert products["Poster"]["sku"] is None
    assert products["TEE-M"]["name"] == "T-shirt - M"
    assert [(r["rule"], r["row"]) for r in rejects] == [("zero_quantity_line", 7)]
    assert summary.skipped == {"zero_quantity_line": 1}


def test_refunds_one_per_order_with_refunded_amount(tmp_path: Path) -> None:
    path = write(tmp_path, export_text(CLASSIC))
    with shopify.read(path, ImportOptions()) as data:
        refunds = {r["order_id"]: r for r in data.table("refunds").to_pylist()}
        summary = data.summary()
    refunded = {f["Name"]: f for f, _ in ORDERS if dec(f.get("Refunded Amount", "")) > 0}
    assert set(refunds) == set(refunded) == {"#1002", "#1005"}
    assert summary.details["orders_with_refunds"] == 2
    for name, fields in refunded.items():
        assert refunds[name]["refund_id"] == f"{name}:refund"
        assert refunds[name]["amount"] == dec(fields["Refunded Amount"])
        assert refunds[name]["currency"] == fields["Currency"]
    # No refund date in the export: the order's creation time stands in.
    assert refunds["#1005"]["refunded_at"] == datetime(2024, 4, 2, 9, 0, tzinfo=UTC)


def test_customers_guests_and_consent(tmp_path: Path) -> None:
    path = write(tmp_path, export_text(CLASSIC, repeat_email=False))
    with shopify.read(path, ImportOptions()) as data:
        customers = {r["customer_id"]: r for r in data.table("customers").to_pylist()}
        orders = {r["order_id"]: r for r in data.table("orders").to_pylist()}
        summary = data.summary()
    assert set(customers) == {"alice@example.com", "bob@example.com", "carol@example.com"}
    assert summary.customers == 3
    assert summary.guest_orders == 1
    assert orders["#1003"]["customer_id"] is None
    assert orders["#1001"]["customer_id"] == orders["#1004"]["customer_id"] == "alice@example.com"
    alice = customers["alice@example.com"]
    assert alice["email"] == "alice@example.com"
    assert alice["first_name"] == "Alice"
    assert alice["city"] == "Cambridge"  # from the latest order
    assert alice["country"] == "US"
    assert alice["accepts_email_marketing"] is False  # latest order said no
    assert alice["created_at"] == datetime(2024, 3, 1, 15, 15, tzinfo=UTC)  # first order
    assert alice["tags"] is None
    assert customers["bob@example.com"]["accepts_email_marketing"] is False
    assert customers["carol@example.com"]["first_name"] == "Carol"
    assert customers["carol@example.com"]["accepts_email_marketing"] is None


def test_gzipped_export_imports_the_same(tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv.gz"
    path.write_bytes(gzip.compress(export_text(CLASSIC).encode()))
    assert shopify.detect(SourcePeek.of(path))
    with shopify.read(path, ImportOptions()) as data:
        summary = data.summary()
    assert (summary.orders, summary.refunds, summary.rows_read) == (5, 2, 7)


def test_local_times_without_offset_use_the_timezone(tmp_path: Path) -> None:
    fields, lines = ORDERS[0]
    text = export_text(CLASSIC, [({**fields, "Created at": "2024-03-01 10:15:00"}, lines)])
    path = write(tmp_path, text)
    with shopify.read(path, ImportOptions(timezone="America/New_York")) as data:
        (order,) = data.table("orders").to_pylist()
    assert order["ordered_at"] == datetime(2024, 3, 1, 15, 15, tzinfo=UTC)


def test_detect_and_workspace_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, export_text(NEWER))
    assert shopify.detect(SourcePeek.of(path))
    ws = Workspace(tmp_path / "ws.duckdb")
    with shopify.read(path, ImportOptions()) as data:
        data.check()
        result = ws.write(data, content_hash=content_hash(path, shopify.FORMAT, ImportOptions()))
    assert result.written
    counts = ws.counts()
    assert counts["orders"] == 5
    assert counts["order_lines"] == 6
    assert counts["refunds"] == 2
    assert counts["customers"] == 3
    assert counts["products"] == 5
    assert counts["events"] == 0


def test_generic_csv_is_not_taken_for_shopify(tmp_path: Path) -> None:
    path = write(tmp_path, "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n")
    assert not shopify.detect(SourcePeek.of(path))


@pytest.mark.skipif(not all_formats_present(), reason="not every format module exists yet")
def test_read_source_auto_detects_shopify(tmp_path: Path) -> None:
    path = write(tmp_path, export_text(CLASSIC))
    with read_source(path, format="auto") as data:
        assert data.format == "shopify"
        assert data.summary().orders == 5


# -- malformed exports -------------------------------------------------------------------


def test_missing_required_column(tmp_path: Path) -> None:
    header = [c for c in CLASSIC if c != "Lineitem quantity"]
    path = write(tmp_path, export_text(header))
    with pytest.raises(ImportFormatError, match=r"row 1, column 'Lineitem quantity'") as info:
        shopify.read(path, ImportOptions())
    assert "Required column Lineitem quantity missing" in str(info.value)
    assert str(path) in str(info.value)


def test_bad_number_names_file_row_and_column(tmp_path: Path) -> None:
    fields, lines = ORDERS[1]
    orders = [ORDERS[0], ({**fields, "Total": "40,00 €"}, lines)]
    path = write(tmp_path, export_text(CLASSIC, orders))
    with pytest.raises(InputError, match=r"orders_export\.csv, row 4, column 'Total'") as info:
        shopify.read(path, ImportOptions())
    assert "Total is not a number" in str(info.value)
    assert "40,00 €" in str(info.value)


def test_bad_date_names_file_row_and_column(tmp_path: Path) -> None:
    fields, lines = ORDERS[0]
    path = write(tmp_path, export_text(NEWER, [({**fields, "Created at": "01/03/24"}, lines)]))
    with pytest.raises(InputError, match=r"row 2, column 'Created at'") as info:
        shopify.read(path, ImportOptions())
    assert "Created at is not a date and time" in str(info.value)


def test_bad_quantity_and_negative_quantity(tmp_path: Path) -> None:
    fields, lines = ORDERS[0]
    path = write(tmp_path, export_text(CLASSIC, [(fields, [*lines, ("1.5", "X", "1", "X")])]))
    with pytest.raises(InputError, match=r"row 4, column 'Lineitem quantity'"):
        shopify.read(path, ImportOptions())
    path = write(tmp_path, export_text(CLASSIC, [(fields, [("-1", "X", "1", "X")])]))
    with pytest.raises(
        InputError, match=r"row 2, column 'Lineitem quantity': Lineitem quantity is negative"
    ):
        shopify.read(path, ImportOptions())


def test_unknown_financial_status(tmp_path: Path) -> None:
    fields, lines = ORDERS[0]
    path = write(
        tmp_path, export_text(CLASSIC, [({**fields, "Financial Status": "gratis"}, lines)])
    )
    with pytest.raises(InputError, match=r"column 'Financial Status': Unknown Financial Status"):
        shopify.read(path, ImportOptions())


def test_first_row_without_order_fields(tmp_path: Path) -> None:
    text = export_text(CLASSIC, ORDERS[:1])
    rows = text.splitlines()
    path = write(tmp_path, "\n".join([rows[0], rows[2], rows[1]]) + "\n")  # continuation first
    with pytest.raises(
        InputError, match=r"row 2, column 'Created at': Order '#1001' starts on a row"
    ):
        shopify.read(path, ImportOptions())


def test_two_orders_under_one_name(tmp_path: Path) -> None:
    fields, lines = ORDERS[0]
    other = {**ORDERS[4][0], "Name": fields["Name"]}
    path = write(tmp_path, export_text(CLASSIC, [(fields, lines), (other, ORDERS[4][1])]))
    with pytest.raises(
        InputError, match=r"row 4, column 'Created at': Order '#1001' has two different Created at"
    ) as info:
        shopify.read(path, ImportOptions())
    assert "two different orders share one Name" in str(info.value)
