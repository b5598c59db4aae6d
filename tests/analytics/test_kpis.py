"""KPIs: hand-made numbers, consistency with the summary, and real data against pandas."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from regulars import Workspace
from regulars.analytics.distributions import (
    DAY_BUCKETS,
    days_between_orders,
    orders_per_customer,
)
from regulars.analytics.kpis import KPI_COLUMNS, kpis_by_period, overall_kpis
from regulars.analytics.summary import customer_summary

AS_OF = date(2024, 4, 30)

ORDERS = [
    {"order_id": "a1", "customer_id": "a", "ordered_at": "2024-01-05 09:00", "total": "100"},
    {"order_id": "a2", "customer_id": "a", "ordered_at": "2024-01-05 18:00", "total": "50"},
    {"order_id": "a3", "customer_id": "a", "ordered_at": "2024-03-10 12:00", "total": "30"},
    {"order_id": "ax", "customer_id": "a", "ordered_at": "2024-02-02", "total": "500",
     "status": "cancelled"},
    {"order_id": "b1", "customer_id": "b", "ordered_at": "2024-02-01", "total": "40"},
    {"order_id": "b2", "customer_id": "b", "ordered_at": "2024-02-21", "total": "60"},
    {"order_id": "b3", "customer_id": "b", "ordered_at": "2024-04-01", "total": "20",
     "status": "partially_refunded"},
    {"order_id": "c1", "customer_id": "c", "ordered_at": "2024-03-15", "total": "80"},
    {"order_id": "c2", "customer_id": "c", "ordered_at": "2024-05-01", "total": "70"},
    {"order_id": "g1", "customer_id": None, "ordered_at": "2024-01-10", "total": "999"},
]  # fmt: skip
REFUNDS = [
    {"refund_id": "r1", "order_id": "b1", "refunded_at": "2024-02-05", "amount": "10"},
    {"refund_id": "r2", "order_id": "b3", "refunded_at": "2024-05-02", "amount": "5"},
]


def one_row(expr: Any) -> dict[str, Any]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    assert len(rows) == 1
    return rows[0]


@pytest.fixture(scope="module")
def hand_made(
    canonical_workspace: Callable[..., Workspace], tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    path = tmp_path_factory.mktemp("kpis") / "hand.duckdb"
    return canonical_workspace(ORDERS, REFUNDS, path=path)


def test_overall_kpis_by_hand(hand_made: Workspace) -> None:
    con = hand_made.connect()
    k = one_row(overall_kpis(hand_made.table("orders", con), hand_made.table("refunds", con),
                             as_of=AS_OF))  # fmt: skip
    assert list(k) == list(KPI_COLUMNS)
    assert k["customers"] == 3
    assert k["new_customers"] == 1  # c: one purchase day
    assert k["returning_customers"] == 2
    assert k["orders"] == 7  # guest, cancelled and after-as_of orders left out
    assert k["revenue"] == Decimal("370")  # r1 subtracted, r2 is after as_of
    assert k["aov"] == pytest.approx(370 / 7)
    assert k["aov_first"] == pytest.approx(260 / 4)  # a1, a2, b1 (net 30), c1
    assert k["aov_repeat"] == pytest.approx(110 / 3)
    assert k["purchase_frequency"] == pytest.approx(7 / 3)
    assert k["repeat_purchase_rate"] == pytest.approx(2 / 3)
    assert k["returning_revenue_share"] == pytest.approx(290 / 370)
    assert k["median_days_to_second_order"] == 42.5  # a: 65, b: 20
    assert k["median_days_between_orders"] == 40.0  # 65, 20, 40


def test_kpis_by_month_by_hand(hand_made: Workspace) -> None:
    con = hand_made.connect()
    got = kpis_by_period(hand_made.table("orders", con), hand_made.table("refunds", con),
                         as_of=AS_OF).to_pyarrow().to_pylist()  # fmt: skip
    assert [r["period_start"] for r in got] == [date(2024, m, 1) for m in (1, 2, 3, 4)]
    jan, feb, mar, apr = got
    assert (jan["customers"], jan["new_customers"], jan["orders"]) == (1, 1, 2)
    assert jan["revenue"] == Decimal(150)
    assert jan["aov_first"] == 75.0
    assert jan["aov_repeat"] is None
    assert jan["repeat_purchase_rate"] == 0.0
    assert jan["median_days_to_second_order"] is None
    assert jan["median_days_between_orders"] is None
    assert (feb["customers"], feb["new_customers"], feb["orders"]) == (1, 1, 2)
    assert feb["revenue"] == Decimal(90)
    assert feb["median_days_to_second_order"] == 20.0
    assert feb["median_days_between_orders"] == 20.0
    assert (mar["customers"], mar["new_customers"], mar["returning_customers"]) == (2, 1, 1)
    assert mar["revenue"] == Decimal(110)
    assert mar["returning_revenue_share"] == pytest.approx(30 / 110)
    assert mar["repeat_purchase_rate"] == 0.5
    assert mar["median_days_to_second_order"] == 65.0
    assert (apr["customers"], apr["returning_customers"], apr["orders"]) == (1, 1, 1)
    assert apr["returning_revenue_share"] == 1.0
    assert apr["median_days_between_orders"] == 40.0


def test_kpis_by_quarter(hand_made: Workspace) -> None:
    con = hand_made.connect()
    got = kpis_by_period(hand_made.table("orders", con), hand_made.table("refunds", con),
                         as_of=AS_OF, period="quarter").to_pyarrow().to_pylist()  # fmt: skip
    assert [r["period_start"] for r in got] == [date(2024, 1, 1), date(2024, 4, 1)]
    assert (got[0]["customers"], got[0]["new_customers"], got[0]["orders"]) == (3, 3, 6)
    assert got[0]["revenue"] == Decimal(350)
    assert (got[1]["customers"], got[1]["returning_customers"]) == (1, 1)


def test_months_without_sales_are_rows(
    canonical_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = canonical_workspace(
        [
            {"order_id": "1", "customer_id": "a", "ordered_at": "2024-01-03", "total": "5"},
            {"order_id": "2", "customer_id": "a", "ordered_at": "2024-04-03", "total": "7"},
        ],
        path=tmp_path / "gaps.duckdb",
    )
    got = kpis_by_period(ws.table("orders"), ws.table("refunds"), as_of=date(2024, 6, 15))
    rows = got.to_pyarrow().to_pylist()
    assert [r["period_start"].month for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["orders"] for r in rows] == [1, 0, 0, 1, 0, 0]
    assert rows[1]["aov"] is None and rows[1]["revenue"] == 0


def test_periods_add_up_to_the_summary(sim_workspace: Workspace) -> None:
    con = sim_workspace.connect()
    orders, refunds = sim_workspace.table("orders", con), sim_workspace.table("refunds", con)
    as_of = date(2025, 12, 31)
    overall = one_row(overall_kpis(orders, refunds, as_of=as_of))
    months = kpis_by_period(orders, refunds, as_of=as_of).to_pyarrow().to_pylist()
    summary = customer_summary(orders, refunds, as_of=as_of)
    totals = one_row(
        summary.aggregate(
            customers=summary.count(),
            orders=summary.orders.sum(),
            revenue=summary.revenue.sum(),
            repeaters=(summary.frequency > 0).ifelse(1, 0).sum(),
        )
    )
    assert overall["customers"] == totals["customers"]
    assert overall["orders"] == totals["orders"] == sum(m["orders"] for m in months)
    assert overall["revenue"] == totals["revenue"] == sum(m["revenue"] for m in months)
    assert overall["returning_customers"] == totals["repeaters"]
    assert overall["customers"] == sum(m["new_customers"] for m in months)


# -- real data against independent pandas computations ------------------------------------------
def pandas_kpis(frame: pd.DataFrame) -> dict[str, float]:
    """KPIs from one row per sale: customer_id, day (datetime64 day), net (float)."""
    days = frame[["customer_id", "day"]].drop_duplicates().sort_values(["customer_id", "day"])
    first = days.groupby("customer_id")["day"].min().rename("first")
    n_days = days.groupby("customer_id").size()
    returning = n_days[n_days >= 2].index
    is_first = frame["day"].to_numpy() == frame["customer_id"].map(first).to_numpy()
    gaps = days.groupby("customer_id")["day"].diff().dt.days.dropna()
    second = days.groupby("customer_id")["day"].nth(1)
    second = second.groupby(days.loc[second.index, "customer_id"]).first()
    to_second = (second - first.loc[second.index]).dt.days
    return {
        "customers": frame["customer_id"].nunique(),
        "returning_customers": len(returning),
        "orders": len(frame),
        "revenue": frame["net"].sum(),
        "aov": frame["net"].mean(),
        "aov_first": frame.loc[is_first, "net"].mean(),
        "aov_repeat": frame.loc[~is_first, "net"].mean(),
        "repeat_purchase_rate": len(returning) / frame["customer_id"].nunique(),
        "returning_revenue_share": frame.loc[frame["customer_id"].isin(returning), "net"].sum()
        / frame["net"].sum(),
        "median_days_to_second_order": float(to_second.median()),
        "median_days_between_orders": float(gaps.median()),
    }


def assert_kpis_match(got: dict[str, Any], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert not (isinstance(got[name], float) and math.isnan(got[name])), name
        assert float(got[name]) == pytest.approx(value, rel=1e-9), name


@pytest.mark.slow
def test_cdnow_kpis_equal_pandas(cdnow_workspace: Workspace, shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={0: str})
    raw.columns = ["customer_id", "date", "cds", "dollars"]
    frame = pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "day": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
            "net": raw["dollars"].astype(float),
        }
    )
    as_of = frame["day"].max().date()
    con = cdnow_workspace.connect()
    orders, refunds = cdnow_workspace.table("orders", con), cdnow_workspace.table("refunds", con)
    got = one_row(overall_kpis(orders, refunds, as_of=as_of))
    expected = pandas_kpis(frame)
    assert got["customers"] == expected["customers"] == 23_570
    assert round(got["repeat_purchase_rate"], 3) == 0.489
    assert_kpis_match(got, expected)
    assert got["purchase_frequency"] == pytest.approx(69_659 / 23_570)

    months = pd.DataFrame(kpis_by_period(orders, refunds, as_of=as_of).to_pyarrow().to_pylist())
    frame["month"] = frame["day"].dt.to_period("M").dt.start_time.dt.date
    first_month = frame.groupby("customer_id")["month"].transform("min")
    by_month = frame.assign(new=frame["month"] == first_month).groupby("month")
    assert list(months["period_start"]) == sorted(frame["month"].unique())
    assert list(months["orders"]) == list(by_month.size())
    assert list(months["customers"]) == list(by_month["customer_id"].nunique())
    new = frame[frame["month"] == first_month].groupby("month")["customer_id"].nunique()
    assert list(months["new_customers"]) == list(new.reindex(months["period_start"], fill_value=0))
    assert months["revenue"].astype(float).to_numpy() == pytest.approx(by_month["net"].sum())


@pytest.mark.slow
def test_online_retail_kpis_equal_pandas(online_retail_workspace: Workspace) -> None:
    con = online_retail_workspace.connect()
    orders = online_retail_workspace.table("orders", con)
    refunds = online_retail_workspace.table("refunds", con)
    o = orders.to_pandas()
    r = refunds.to_pandas()
    as_of = o["ordered_at"].max().date()
    sold = o[(o["status"] != "cancelled") & o["customer_id"].notna()].copy()
    r = r[r["refunded_at"].dt.tz_convert("UTC").dt.date <= as_of]
    refunded = r.groupby("order_id")["amount"].apply(lambda s: sum(s, Decimal(0)))
    sold["net"] = [
        float(t - refunded.get(i, Decimal(0)))
        for t, i in zip(sold["total"], sold["order_id"], strict=True)
    ]
    sold["day"] = sold["ordered_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    got = one_row(overall_kpis(orders, refunds, as_of=as_of))
    expected = pandas_kpis(sold)
    assert got["customers"] == expected["customers"]
    assert got["orders"] == expected["orders"]
    assert_kpis_match(got, expected)

    months = pd.DataFrame(kpis_by_period(orders, refunds, as_of=as_of).to_pyarrow().to_pylist())
    sold["month"] = sold["day"].dt.to_period("M").dt.start_time.dt.date
    by_month = sold.groupby("month")
    assert list(months["orders"]) == list(by_month.size())
    assert list(months["customers"]) == list(by_month["customer_id"].nunique())
    assert months["revenue"].astype(float).to_numpy() == pytest.approx(by_month["net"].sum())
    assert months["aov"].to_numpy() == pytest.approx(by_month["net"].mean())


# -- distributions ------------------------------------------------------------------------------
def test_distributions_by_hand(hand_made: Workspace) -> None:
    con = hand_made.connect()
    orders, refunds = hand_made.table("orders", con), hand_made.table("refunds", con)
    per_customer = orders_per_customer(orders, refunds, as_of=AS_OF).to_pyarrow().to_pylist()
    assert [r["orders"] for r in per_customer] == list(range(1, 11))
    assert [r["customers"] for r in per_customer] == [1, 0, 2, 0, 0, 0, 0, 0, 0, 0]
    gaps = days_between_orders(orders, refunds, as_of=AS_OF).to_pyarrow().to_pylist()
    assert [r["days_bucket"] for r in gaps] == list(DAY_BUCKETS)
    assert [r["gaps"] for r in gaps] == [0, 0, 1, 1, 1, 0, 0, 0]  # 20, 40, 65 days
    capped = orders_per_customer(orders, refunds, as_of=AS_OF, cap=2).to_pyarrow().to_pylist()
    assert capped == [{"orders": 1, "customers": 1}, {"orders": 2, "customers": 2}]


def test_distributions_add_up(sim_workspace: Workspace) -> None:
    con = sim_workspace.connect()
    orders, refunds = sim_workspace.table("orders", con), sim_workspace.table("refunds", con)
    as_of = date(2025, 12, 31)
    summary = customer_summary(orders, refunds, as_of=as_of)
    totals = one_row(summary.aggregate(n=summary.count(), repeats=summary.frequency.sum()))
    per_customer = orders_per_customer(orders, refunds, as_of=as_of).execute()
    gaps = days_between_orders(orders, refunds, as_of=as_of, buckets=(0, 30, 365)).execute()
    assert per_customer["customers"].sum() == totals["n"]
    assert gaps["gaps"].sum() == totals["repeats"]
    assert list(gaps["days_bucket"]) == [0, 30, 365]
    with pytest.raises(ValueError, match="buckets"):
        days_between_orders(orders, refunds, as_of=as_of, buckets=(7, 3))
