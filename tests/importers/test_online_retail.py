"""The UCI Online Retail importer: its rules on small files, and the real file against pandas."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from regulars.errors import InputError
from regulars.importers import ImportOptions, ImportSummary, SourcePeek, read_source
from regulars.importers import online_retail as fmt
from regulars.schema import TABLES
from regulars.workspace import Workspace, content_hash

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
# Row numbers (header = row 1) are given on the right; each row shows one rule.
ROWS = """\
536001,P1,MUG,6,2011-01-10 10:00,2.50,17850.0,United Kingdom
536001,P2,PLATE,2,2011-01-10 10:00,5.00,17850.0,United Kingdom
536001,POST,POSTAGE,1,2011-01-10 10:01,18.00,17850.0,United Kingdom
536002,P1,MUG,4,2011-07-01 09:00,2.50,17850,France
536002,M,Manual,1,2011-07-01 09:00,100.00,17850,France
536002,D,Discount,1,2011-07-01 09:00,1.50,17850,France
C536003,P1,MUG,-4,2011-07-02 12:00,2.50,17850,France
C536003,P2,PLATE,-1,2011-07-02 12:00,5.00,17850,France
C536003,POST,POSTAGE,-1,2011-07-02 12:00,18.00,17850,France
C536004,P9,LAMP,-1,2011-07-03 12:00,7.00,17850,France
536005,P3,VASE,1,2011-02-01 10:00,0,,United Kingdom
536005,P4,BOWL,2,2011-02-01 10:00,3.00,,United Kingdom
536005,P4,BOWL,2,2011-02-01 10:00,3.00,,United Kingdom
C536006,P4,BOWL,-2,2011-02-02 10:00,3.00,,United Kingdom
536007,P5,damaged,-3,2011-03-01 10:00,0,,United Kingdom
536007,gift_0001_10,Gift Voucher,1,2011-03-01 10:00,8.33,,United Kingdom
C536008,P6,JUG,-1,2011-03-02 10:00,4.00,12346,Iceland
536009,P6,JUG,1,2011-03-05 10:00,4.00,12346,Iceland
"""
GOOD = HEADER + ROWS


def write(tmp_path: Path, text: str, name: str = "retail.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Imported:
    orders: dict[str, dict[str, Any]]
    lines: list[dict[str, Any]]
    refunds: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any]]
    products: dict[str, dict[str, Any]]
    rejects: list[dict[str, Any]]
    summary: ImportSummary


def run(path: Path, options: ImportOptions | None = None) -> Imported:
    with read_source(path, format="online-retail", options=options) as data:

        def by(name: str, key: str) -> dict[str, dict[str, Any]]:
            return {r[key]: r for r in data.table(name).to_pylist()}

        return Imported(
            orders=by("orders", "order_id"),
            lines=data.table("order_lines").to_pylist(),
            refunds=by("refunds", "refund_id"),
            customers=by("customers", "customer_id"),
            products=by("products", "product_id"),
            rejects=data.rejects().to_pylist(),
            summary=data.summary(),
        )


@pytest.fixture()
def small(tmp_path: Path) -> Imported:
    return run(write(tmp_path, GOOD))


def test_detects_the_layout_by_its_header(tmp_path: Path) -> None:
    assert fmt.detect(SourcePeek.of(write(tmp_path, GOOD)))
    assert not fmt.detect(SourcePeek.of(write(tmp_path, "order_id,product_id\n1,2\n", "o.csv")))


def test_invoices_become_orders_and_guests_have_no_customer(small: Imported) -> None:
    assert sorted(small.orders) == ["536001", "536002", "536005", "536009"]
    assert small.summary.orders == 4
    assert small.summary.guest_orders == 1
    assert small.orders["536005"]["customer_id"] is None
    assert small.orders["536001"]["customer_id"] == "17850"  # "17850.0" read as 17850
    assert small.orders["536001"]["currency"] == "GBP"
    assert small.summary.rows_read == 18
    assert small.summary.details["invoices"] == 9
    assert small.summary.details["customer_ids"] == 2
    assert small.summary.details["invoices_without_order"] == 1  # 536007: every line rejected


def test_every_rejected_row_names_its_rule(small: Imported) -> None:
    by_row = {r["row"]: r["rule"] for r in small.rejects}
    assert by_row == {
        4: "non_product_line",  # POST on a sales invoice
        6: "non_product_line",  # M
        7: "non_product_line",  # D
        10: "non_product_line",  # POST credited on a cancellation
        12: "non_positive_price",
        15: "guest_cancellation",
        16: "negative_quantity",  # a stock adjustment ("damaged")
        17: "non_product_line",  # gift voucher
        18: "cancellation_without_order",  # 12346 bought only later
    }
    assert small.summary.skipped == {
        "cancellation_without_order": 1,
        "guest_cancellation": 1,
        "negative_quantity": 1,
        "non_positive_price": 1,
        "non_product_line": 5,
    }
    post = next(r for r in small.rejects if r["row"] == 4)
    assert "shipping_total" in post["detail"]
    assert '"StockCode":"POST"' in post["record"]


def test_postage_goes_to_shipping_and_discount_to_discount_total(small: Imported) -> None:
    first, second = small.orders["536001"], small.orders["536002"]
    assert first["subtotal"] == Decimal("25")  # 6 x 2.50 + 2 x 5.00
    assert first["shipping_total"] == Decimal("18")
    assert first["total"] == Decimal("43")
    assert second["subtotal"] == Decimal("10")  # the manual line (100.00) is left out
    assert second["discount_total"] == Decimal("1.50")
    assert second["shipping_total"] == 0
    assert second["total"] == Decimal("8.50")
    assert small.summary.details["shipping_lines"] == 1
    assert small.summary.details["discount_lines"] == 1


def test_duplicate_lines_are_kept(small: Imported) -> None:
    guest = [r for r in small.lines if r["order_id"] == "536005"]
    assert [(r["line_no"], r["product_id"], r["quantity"]) for r in guest] == [
        (1, "P4", 2),
        (2, "P4", 2),
    ]
    assert small.orders["536005"]["total"] == Decimal("12")
    assert small.summary.details["duplicate_lines"] == 1


def test_cancellation_lines_are_credited_to_the_orders_that_had_the_product(
    small: Imported,
) -> None:
    refunds = small.refunds
    assert sorted(refunds) == ["C536003-1", "C536003-2", "C536004"]
    plate, mug = refunds["C536003-1"], refunds["C536003-2"]
    assert plate["order_id"] == "536001"  # P2 is only in the first order
    assert plate["lines"] == [{"product_id": "P2", "quantity": 1, "amount": Decimal("5")}]
    assert mug["order_id"] == "536002"  # the latest order with P1
    assert mug["amount"] == Decimal("10")
    assert mug["refunded_at"].isoformat() == "2011-07-02T11:00:00+00:00"  # BST
    assert mug["currency"] == "GBP"
    lamp = refunds["C536004"]  # P9 was never bought: the latest order takes it
    assert lamp["order_id"] == "536002"
    assert "latest order" in lamp["reason"]
    assert small.orders["536001"]["status"] == "partially_refunded"
    assert small.orders["536002"]["status"] == "refunded"
    assert small.orders["536009"]["status"] == "paid"
    details = small.summary.details
    assert details["cancellation_invoices"] == 4
    assert details["cancellation_lines"] == 6
    assert details["cancellation_lines_refunded"] == 3
    assert details["cancellation_lines_refunded_by_fallback"] == 1


def test_uk_local_time_unless_another_timezone_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    default = run(path).orders["536002"]["ordered_at"]
    utc = run(path, ImportOptions(timezone="Etc/UTC")).orders["536002"]["ordered_at"]
    assert default.isoformat() == "2011-07-01T08:00:00+00:00"  # 09:00 BST
    assert utc.isoformat() == "2011-07-01T09:00:00+00:00"


def test_us_dates_of_the_original_file_are_read(tmp_path: Path) -> None:
    text = GOOD.replace("2011-07-01 09:00", "7/1/2011 9:00")
    assert run(write(tmp_path, text)).orders["536002"]["ordered_at"].hour == 8


def test_customers_and_products(small: Imported) -> None:
    assert small.customers["17850"]["country"] == "France"  # the latest line's country
    assert small.customers["12346"]["country"] == "Iceland"
    assert set(small.products) == {"P1", "P2", "P3", "P4", "P5", "P6", "P9"}
    assert small.products["P1"]["name"] == "MUG"
    assert small.products["P1"]["price"] == Decimal("2.50")
    assert small.products["P5"]["name"] == "damaged"  # its only description
    assert small.products["P5"]["price"] is None  # never sold
    assert "POST" not in small.products


def test_tables_have_the_canonical_schemas(tmp_path: Path) -> None:
    with read_source(write(tmp_path, GOOD), format="online-retail") as data:
        for name, spec in TABLES.items():
            assert data.table(name).schema.equals(spec.arrow_schema), name


def test_import_writes_into_a_workspace(tmp_path: Path, workspace_path: Path) -> None:
    path = write(tmp_path, GOOD)
    ws = Workspace(workspace_path)
    with read_source(path, format="online-retail") as data:
        result = ws.write(data, content_hash=content_hash(path, fmt.FORMAT, ImportOptions()))
    assert result.written
    counts = ws.counts()
    assert counts["orders"] == 4
    assert counts["order_lines"] == 6
    assert counts["refunds"] == 3
    assert counts["customers"] == 2


# -- malformed files -----------------------------------------------------------------------
BAD_FILES = {
    "missing_column": (
        GOOD.replace(",UnitPrice,", ",Price,"),
        r"Required column UnitPrice missing",
        {"row": 1, "column": "UnitPrice"},
    ),
    "bad_price": (
        GOOD.replace("PLATE,2,2011-01-10 10:00,5.00", "PLATE,2,2011-01-10 10:00,£5.00"),
        r"UnitPrice is not a number",
        {"row": 3, "column": "UnitPrice", "value": "£5.00"},
    ),
    "bad_quantity": (
        GOOD.replace("PLATE,2,", "PLATE,2.5,"),
        r"Quantity is not a whole number",
        {"row": 3, "column": "Quantity", "value": "2.5"},
    ),
    "bad_date": (
        GOOD.replace("2011-02-01 10:00,0,", "01.02.2011 10:00,0,"),
        r"InvoiceDate is not a date and time",
        {"row": 12, "column": "InvoiceDate", "value": "01.02.2011 10:00"},
    ),
    "empty_stock_code": (
        GOOD.replace("536009,P6,", "536009,,"),
        r"StockCode is empty",
        {"row": 19, "column": "StockCode"},
    ),
    "two_customers_on_one_invoice": (
        GOOD.replace("5.00,17850.0,United", "5.00,99999,United"),
        r"Invoice '536001' has lines of two customers",
        {"row": 3, "column": "CustomerID", "value": "99999"},
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_malformed_file_names_row_column_and_fix(tmp_path: Path, kind: str) -> None:
    text, message, where = BAD_FILES[kind]
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        read_source(path, format="online-retail")
    err = info.value
    assert err.file == str(path)
    for attr, value in where.items():
        assert getattr(err, attr) == value
    assert err.fix


# -- an independent computation of the rules, in pandas ------------------------------------
SHIPPING = {"POST", "DOT", "C2"}
NON_PRODUCT = SHIPPING | {"D", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "S", "PADS", "B"}


def reference(path: Path) -> dict[str, Any]:
    """Re-implement the documented rules plainly (amounts in 1/10,000 of a pound)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["row"] = range(2, len(df) + 2)
    df["q"] = df["Quantity"].astype(int)
    df["p"] = df["UnitPrice"].map(lambda s: int(Decimal(s).scaleb(4)))
    df["amount"] = df["q"] * df["p"]
    df["customer"] = df["CustomerID"].str.replace(r"\.0+$", "", regex=True)
    df["is_c"] = df["InvoiceNo"].str.startswith("C")
    code = df["StockCode"].str.upper()
    df["at"] = df.groupby("InvoiceNo")["InvoiceDate"].transform("min").map(pd.Timestamp)

    rule = pd.Series(None, index=df.index, dtype=object)
    checks = [
        ("non_product_line", code.isin(NON_PRODUCT) | code.str.startswith("GIFT_")),
        ("zero_quantity", df["q"] == 0),
        ("negative_quantity", ~df["is_c"] & (df["q"] < 0)),
        ("cancellation_positive_quantity", df["is_c"] & (df["q"] > 0)),
        ("non_positive_price", df["p"] <= 0),
        ("guest_cancellation", df["is_c"] & (df["customer"] == "")),
    ]
    for name, hit in checks:
        rule[rule.isna() & hit] = name
    df["rule"] = rule

    sold = df[~df["is_c"] & df["rule"].isna()]
    orders = sold.groupby("InvoiceNo").agg(
        customer=("customer", "first"), at=("at", "first"), subtotal=("amount", "sum")
    )
    extra = df[~df["is_c"] & df["InvoiceNo"].isin(orders.index)]
    shipping = extra[code[extra.index].isin(SHIPPING) & (extra["amount"] > 0)]
    discount = extra[code[extra.index] == "D"]

    cancels = df[df["is_c"] & df["rule"].isna()].sort_values("at")
    known = orders[orders["customer"] != ""].reset_index().rename(columns={"InvoiceNo": "order"})
    known = known.sort_values(["at", "order"])
    has_product = sold[["InvoiceNo", "StockCode"]].drop_duplicates()
    has_product = has_product.rename(columns={"InvoiceNo": "order"}).merge(known, on="order")
    has_product = has_product.sort_values(["at", "order"])
    left = cancels[["row", "InvoiceNo", "customer", "StockCode", "at", "q", "amount"]]
    by_product = pd.merge_asof(
        left, has_product[["at", "customer", "StockCode", "order"]],
        on="at", by=["customer", "StockCode"], direction="backward",
    )  # fmt: skip
    latest = pd.merge_asof(
        left, known[["at", "customer", "order"]], on="at", by="customer", direction="backward"
    )
    matched = by_product.set_index("row")["order"].fillna(latest.set_index("row")["order"])
    left = left.set_index("row").assign(order=matched)
    linked = left[left["order"].notna()]
    without = left[left["order"].isna()]

    refunded = -linked.groupby("order")["amount"].sum()
    fully = (refunded >= orders.loc[refunded.index, "subtotal"]).sum()
    skipped = df["rule"].value_counts().to_dict()
    skipped["cancellation_without_order"] = len(without)
    return {
        "orders": len(orders),
        "guest_orders": int((orders["customer"] == "").sum()),
        "order_lines": len(sold),
        "refunds": len(linked[["InvoiceNo", "order"]].drop_duplicates()),
        "refunded_orders": int(fully),
        "partially_refunded_orders": len(refunded) - int(fully),
        "cancellation_invoices": df.loc[df["is_c"], "InvoiceNo"].nunique(),
        "skipped": {k: int(v) for k, v in skipped.items() if v},
        "subtotal": Decimal(int(orders["subtotal"].sum())).scaleb(-4),
        "shipping": Decimal(int(shipping["amount"].sum())).scaleb(-4),
        "discount": Decimal(int(discount["amount"].abs().sum())).scaleb(-4),
        "refund_amount": Decimal(int(-linked["amount"].sum())).scaleb(-4),
    }


