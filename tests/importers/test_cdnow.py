"""The CDNOW importer: master and sample layouts, its rules and its error messages."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from regulars.errors import ImportFormatError, InputError
from regulars.importers import ImportOptions, SourcePeek, read_source
from regulars.importers import cdnow as fmt
from regulars.schema import TABLES
from regulars.workspace import Workspace, content_hash

MASTER = """\
 customer_id  date number_of_cds  dollar_value\r
 00001 19970101  1   11.77\r
 00002 19970112  1   12.00\r
 00002 19970112  5   77.00\r
 00003 19970102  2   20.76\r
 00003 19970330  3    0.00\r
\r
"""
SAMPLE = """\
 00004 0001 19970101  2   29.33
 00004 0001 19970118  2   29.73
 00018 0002 19970101  3   11.77
"""


def write(tmp_path: Path, text: str, name: str = "CDNOW.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="ascii", newline="")
    return path


def tables(path: Path, options: ImportOptions | None = None) -> dict[str, list[dict[str, Any]]]:
    with read_source(path, format="cdnow", options=options) as data:
        return {name: data.table(name).to_pylist() for name in TABLES}


def test_detects_both_layouts(tmp_path: Path) -> None:
    assert fmt.detect(SourcePeek.of(write(tmp_path, MASTER, "m.txt")))
    assert fmt.detect(SourcePeek.of(write(tmp_path, SAMPLE, "s.txt")))
    assert not fmt.detect(SourcePeek.of(write(tmp_path, "InvoiceNo,StockCode\n1,2\n", "c.csv")))


def test_master_records_become_orders(tmp_path: Path) -> None:
    got = tables(write(tmp_path, MASTER))
    orders = {r["order_id"]: r for r in got["orders"]}
    # two records of one customer on one day are numbered
    assert sorted(orders) == [
        "00001-19970101-1",
        "00002-19970112-1",
        "00002-19970112-2",
        "00003-19970102-1",
        "00003-19970330-1",
    ]
    second = orders["00002-19970112-2"]
    assert second["customer_id"] == "00002"  # leading zeros kept
    assert second["total"] == second["subtotal"] == Decimal("77.00")
    assert second["currency"] == "USD"
    assert second["status"] == "paid"
    assert second["ordered_at"].isoformat() == "1997-01-12T00:00:00+00:00"
    assert orders["00003-19970330-1"]["total"] == 0  # a zero-value record is kept
    [line] = [r for r in got["order_lines"] if r["order_id"] == "00002-19970112-2"]
    assert (line["product_id"], line["quantity"]) == ("CD", 1)
    assert line["unit_price"] == line["line_total"] == Decimal("77.00")
    assert [c["customer_id"] for c in got["customers"]] == ["00001", "00002", "00003"]
    assert [p["product_id"] for p in got["products"]] == ["CD"]


def test_master_summary_details(tmp_path: Path) -> None:
    with read_source(write(tmp_path, MASTER), format="cdnow") as data:
        summary = data.summary()
    assert summary.rows_read == 5
    assert summary.orders == summary.order_lines == 5
    assert summary.customers == 3
    assert summary.details == {
        "records": 5,
        "customer_ids": 3,
        "cds": 12,
        "zero_value_records": 1,
        "same_day_records": 1,
    }


def test_sample_uses_the_master_id(tmp_path: Path) -> None:
    got = tables(write(tmp_path, SAMPLE))
    assert [r["order_id"] for r in got["orders"]] == [
        "00004-19970101-1",
        "00004-19970118-1",
        "00018-19970101-1",
    ]
    assert {c["customer_id"] for c in got["customers"]} == {"00004", "00018"}


def test_dates_are_midnight_in_the_timezone(tmp_path: Path) -> None:
    got = tables(write(tmp_path, SAMPLE), ImportOptions(timezone="America/New_York"))
    assert got["orders"][0]["ordered_at"].isoformat() == "1997-01-01T05:00:00+00:00"


def test_gzipped_file_and_currency_option(tmp_path: Path) -> None:
    path = tmp_path / "CDNOW_sample.txt.gz"
    with gzip.open(path, "wt", encoding="ascii") as fh:
        fh.write(SAMPLE)
    got = tables(path, ImportOptions(currency="eur"))
    assert {r["currency"] for r in got["orders"]} == {"EUR"}


def test_import_writes_into_a_workspace(tmp_path: Path, workspace_path: Path) -> None:
    path = write(tmp_path, MASTER)
    ws = Workspace(workspace_path)
    with read_source(path, format="cdnow") as data:
        assert ws.write(data, content_hash=content_hash(path, fmt.FORMAT, ImportOptions())).written
    counts = ws.counts()
    assert (counts["orders"], counts["order_lines"], counts["customers"]) == (5, 5, 3)


# -- malformed files -----------------------------------------------------------------------
BAD_FILES = {
    "missing_column": (
        MASTER.replace(" 00002 19970112  1   12.00", " 00002 19970112  12.00"),
        InputError,
        r"This line has 3 fields; a record has 4",
        {"row": 3},
    ),
    "bad_number": (
        MASTER.replace("77.00", "$77.00"),
        InputError,
        r"dollar_value is not an amount",
        {"row": 4, "column": "dollar_value", "value": "$77.00"},
    ),
    "negative_value": (
        MASTER.replace("77.00", "-77.00"),
        InputError,
        r"dollar_value is not an amount >= 0",
        {"row": 4, "column": "dollar_value", "value": "-77.00"},
    ),
    "zero_cds": (
        SAMPLE.replace("19970118  2", "19970118  0"),
        InputError,
        r"number_of_cds is not a whole number of CDs, 1 or more",
        {"row": 2, "column": "number_of_cds", "value": "0"},
    ),
    "bad_date": (
        MASTER.replace("19970330", "19970230"),
        InputError,
        r"date is not a date written YYYYMMDD",
        {"row": 6, "column": "date", "value": "19970230"},
    ),
    "unknown_header": (
        "cust day cds value\n 00001 19970101  1   11.77\n",
        ImportFormatError,
        r"neither the CDNOW header nor a CDNOW record",
        {"row": 1},
    ),
    "empty_file": ("\n\n", ImportFormatError, r"The file has no records", {}),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_malformed_file_names_line_field_and_fix(tmp_path: Path, kind: str) -> None:
    text, error, message, where = BAD_FILES[kind]
    path = write(tmp_path, text)
    with pytest.raises(error, match=message) as info:
        read_source(path, format="cdnow")
    err = info.value
    assert err.file == str(path)
    for attr, value in where.items():
        assert getattr(err, attr) == value
    assert err.fix


# -- the real files ------------------------------------------------------------------------
def file_sum(path: Path, value_field: int) -> Decimal:
    """Sum the dollar values of a CDNOW file by hand."""
    lines = path.read_text().splitlines()
    rows = [line.split() for line in lines if line.strip() and not line.strip().startswith("c")]
    return sum((Decimal(r[value_field]) for r in rows), Decimal(0))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "customers", "records", "value_field", "dollars"),
    [
        ("CDNOW_master.txt", 23_570, 69_659, 3, "2500315.63"),
        ("CDNOW_sample.txt", 2_357, 6_919, 4, "244091.94"),
    ],
)
def test_real_files(
    shared_data: Path, name: str, customers: int, records: int, value_field: int, dollars: str
) -> None:
    path = shared_data / "cdnow" / name
    with read_source(path, format="cdnow") as data:
        total = data.con.execute(
            "SELECT sum(total), sum(line_total) FROM orders JOIN order_lines USING (order_id)"
        ).fetchall()[0]
        summary = data.summary()
    assert summary.customers == customers
    assert summary.orders == summary.order_lines == records
    assert summary.rows_read == records
    assert total[0] == total[1] == file_sum(path, value_field) == Decimal(dollars)


@pytest.mark.slow
def test_real_sample_is_a_subset_of_master_in_one_workspace(
    shared_data: Path, workspace_path: Path
) -> None:
    ws = Workspace(workspace_path)
    for name in ("CDNOW_master.txt", "CDNOW_sample.txt"):
        path = shared_data / "cdnow" / name
        with read_source(path, format="cdnow") as data:
            ws.write(data, content_hash=content_hash(path, fmt.FORMAT, ImportOptions()))
    counts = ws.counts()
    assert counts["orders"] == 69_659  # the sample's orders replace the same master orders
    assert counts["customers"] == 23_570
