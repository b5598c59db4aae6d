"""The customer table: every column on a hand-made store, and consistency on a simulated one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import ibis.expr.types as ir
import pyarrow.parquet as pq
import pytest
from handmade import store

from regulars import Workspace
from regulars.analytics.clv import historic_clv
from regulars.analytics.customers import customer_table
from regulars.analytics.rfm import rfm_scores, rfm_segment_summary
from regulars.analytics.summary import customer_summary

AS_OF = date(2024, 6, 30)
ORDERS = [
    {"order_id": "a1", "customer_id": "a", "ordered_at": "2024-01-10", "total": 100,
     "discount_codes": ["X"], "status": "partially_refunded"},
    {"order_id": "a2", "customer_id": "a", "ordered_at": "2024-05-01", "total": 50,
     "discount_codes": []},
    {"order_id": "b1", "customer_id": "b", "ordered_at": "2024-06-01", "total": 40},
    {"order_id": "c1", "customer_id": "c", "ordered_at": "2024-07-01", "total": 40},
]  # fmt: skip
LINES = [
    {"order_id": "a1", "line_no": 1, "product_id": "p1", "category": "Shoes", "quantity": 1,
     "unit_price": 60, "line_total": 60},
    {"order_id": "a1", "line_no": 2, "product_id": "p2", "category": "Bags", "quantity": 1,
     "unit_price": 40, "line_total": 40},
    {"order_id": "a2", "line_no": 1, "product_id": "p2", "category": "Bags", "quantity": 1,
     "unit_price": 20, "line_total": 20},
    {"order_id": "a2", "line_no": 2, "product_id": "p3", "category": "Hats", "quantity": 1,
     "unit_price": 30, "line_total": 30},
    {"order_id": "b1", "line_no": 1, "product_id": "p3", "category": "Hats", "quantity": 1,
     "unit_price": 40, "line_total": 40},
]  # fmt: skip
REFUNDS = [{"refund_id": "r1", "order_id": "a1", "refunded_at": "2024-02-01", "amount": 30}]
CUSTOMERS = [{"customer_id": "a", "country": "Spain", "city": "Madrid", "gender": "female",
              "birthday": "2000-06-30"}]  # fmt: skip
EVENTS = [
    {"event_id": "e1", "type": "Email Opened", "customer_id": "a", "occurred_at": "2024-06-20"},
    {"event_id": "e2", "type": "Email Opened", "customer_id": "a", "occurred_at": "2024-06-25"},
]

REQUIRED = [
    "customer_id", "orders", "revenue", "first_order_at", "last_order_at", "frequency",
    "recency_days", "t_days", "monetary_value", "r_score", "f_score", "m_score", "rfm_segment",
    "segments", "historic_clv", "top_category", "country", "discounted_orders", "refunds",
]  # fmt: skip


def test_customer_table_by_hand() -> None:
    t = store(ORDERS, LINES, REFUNDS, CUSTOMERS, EVENTS)
    table = customer_table(
        t["orders"], t["refunds"], t["order_lines"], t["customers"], t["events"], as_of=AS_OF
    )
    assert set(REQUIRED) <= set(table.columns)
    rows = {r["customer_id"]: r for r in table.to_pyarrow().to_pylist()}
    assert list(rows) == ["a", "b"]  # c bought after as_of
    a, b = rows["a"], rows["b"]
    assert (a["orders"], a["order_days"], a["frequency"]) == (2, 2, 1)
    assert (a["gross_revenue"], a["refunded"], a["revenue"]) == (150, 30, 120)
    assert a["aov"] == 60.0
    assert a["first_order_at"] == datetime(2024, 1, 10, tzinfo=UTC)
    assert (a["recency_days"], a["t_days"], a["days_since_last_order"]) == (112, 172, 60)
    assert (a["discounted_orders"], a["refunds"]) == (1, 1)
    assert a["top_category"] == "Bags"  # Bags 60 = Shoes 60: the first name
    assert b["top_category"] == "Hats"
    assert (a["country"], a["city"], a["gender"], a["age"]) == ("Spain", "Madrid", "female", 24)
    assert b["country"] is None and b["age"] is None
    assert (a["email_opens"], b["email_opens"]) == (2, 0)
    assert a["email_opens_tracked"] and b["email_opens_tracked"]
    assert (a["days_since_last_event"], b["days_since_last_event"]) == (5, None)
    assert (a["revenue_rank"], b["revenue_rank"]) == (1, 2)
    assert (a["revenue_rank_percent"], b["revenue_rank_percent"]) == (0.0, 50.0)
    assert a["segments"][:2] == ["Repeat customers", "VIP"]
    assert "Bought but never opened email" in b["segments"]
    # Nothing was sold in the year before the window: the lifespan, and so CLV, is unknown.
    assert a["historic_clv"] is None


def test_customer_table_without_optional_tables() -> None:
    t = store(ORDERS, refunds=REFUNDS)
    table = customer_table(t["orders"], t["refunds"], as_of=AS_OF)
    rows = table.to_pyarrow().to_pylist()
    assert [r["customer_id"] for r in rows] == ["a", "b"]
    for column in ("top_category", "country", "city", "gender", "age", "days_since_last_event"):
        assert {r[column] for r in rows} == {None}
    assert {r["email_opens_tracked"] for r in rows} == {False}


@pytest.fixture(scope="module")
def simulated(sim_workspace: Workspace) -> tuple[dict[str, ir.Table], date]:
    con = sim_workspace.connect()
    names = ("orders", "refunds", "order_lines", "customers", "events")
    tables = {name: sim_workspace.table(name, con) for name in names}
    as_of = tables["orders"].ordered_at.max().execute().date()
    return tables, as_of


def test_simulated_store_adds_up(
    simulated: tuple[dict[str, ir.Table], date], tmp_path: Path
) -> None:
    t, as_of = simulated
    table = customer_table(t["orders"], t["refunds"], t["order_lines"], t["customers"],
                           t["events"], as_of=as_of)  # fmt: skip
    got = table.to_pyarrow()
    summary = customer_summary(t["orders"], t["refunds"], as_of=as_of)
    assert got.num_rows == summary.count().execute() > 0
    assert got.column("customer_id").to_pylist() == sorted(got.column("customer_id").to_pylist())
    frame = got.to_pandas()
    # RFM segments agree with the segment summary.
    counts = rfm_segment_summary(rfm_scores(summary)).execute().set_index("segment").customers
    assert counts.sum() == len(frame)
    assert frame.rfm_segment.value_counts().to_dict() == counts[counts > 0].to_dict()
    # Everyone is either a first-time buyer or a repeat customer, never both.
    kinds = frame.segments.map(lambda s: ("First-time buyers" in s) + ("Repeat customers" in s))
    assert (kinds == 1).all()
    # The store's historic CLV is the mean of the customers' over the window's buyers.
    store_clv = historic_clv(t["orders"], t["refunds"], as_of=as_of).execute().clv.iloc[0]
    start = as_of - timedelta(days=365)
    in_window = frame[frame.last_order_at.dt.date > start]
    assert in_window.historic_clv.mean() == pytest.approx(store_clv, rel=1e-9)
    assert (frame[frame.last_order_at.dt.date <= start].historic_clv == 0).all()
    # The table writes as Parquet (the CLI's job) and reads back the same.
    pq.write_table(got, tmp_path / "customers.parquet")
    assert pq.read_table(tmp_path / "customers.parquet").equals(got)