def totals(s: ImportSummary, sums: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "orders": s.orders,
        "guest_orders": s.guest_orders,
        "order_lines": s.order_lines,
        "refunds": s.refunds,
        "refunded_orders": s.details["refunded_orders"],
        "partially_refunded_orders": s.details["partially_refunded_orders"],
        "cancellation_invoices": s.details["cancellation_invoices"],
        "skipped": s.skipped,
        "subtotal": sums[0],
        "shipping": sums[1],
        "discount": sums[2],
        "refund_amount": sums[3],
    }


def import_totals(path: Path) -> dict[str, Any]:
    with read_source(path, format="online-retail") as data:
        sums = data.con.execute(
            "SELECT (SELECT sum(subtotal) FROM orders), (SELECT sum(shipping_total) FROM orders),"
            " (SELECT sum(discount_total) FROM orders), (SELECT sum(amount) FROM refunds),"
            " (SELECT sum(total) - sum(subtotal - discount_total + shipping_total) FROM orders),"
            " (SELECT sum(subtotal) FROM orders) - (SELECT sum(line_total) FROM order_lines)"
        ).fetchall()[0]
        assert sums[4] == 0 and sums[5] == 0  # total and subtotal add up
        return totals(data.summary(), tuple(Decimal(v or 0) for v in sums[:4]))


