"""The generic order-lines importer, its rules and its error messages."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from regulars import ImportOptions, InputError, read_source
from regulars.importers import detect_format
from regulars.schema import TABLES

GOOD = """order_id,customer_id,ordered_at,product_id,quantity,unit_price,category,name,status
A1,c1,2024-01-05 10:00,p1,2,3.50,coffee,Espresso,paid
A1,c1,2024-01-05 10:00,p2,1,10,tea,Green tea,paid
A2,,2024-01-06T10:00:00Z,p1,1,3.60,coffee,Espresso,completed
A3,c2,2024-02-01,p3,1,99.99,kitchen,Kettle,canceled
A4,c1,2024-03-01 09:30:00+02:00,p1,3,3.60,coffee,Espresso beans,
"""


def write(tmp_path: Path, text: str, name: str = "lines.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_canonical_column_names_import_without_flags(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert detect_format(path) == "generic"
    with read_source(path) as data:
        orders = {r["order_id"]: r for r in data.table("orders").to_pylist()}
        lines = data.table("order_lines").to_pylist()
        summary = data.summary()
    assert summary.rows_read == 5
    assert summary.orders == 4
    assert summary.order_lines == 5
    assert summary.customers == 2
    assert summary.guest_orders == 1
    assert summary.cancelled_orders == 1
    assert orders["A1"]["subtotal"] == Decimal("17.00")  # 2 x 3.50 + 10
    assert orders["A1"]["total"] == Decimal("17.00")
    assert orders["A2"]["customer_id"] is None
    assert orders["A2"]["status"] == "paid"  # "completed" reads as paid
    assert orders["A3"]["status"] == "cancelled"
    assert orders["A4"]["status"] == "paid"  # empty status defaults to paid
    assert orders["A1"]["currency"] == "USD"
    assert [r["line_no"] for r in lines if r["order_id"] == "A1"] == [1, 2]


def test_timestamps_are_utc_and_local_times_use_the_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with read_source(path, options=ImportOptions(timezone="Europe/Paris")) as data:
        orders = {r["order_id"]: r for r in data.table("orders").to_pylist()}
    assert data.table  # closed context still leaves the object
    assert orders["A1"]["ordered_at"].isoformat() == "2024-01-05T09:00:00+00:00"  # 10:00 Paris
    assert orders["A2"]["ordered_at"].isoformat() == "2024-01-06T10:00:00+00:00"  # Z kept
    assert orders["A4"]["ordered_at"].isoformat() == "2024-03-01T07:30:00+00:00"  # +02:00 kept


def test_products_take_their_latest_name_and_price(tmp_path: Path) -> None:
    with read_source(write(tmp_path, GOOD)) as data:
        products = {r["product_id"]: r for r in data.table("products").to_pylist()}
    assert products["p1"]["name"] == "Espresso beans"
    assert products["p1"]["price"] == Decimal("3.60")
    assert set(products) == {"p1", "p2", "p3"}


def test_other_column_names_import_with_map(tmp_path: Path) -> None:
    text = GOOD.replace("order_id,customer_id", "Order Number,Client").replace(
        "unit_price", "Price"
    )
    path = write(tmp_path, text)
    options = ImportOptions(
        column_map={"Order Number": "order_id", "Client": "customer_id", "Price": "unit_price"}
    )
    with read_source(path, format="generic", options=options) as data:
        assert data.summary().orders == 4


def test_gzipped_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    gz = tmp_path / "lines.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write(GOOD)
    with read_source(write(tmp_path, GOOD)) as data:
        expected = data.table("orders").sort_by("order_id")
    with read_source(gz, format="generic") as data:
        got_gz = data.table("orders").sort_by("order_id")
    table = pa.csv_read = None  # noqa: F841 - keep names local
    import pyarrow.csv as pacsv

    pq.write_table(pacsv.read_csv(tmp_path / "lines.csv"), tmp_path / "lines.parquet")
    with read_source(tmp_path / "lines.parquet") as data:
        got_pq = data.table("orders").sort_by("order_id")
    drop = ["source_name"]
    assert got_gz.drop(drop).equals(expected.drop(drop))
    assert got_pq.drop(drop).column("total").equals(expected.drop(drop).column("total"))
    assert got_pq.column("order_id").to_pylist() == expected.column("order_id").to_pylist()


def test_tables_have_the_canonical_schemas(tmp_path: Path) -> None:
    with read_source(write(tmp_path, GOOD)) as data:
        for name, spec in TABLES.items():
            assert data.table(name).schema.equals(spec.arrow_schema), name


def test_latin1_file_imports_with_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(GOOD.replace("Kettle", "Théière").encode("latin-1"))
    with read_source(path, options=ImportOptions(encoding="latin-1")) as data:
        names = set(data.table("products").column("name").to_pylist())
    assert "Théière" in names


# -- malformed files: one test per kind of error -------------------------------------------
BAD_FILES = {
    "missing_column": (
        GOOD.replace(",quantity,", ",qty,"),
        r"Required column quantity missing",
        {"row": 1, "column": "quantity"},
    ),
    "bad_date": (
        GOOD.replace("2024-02-01", "01/02/2024"),
        r"ordered_at is not a date",
        {"row": 5, "column": "ordered_at", "value": "01/02/2024"},
    ),
    "bad_number": (
        GOOD.replace("99.99", "$99.99"),
        r"unit_price is not a number",
        {"row": 5, "column": "unit_price"},
    ),
    "negative_quantity": (
        GOOD.replace(
            "A4,c1,2024-03-01 09:30:00+02:00,p1,3", "A4,c1,2024-03-01 09:30:00+02:00,p1,-3"
        ),
        r"quantity must be positive",
        {"row": 6, "column": "quantity", "value": "-3"},
    ),
    "conflicting_duplicate_order": (
        GOOD.replace("A1,c1,2024-01-05 10:00,p2", "A1,c9,2024-01-05 10:00,p2"),
        r"Order 'A1' appears with conflicting customer_id",
        {"row": 3, "column": "customer_id", "value": "c9"},
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_malformed_file_names_row_column_and_fix(tmp_path: Path, kind: str) -> None:
    text, message, where = BAD_FILES[kind]
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        read_source(path, format="generic")
    err = info.value
    assert err.file == str(path)
    for attr, value in where.items():
        assert getattr(err, attr) == value
    assert err.fix
    assert str(path) in str(err) and "How to fix" in str(err)


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(GOOD.replace("Kettle", "Théière").encode("latin-1"))
    with pytest.raises(InputError, match="not valid utf-8") as info:
        read_source(path, format="generic")
    assert info.value.row == 5
    assert "--encoding latin-1" in str(info.value)


def test_ragged_row_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "A9,c1,2024-01-05,p1,1\n")
    with pytest.raises(InputError, match="This row has 5 fields; the header has 9") as info:
        read_source(path, format="generic")
    assert info.value.row == 7


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No such file"):
        read_source(tmp_path / "nope.csv")


def test_unknown_layout_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="Could not tell which layout"):
        read_source(path)
