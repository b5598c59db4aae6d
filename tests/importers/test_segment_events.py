"""The Segment events importer: events, deduplication, orders, refunds, customers, errors."""

from __future__ import annotations

import gzip
import importlib.util
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from regulars.errors import InputError
from regulars.importers import FORMATS, ImportOptions, SourcePeek, read_source, segment_events
from regulars.workspace import Workspace, content_hash

# The spec's own Order Completed example (segment-docs, ecommerce v2): revenue is the sum of the
# products, subtotal is after the discount, total adds shipping and tax.
O1 = {
    "order_id": "O1", "affiliation": "Google Store", "total": 27.50, "subtotal": 22.50,
    "revenue": 25.00, "shipping": 3, "tax": 2, "discount": 2.5, "coupon": "hasbros",
    "currency": "USD",
    "products": [
        {"product_id": "p1", "sku": "SKU-1", "name": "Espresso", "category": "coffee",
         "price": 19, "quantity": 1},
        {"product_id": "p2", "name": "Cup", "price": 3, "quantity": 2},
    ],
}  # fmt: skip
O2 = {
    "order_id": "O2",
    "total": 10,
    "currency": "EUR",
    "products": [{"product_id": "p3", "price": 10}],
}
O3 = {"order_id": "O3", "products": [{"sku": "SKU-9", "price": "5.10", "quantity": 3}]}


def msg(mid: str, ts: str, kind: str = "track", **fields: Any) -> dict[str, Any]:
    return {"messageId": mid, "type": kind, "timestamp": ts, **fields}


MESSAGES: list[dict[str, Any]] = [
    msg("m1", "2024-01-01T09:00:00Z", "identify", userId="u1", traits={
        "email": "Ann@Example.com", "firstName": "Ann", "birthday": "1990-05-17",
        "gender": "female", "address": {"city": "Lyon", "country": "FR"},
        "acceptsMarketing": True, "createdAt": "2023-12-01T00:00:00Z"}),
    msg("m2", "2024-01-02T10:00:00Z", event="Product Viewed", userId="u1", properties={
        "product_id": "p1", "sku": "SKU-1", "name": "Espresso", "price": 3.5, "currency": "EUR"}),
    msg("m3", "2024-01-02T10:05:00Z", event="Product Added", anonymousId="a1",
        properties={"cart_id": "c1", "product_id": "p2", "name": "Cup", "price": 12}),
    msg("m4", "2024-01-03T11:00:00.000Z", event="Order Completed", userId="u1", properties=O1),
    msg("m5", "2024-01-04T12:00:00+01:00", event="Order Completed", anonymousId="a1",
        properties=O2),
    msg("m6", "2024-01-05T08:00:00Z", event="Order Refunded", userId="u1",
        properties={"order_id": "O1", "total": 5, "currency": "USD"}),
    msg("m7", "2024-01-06T08:00:00Z", event="Order Refunded", properties={"order_id": "O2"}),
    msg("m8", "2024-01-06T09:00:00Z", event="Order Refunded", properties={"order_id": "O404"}),
    msg("m9", "2024-01-07T10:00:00Z", event="Cart Viewed", anonymousId="a2",
        properties={"cart_id": "c2", "products": [{"product_id": "p4", "name": "Filter"}]}),
    msg("m10", "2024-01-07T10:01:00Z", "page", anonymousId="a2", properties={"path": "/"}),
    msg("m11", "2024-01-08T10:00:00Z", "identify", anonymousId="a3",
        traits={"email": "anon@example.com"}),
    msg("m12", "2024-01-09T10:00:00Z", "identify", userId="u1",
        traits={"address": {"city": "Paris"}}),
    msg("m13", "2024-01-10T15:30:00Z", event="Order Completed", userId="u2", properties=O3),
]  # fmt: skip

EXACT_REPEAT = MESSAGES[3]  # Order Completed O1 sent twice (a retry)
CONFLICTING_REPEAT = {**MESSAGES[1], "properties": {"product_id": "p1", "price": 4}}


