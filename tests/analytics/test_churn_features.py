"""Churn features: every column on a hand-made store, and consistency on a simulated one."""

from __future__ import annotations

import math
from datetime import date

import pytest
from handmade import store

from regulars import Workspace
from regulars.analytics.churn_features import (
    BASKET_COLUMNS,
    ENGAGEMENT_COLUMNS,
    churn_features,
)
from regulars.analytics.summary import customer_summary

AS_OF = date(2024, 6, 30)
ORDERS = [
    {"order_id": "a1", "customer_id": "a", "ordered_at": "2024-01-10", "total": 100,
     "discount_codes": ["X"], "status": "partially_refunded"},
    {"order_id": "a2", "customer_id": "a", "ordered_at": "2024-03-10 09:00", "total": 50},
    {"order_id": "a3", "customer_id": "a", "ordered_at": "2024-03-10 18:00", "total": 20},
    {"order_id": "a4", "customer_id": "a", "ordered_at": "2024-06-10", "total": 40,
     "discount_codes": ["Y"]},
    {"order_id": "a5", "customer_id": "a", "ordered_at": "2024-07-02", "total": 40},
    {"order_id": "b1", "customer_id": "b", "ordered_at": "2024-06-01", "total": 40},
    {"order_id": "b2", "customer_id": "b", "ordered_at": "2024-06-15", "total": 40,
     "status": "cancelled"},
    {"order_id": "d1", "customer_id": "d", "ordered_at": "2024-02-01", "total": 10},
    {"order_id": "d2", "customer_id": "d", "ordered_at": "2024-02-11", "total": 10},
    {"order_id": "c1", "customer_id": "c", "ordered_at": "2024-07-01", "total": 40},
    {"order_id": "g1", "customer_id": None, "ordered_at": "2024-06-01", "total": 40},
]  # fmt: skip
REFUNDS = [
    {"refund_id": "r1", "order_id": "a1", "refunded_at": "2024-02-01", "amount": 30},
    {"refund_id": "r2", "order_id": "a4", "refunded_at": "2024-07-03", "amount": 40},
]
EVENTS = [
    {"event_id": "e1", "type": "Email Opened", "customer_id": "a", "occurred_at": "2024-06-20"},
    {"event_id": "e2", "type": "Email Opened", "customer_id": "a", "occurred_at": "2024-06-25"},
    {"event_id": "e3", "type": "Product Viewed", "customer_id": "a", "occurred_at": "2024-05-01"},
    {"event_id": "e4", "type": "Email Opened", "customer_id": "a", "occurred_at": "2024-07-05"},
    {"event_id": "e5", "type": "Product Viewed", "customer_id": "d", "occurred_at": "2024-05-31"},
    {"event_id": "e6", "type": "Product Viewed", "customer_id": None, "occurred_at": "2024-06-29"},
]  # fmt: skip


def _rows(events: bool = True) -> dict[str, dict[str, object]]:
    t = store(ORDERS, refunds=REFUNDS, events=EVENTS)
    table = churn_features(t["orders"], t["refunds"], t["events"] if events else None, as_of=AS_OF)
    return {str(r["customer_id"]): r for r in table.to_pyarrow().to_pylist()}


def test_features_by_hand() -> None:
    rows = _rows()
    assert list(rows) == ["a", "b", "d"]  # c bought after as_of; the guest is nobody
    a, b, d = rows["a"], rows["b"], rows["d"]
    # a: purchase days 01-10, 03-10 (two orders), 06-10; gaps 60 and 92 days.
    assert (a["orders"], a["order_days"], a["frequency"]) == (4, 3, 2)
    assert (a["recency_days"], a["t_days"], a["days_since_last_order"]) == (152, 172, 20)
    assert (a["revenue"], a["aov"], a["monetary_value"]) == (180.0, 52.5, 55.0)
    assert a["mean_gap_days"] == 76.0
    assert a["std_gap_days"] == pytest.approx(math.sqrt(512))
    assert a["gap_cv"] == pytest.approx(math.sqrt(512) / 76)
    assert a["last_gap_days"] == 92.0
    assert a["overdue_ratio"] == pytest.approx(20 / 76)
    assert (a["orders_30d"], a["orders_90d"], a["orders_365d"]) == (1, 1, 4)
    assert a["refunds"] == 1  # r2 is after as_of
    assert a["refunded_share"] == pytest.approx(30 / 210)
    assert a["discounted_share"] == 0.5
    assert (a["events_30d"], a["days_since_last_event"], a["email_opens"]) == (2, 5, 2)
    # b: one sale (the cancelled order is not one): no gaps.
    assert (b["orders"], b["frequency"], b["days_since_last_order"]) == (1, 0, 29)
    for column in ("mean_gap_days", "std_gap_days", "gap_cv", "last_gap_days", "overdue_ratio"):
        assert b[column] is None, column
    assert b["monetary_value"] is None
    assert (b["orders_30d"], b["orders_90d"], b["orders_365d"]) == (1, 1, 1)
    assert (b["refunds"], b["refunded_share"], b["discounted_share"]) == (0, 0.0, 0.0)
    assert (b["events_30d"], b["days_since_last_event"], b["email_opens"]) == (0, None, 0)
    # d: one gap of 10 days: a mean and a last gap, but no spread.
    assert (d["mean_gap_days"], d["last_gap_days"]) == (10.0, 10.0)
    assert d["std_gap_days"] is None and d["gap_cv"] is None
    assert d["overdue_ratio"] == pytest.approx(140 / 10)
    assert (d["orders_30d"], d["orders_90d"], d["orders_365d"]) == (0, 0, 2)
    # 05-31 is as_of - 30: outside the window (as_of - 30, as_of].
    assert (d["events_30d"], d["days_since_last_event"]) == (0, 30)