def test_small_file_agrees_with_the_pandas_reference(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert import_totals(path) == reference(path)


# -- the real file -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_file(shared_data: Path) -> Path:
    return shared_data / "online_retail" / "online_retail.csv.gz"


@pytest.mark.slow
def test_real_file_agrees_with_the_pandas_reference(real_file: Path) -> None:
    got = import_totals(real_file)
    expected = reference(real_file)
    assert got == expected
    assert got["orders"] == 19_773  # pinned: a change of rule shows here first
    assert got["refunds"] == 3_900


@pytest.mark.slow
def test_real_file_counts_and_workspace(real_file: Path, workspace_path: Path) -> None:
    ws = Workspace(workspace_path)
    with read_source(real_file, format="online-retail") as data:
        result = ws.write(data, content_hash=content_hash(real_file, fmt.FORMAT, ImportOptions()))
    summary = result.summary
    assert summary.rows_read == 541_909
    assert summary.details["invoices"] == 25_900
    assert summary.details["customer_ids"] == 4_372
    assert summary.customers == 4_372
    assert summary.details["cancellation_lines"] == 9_288
    counts = ws.counts()
    assert counts["orders"] == summary.orders
    assert counts["order_lines"] == summary.order_lines
    assert counts["refunds"] == summary.refunds
    assert counts["customers"] == 4_372
    assert counts["products"] == summary.products