def lines(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def write(tmp_path: Path, text: str, name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fixture(tmp_path: Path) -> Path:
    messages = [*MESSAGES[:5], EXACT_REPEAT, *MESSAGES[5:], CONFLICTING_REPEAT]
    return write(tmp_path, lines(messages[:6]) + "\n" + lines(messages[6:]))  # a blank line too


def all_formats_present() -> bool:
    return all(importlib.util.find_spec(module) is not None for module in FORMATS.values())


def total(order: dict[str, Any]) -> Decimal:
    return sum(
        (Decimal(str(p["price"])) * p.get("quantity", 1) for p in order["products"]), Decimal(0)
    )


# -- events and deduplication ------------------------------------------------------------


@pytest.mark.parametrize("batch", [2, 20_000])
def test_repeated_message_ids_import_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(segment_events, "BATCH_LINES", batch)
    path = fixture(tmp_path)
    with segment_events.read(path, ImportOptions()) as data:
        data.check()
        events = data.table("events").to_pylist()
        rejects = data.rejects().to_pylist()
        summary = data.summary()
    assert summary.rows_read == len(MESSAGES) + 2
    assert [e["event_id"] for e in events] == [m["messageId"] for m in MESSAGES]
    assert summary.details["duplicate_events"] == 2
    conflict = [r for r in rejects if r["rule"] == "conflicting_duplicate_message"]
    assert [r["row"] for r in conflict] == [len(MESSAGES) + 3]  # the last line, after a blank
    p1_viewed = next(e for e in events if e["event_id"] == "m2")
    assert json.loads(p1_viewed["properties"])["price"] == 3.5  # the first occurrence is kept
    assert p1_viewed["type"] == "Product Viewed"
    assert p1_viewed["occurred_at"] == datetime(2024, 1, 2, 10, 0, tzinfo=UTC)
    types = {e["event_id"]: e["type"] for e in events}
    assert (types["m1"], types["m10"]) == ("identify", "page")
    identify = next(e for e in events if e["event_id"] == "m1")
    assert json.loads(identify["properties"])["firstName"] == "Ann"  # traits as properties
    assert identify["customer_id"] == "u1"
    assert next(e for e in events if e["event_id"] == "m3")["anonymous_id"] == "a1"


# -- orders, lines and refunds -----------------------------------------------------------


def test_order_completed_makes_orders_with_the_right_totals(tmp_path: Path) -> None:
    with segment_events.read(fixture(tmp_path), ImportOptions()) as data:
        orders = {r["order_id"]: r for r in data.table("orders").to_pylist()}
        order_lines = data.table("order_lines").to_pylist()
        summary = data.summary()
    assert set(orders) == {"O1", "O2", "O3"}
    o1 = orders["O1"]
    assert o1["subtotal"] == total(O1) == Decimal(str(O1["revenue"]))  # before the discount
    assert o1["discount_total"] == Decimal(str(O1["discount"]))
    assert o1["shipping_total"] == Decimal(str(O1["shipping"]))
    assert o1["tax_total"] == Decimal(str(O1["tax"]))
    assert o1["total"] == Decimal(str(O1["total"]))
    assert (
        o1["total"]
        == o1["subtotal"] - o1["discount_total"] + o1["shipping_total"] + o1["tax_total"]
    )
    assert o1["discount_codes"] == ["hasbros"]
    assert (o1["currency"], o1["channel"], o1["customer_id"]) == ("USD", "Google Store", "u1")
    assert o1["source_name"] == "segment:events.jsonl"
    assert o1["ordered_at"] == datetime(2024, 1, 3, 11, 0, tzinfo=UTC)
    assert orders["O2"]["customer_id"] is None  # anonymous: a guest order
    assert orders["O2"]["ordered_at"] == datetime(2024, 1, 4, 11, 0, tzinfo=UTC)
    assert orders["O2"]["currency"] == "EUR"
    assert orders["O3"]["currency"] == "USD"  # the default
    assert orders["O3"]["subtotal"] == orders["O3"]["total"] == total(O3)
    assert summary.guest_orders == 1
    assert len(order_lines) == len(O1["products"]) + len(O2["products"]) + len(O3["products"])
    first = order_lines[0]
    assert (first["order_id"], first["line_no"], first["product_id"], first["sku"]) == (
        "O1", 1, "p1", "SKU-1",
    )  # fmt: skip
    o3_line = next(r for r in order_lines if r["order_id"] == "O3")
    assert (o3_line["product_id"], o3_line["quantity"]) == ("SKU-9", 3)
    assert o3_line["line_total"] == 3 * Decimal("5.10")
    assert next(r for r in order_lines if r["order_id"] == "O2")["quantity"] == 1


def test_order_refunded_makes_refunds_and_sets_the_status(tmp_path: Path) -> None:
    with segment_events.read(fixture(tmp_path), ImportOptions()) as data:
        refunds = {r["refund_id"]: r for r in data.table("refunds").to_pylist()}
        orders = {r["order_id"]: r for r in data.table("orders").to_pylist()}
        rejects = data.rejects().to_pylist()
    assert set(refunds) == {"m6", "m7"}
    assert refunds["m6"]["amount"] == Decimal("5")
    assert refunds["m6"]["refunded_at"] == datetime(2024, 1, 5, 8, 0, tzinfo=UTC)
    assert refunds["m7"]["amount"] == Decimal(str(O2["total"]))  # no amount: the whole order
    assert refunds["m7"]["currency"] == "EUR"
    assert orders["O1"]["status"] == "partially_refunded"
    assert orders["O2"]["status"] == "refunded"
    assert orders["O3"]["status"] == "paid"
    unknown = [r for r in rejects if r["rule"] == "refund_for_unknown_order"]
    assert len(unknown) == 1 and "O404" in unknown[0]["detail"]


def test_refund_amount_from_products_and_duplicate_order(tmp_path: Path) -> None:
    refund = {"order_id": "O1", "products": [{"product_id": "p2", "price": 3, "quantity": 2}]}
    messages = [
        MESSAGES[3],
        msg("r1", "2024-02-01T00:00:00Z", event="Order Refunded", properties=refund),
        msg("again", "2024-02-02T00:00:00Z", event="Order Completed", properties=O1),
    ]
    with segment_events.read(write(tmp_path, lines(messages)), ImportOptions()) as data:
        (row,) = data.table("refunds").to_pylist()
        summary = data.summary()
    assert row["amount"] == 2 * Decimal(3)
    assert row["lines"] == [{"product_id": "p2", "quantity": 2, "amount": Decimal(6)}]
    assert row["currency"] == "USD"  # the order's
    assert summary.orders == 1
    assert summary.skipped == {"duplicate_order_completed": 1}


# -- customers and products --------------------------------------------------------------


def test_identify_creates_customers(tmp_path: Path) -> None:
    with segment_events.read(fixture(tmp_path), ImportOptions()) as data:
        customers = {r["customer_id"]: r for r in data.table("customers").to_pylist()}
        summary = data.summary()
    assert set(customers) == {"u1", "u2"}  # the anonymous identify makes no customer
    ann = customers["u1"]
    assert ann["email"] == "ann@example.com"
    assert ann["first_name"] == "Ann"
    assert ann["birthday"] == date(1990, 5, 17)
    assert ann["gender"] == "female"
    assert (ann["city"], ann["country"]) == ("Paris", "FR")  # the latest city, the only country
    assert ann["accepts_email_marketing"] is True
    assert ann["created_at"] == datetime(2023, 12, 1, tzinfo=UTC)
    buyer = customers["u2"]  # no identify: known from the order alone
    assert buyer["email"] is None
    assert buyer["created_at"] == datetime(2024, 1, 10, 15, 30, tzinfo=UTC)
    assert summary.details["identifies"] == 3


def test_products_seen_anywhere(tmp_path: Path) -> None:
    with segment_events.read(fixture(tmp_path), ImportOptions()) as data:
        products = {r["product_id"]: r for r in data.table("products").to_pylist()}
    assert set(products) == {"p1", "p2", "p3", "p4", "SKU-9"}
    assert products["p1"]["price"] == Decimal(19)  # the latest sighting: the order
    assert products["p1"]["category"] == "coffee"
    assert products["p4"]["name"] == "Filter"
    assert products["p4"]["price"] is None


def test_times_fall_back_and_use_the_timezone(tmp_path: Path) -> None:
    messages = [
        {"messageId": "x1", "type": "track", "event": "Signed Up",
         "originalTimestamp": "2024-03-01T10:00:00", "receivedAt": "2024-03-02T00:00:00Z"},
        {"messageId": "x2", "type": "track", "event": "Signed Up",
         "receivedAt": "2024-03-02T00:00:00Z"},
    ]  # fmt: skip
    path = write(tmp_path, lines(messages))
    with segment_events.read(path, ImportOptions(timezone="Europe/Paris")) as data:
        times = [e["occurred_at"] for e in data.table("events").to_pylist()]
    assert times == [datetime(2024, 3, 1, 9, 0, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)]


# -- detection, gzip, workspace ----------------------------------------------------------


def test_detect_gzip_and_workspace_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(fixture(tmp_path).read_bytes()))
    assert segment_events.detect(SourcePeek.of(path))
    ws = Workspace(tmp_path / "ws.duckdb")
    options = ImportOptions()
    with segment_events.read(path, options) as data:
        data.check()
        ws.write(data, content_hash=content_hash(path, segment_events.FORMAT, options))
    counts = ws.counts()
    assert counts["events"] == len(MESSAGES)
    assert counts["orders"] == 3
    assert counts["order_lines"] == 4
    assert counts["refunds"] == 2
    assert counts["customers"] == 2
    assert counts["products"] == 5


def test_detect_refuses_csv_and_other_json(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "Name,Lineitem quantity\n#1,1\n", "orders.csv")
    assert not segment_events.detect(SourcePeek.of(csv_path))
    other = write(tmp_path, '{"hello": "world"}\n', "other.jsonl")
    assert not segment_events.detect(SourcePeek.of(other))


@pytest.mark.skipif(not all_formats_present(), reason="not every format module exists yet")
def test_read_source_auto_detects_segment(tmp_path: Path) -> None:
    with read_source(fixture(tmp_path), format="auto") as data:
        assert data.format == "segment"
        assert data.summary().events == len(MESSAGES)


# -- malformed input ---------------------------------------------------------------------


def test_malformed_json_line_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, lines(MESSAGES[:2]) + '{"messageId": "m3", "type": "track",\n')
    with pytest.raises(InputError, match=r"events\.jsonl, row 3: The line is not valid JSON"):
        segment_events.read(path, ImportOptions())


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"messageId": None}, r"row 2, column 'messageId': The message has no messageId"),
        ({"type": "hover"}, r"row 2, column 'type': The message has no known type"),
        ({"event": ""}, r"row 2, column 'event': The track call has no event name"),
        ({"timestamp": "yesterday"}, r"row 2, column 'timestamp': timestamp is not an ISO 8601"),
        ({"timestamp": None}, r"row 2, column 'timestamp': The message has no time"),
    ],
)
def test_bad_messages_name_line_and_field(
    tmp_path: Path, change: dict[str, Any], where: str
) -> None:
    path = write(tmp_path, lines([MESSAGES[0], {**MESSAGES[1], **change}]))
    with pytest.raises(InputError, match=where):
        segment_events.read(path, ImportOptions())