def test_without_events_there_are_no_engagement_columns() -> None:
    rows = _rows(events=False)
    assert list(rows) == ["a", "b", "d"]
    assert not set(ENGAGEMENT_COLUMNS) & set(rows["a"])
    assert rows["a"]["mean_gap_days"] == 76.0


def _line(order: str, no: int, product: str, price: int, quantity: int = 1) -> dict[str, object]:
    return {"order_id": order, "line_no": no, "product_id": product, "quantity": quantity,
            "unit_price": price, "line_total": price * quantity}  # fmt: skip


LINES = [_line("a1", 1, "p1", 60), _line("a1", 2, "p2", 20, 2), _line("a2", 1, "p1", 50),
         _line("a5", 1, "p9", 40), _line("b2", 1, "p3", 40), _line("d1", 1, "p4", 10)]  # fmt: skip


def test_basket_features_by_hand() -> None:
    t = store(ORDERS, lines=LINES, refunds=REFUNDS)
    table = churn_features(t["orders"], t["refunds"], as_of=AS_OF, lines=t["order_lines"])
    rows = {str(r["customer_id"]): r for r in table.to_pyarrow().to_pylist()}
    # a: p1, p2 (a1) and p1 (a2); a5 is after as_of: 2 products, 3 lines on 2 sales.
    assert (rows["a"]["distinct_products"], rows["a"]["lines_per_order"]) == (2, 1.5)
    # b's only lined order is cancelled, not a sale: no basket known.
    assert (rows["b"]["distinct_products"], rows["b"]["lines_per_order"]) == (None, None)
    assert (rows["d"]["distinct_products"], rows["d"]["lines_per_order"]) == (1, 1.0)
    without = churn_features(t["orders"], t["refunds"], as_of=AS_OF).to_pyarrow()
    assert not set(BASKET_COLUMNS) & set(without.column_names)


def test_nothing_sold_yet_gives_no_rows() -> None:
    t = store(ORDERS, refunds=REFUNDS, events=EVENTS)
    table = churn_features(t["orders"], t["refunds"], t["events"], as_of=date(2023, 12, 31))
    assert table.count().execute() == 0


def test_features_agree_with_the_summary(sim_workspace: Workspace) -> None:
    con = sim_workspace.connect()
    orders, refunds = sim_workspace.table("orders", con), sim_workspace.table("refunds", con)
    as_of = date(2025, 6, 30)
    features = churn_features(orders, refunds, as_of=as_of).to_pandas()
    summary = customer_summary(orders, refunds, as_of=as_of).to_pandas()
    assert len(features) == len(summary) > 100
    merged = features.merge(summary, on="customer_id", suffixes=("", "_summary"))
    assert len(merged) == len(features)
    for column in ("orders", "frequency", "recency_days", "t_days"):
        assert (merged[column] == merged[f"{column}_summary"]).all(), column
    assert (features.days_since_last_order <= features.t_days).all()
    assert (features.days_since_last_order >= 0).all()
    assert (features.orders_30d <= features.orders_90d).all()
    assert (features.orders_90d <= features.orders_365d).all()
    assert (features.orders_365d <= features.orders).all()
    repeat = features.frequency > 0
    assert features.mean_gap_days.notna().eq(repeat).all()
    assert features.last_gap_days.notna().eq(repeat).all()
    assert features.std_gap_days.notna().eq(features.frequency > 1).all()
    # The mean gap is recency / frequency, and no gap is longer than the recency.
    gaps = features[repeat]
    assert (gaps.mean_gap_days * gaps.frequency).round(6).eq(gaps.recency_days).all()
    assert (gaps.last_gap_days <= gaps.recency_days).all()
    assert features.discounted_share.between(0, 1).all()