def test_order_completed_without_order_id(tmp_path: Path) -> None:
    bad = msg("o", "2024-01-01T00:00:00Z", event="Order Completed", properties={"total": 5})
    path = write(tmp_path, lines([bad]))
    with pytest.raises(InputError, match=r"row 1, column 'properties.order_id': The Order Comp"):
        segment_events.read(path, ImportOptions())


def test_ordered_product_without_price_or_bad_quantity(tmp_path: Path) -> None:
    props = {"order_id": "O9", "products": [{"product_id": "p1", "price": 2}, {"product_id": "p2"}]}
    bad = msg("o", "2024-01-01T00:00:00Z", event="Order Completed", properties=props)
    with pytest.raises(InputError, match=r"column 'properties.products\[1\]'"):
        segment_events.read(write(tmp_path, lines([bad])), ImportOptions())
    props["products"] = [{"product_id": "p1", "price": "2,50"}]
    with pytest.raises(InputError, match=r"column 'properties.products\[0\].price'"):
        segment_events.read(write(tmp_path, lines([bad])), ImportOptions())
    props["products"] = [{"product_id": "p1", "price": 2, "quantity": -1}]
    with pytest.raises(InputError, match=r"'properties.products\[0\].quantity'.*whole number > 0"):
        segment_events.read(write(tmp_path, lines([bad])), ImportOptions())
