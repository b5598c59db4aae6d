"""Retention and churn by customers and by revenue; the per-store churn threshold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from regulars import Workspace
from regulars.analytics.retention import (
    RETENTION_COLUMNS,
    churn_by_threshold,
    churn_threshold_days,
    definitions,
    retention,
)

AS_OF = date(2024, 12, 31)


def rows(expr: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return out


@pytest.fixture(scope="module")
def big_customers_leave(
    import_workspace: Callable[..., Workspace], tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    """20 small customers buy in August and again in November; 2 big ones only in August."""
    root = tmp_path_factory.mktemp("retention")
    lines = ["order_id,customer_id,ordered_at,product_id,quantity,unit_price"]
    for i in range(1, 21):
        lines.append(f"s{i}-1,s{i:02d},2024-08-15 10:00,P1,1,10.00")
        lines.append(f"s{i}-2,s{i:02d},2024-11-15 10:00,P1,2,5.00")
    lines.append("b1-1,b1,2024-08-20 11:00,P2,4,250.00")
    lines.append("b2-1,b2,2024-08-20 12:00,P2,1,1000.00")
    csv = root / "orders.csv"
    csv.write_text("\n".join(lines) + "\n")
    return import_workspace(csv, root / "big.duckdb")


def test_few_big_customers_leaving_is_a_big_revenue_churn(big_customers_leave: Workspace) -> None:
    ws = big_customers_leave
    got = rows(retention(ws.table("orders"), ws.table("refunds"), as_of=AS_OF, horizons=(90,)))
    assert len(got) == 1
    row = got[0]
    assert list(row) == list(RETENTION_COLUMNS)
    assert row["horizon_days"] == 90
    assert (row["customers_at_start"], row["retained_customers"]) == (22, 20)
    assert row["revenue_at_start"] == Decimal(2200)
    assert row["retained_revenue"] == Decimal(200)
    assert row["customer_churn_rate"] == pytest.approx(2 / 22)
    assert row["revenue_churn_rate"] == pytest.approx(2000 / 2200)
    assert row["customer_retention_rate"] + row["customer_churn_rate"] == pytest.approx(1)
    assert row["revenue_churn_rate"] > 0.9 > 0.1 > row["customer_churn_rate"]


def test_churn_by_threshold_differs_by_revenue(big_customers_leave: Workspace) -> None:
    ws = big_customers_leave
    got = rows(
        churn_by_threshold(ws.table("orders"), ws.table("refunds"), as_of=AS_OF, threshold_days=60)
    )[0]
    # small customers last bought 46 days ago, big ones 133 days ago
    assert (got["customers"], got["churned_customers"]) == (22, 2)
    assert got["churned_revenue"] == Decimal(2000)
    assert got["revenue_churn_rate"] == pytest.approx(2000 / 2400)
    assert got["customer_churn_rate"] == pytest.approx(2 / 22)


def test_windows_are_half_open(
    canonical_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    def order(i: str, who: str, at: str) -> dict[str, str]:
        return {"order_id": i, "customer_id": who, "ordered_at": at, "total": "1"}

    ws = canonical_workspace(
        [
            order("p1", "p", "2024-03-11 12:00"),  # start window is (03-11, 03-21]: outside
            order("q1", "q", "2024-03-12 00:00"),
            order("q2", "q", "2024-03-22 00:00"),  # end window (03-21, 03-31]: kept
            order("s1", "s", "2024-03-21 23:59"),
            order("s2", "s", "2024-03-31 23:59"),  # kept
            order("u1", "u", "2024-03-21 00:00"),  # not kept
            order("v1", "v", "2024-03-15 00:00"),
            order("v2", "v", "2024-04-01 00:00"),  # after as_of: not seen
        ],
        path=tmp_path / "bounds.duckdb",
    )
    got = rows(retention(ws.table("orders"), ws.table("refunds"), as_of=date(2024, 3, 31),
                         horizons=(10,)))[0]  # fmt: skip
    assert (got["customers_at_start"], got["retained_customers"]) == (4, 2)
    assert got["revenue_at_start"] == Decimal(4)  # q1, s1, u1, v1 and nothing else
    assert got["retained_revenue"] == Decimal(2)


def test_horizons_are_configurable_and_sorted(big_customers_leave: Workspace) -> None:
    ws = big_customers_leave
    got = rows(retention(ws.table("orders"), ws.table("refunds"), as_of=AS_OF,
                         horizons=(90, 30, 7)))  # fmt: skip
    assert [r["horizon_days"] for r in got] == [7, 30, 90]
    assert got[0]["customers_at_start"] == 0
    assert got[0]["customer_retention_rate"] is None
    assert got[1]["customers_at_start"] == 20  # bought 11-15, in (11-01, 12-01]
    assert got[1]["customer_churn_rate"] == 1.0
    with pytest.raises(ValueError, match="horizons"):
        retention(ws.table("orders"), ws.table("refunds"), as_of=AS_OF, horizons=(0,))


def test_churn_threshold_is_an_exact_quantile(
    canonical_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    days = {"a": [0, 10, 30, 60], "b": [5, 105], "c": [7]}
    start = date(2024, 1, 1)
    orders = [
        {"order_id": f"{who}{n}", "customer_id": who,
         "ordered_at": (start + timedelta(days=d)).isoformat(), "total": "3"}
        for who, ds in days.items()
        for n, d in enumerate(ds)
    ]  # fmt: skip
    ws = canonical_workspace(orders, path=tmp_path / "gaps.duckdb")
    as_of = date(2024, 6, 30)
    threshold = churn_threshold_days(ws.table("orders"), ws.table("refunds"), as_of=as_of)
    expected = float(np.percentile([10, 20, 30, 100], 90))
    assert threshold.execute() == pytest.approx(expected)  # 79
    got = rows(churn_by_threshold(ws.table("orders"), ws.table("refunds"), as_of=as_of))[0]
    assert got["threshold_days"] == pytest.approx(expected)
    # last purchase days: a 03-01 (121 days ago), b 04-15 (76 days), c 01-08 (174 days)
    assert got["churned_customers"] == 2
    assert got["churned_revenue"] == Decimal(15)
    later = rows(churn_by_threshold(ws.table("orders"), ws.table("refunds"),
                                    as_of=date(2024, 9, 30)))[0]  # fmt: skip
    assert later["churned_customers"] == 3


def test_definitions_name_both_measures() -> None:
    text = definitions()
    assert "revenue" in text["retention (revenue)"]
    assert "90%" in text["churn threshold"]


def test_simulated_store_retention_equals_pandas(sim_workspace: Workspace) -> None:
    con = sim_workspace.connect()
    orders, refunds = sim_workspace.table("orders", con), sim_workspace.table("refunds", con)
    as_of = date(2025, 12, 31)
    got = rows(retention(orders, refunds, as_of=as_of))
    o = orders.to_pandas()
    r = refunds.to_pandas()
    o = o[(o["status"] != "cancelled") & o["customer_id"].notna()].copy()
    o["day"] = o["ordered_at"].dt.tz_convert("UTC").dt.date
    refunded = r.groupby("order_id")["amount"].apply(lambda s: sum(s, Decimal(0)))
    o["net"] = [t - refunded.get(i, Decimal(0)) for t, i in zip(o["total"], o["order_id"],
                                                                  strict=True)]  # fmt: skip
    o = o[o["day"] <= as_of]
    for row, h in zip(got, (30, 90, 365), strict=True):
        mid, lo = as_of - timedelta(days=h), as_of - timedelta(days=2 * h)
        start = o[(o["day"] > lo) & (o["day"] <= mid)]
        end_ids = set(o.loc[(o["day"] > mid), "customer_id"])
        revenue = start.groupby("customer_id")["net"].apply(lambda s: sum(s, Decimal(0)))
        kept = revenue[revenue.index.isin(end_ids)]
        assert row["customers_at_start"] == len(revenue)
        assert row["retained_customers"] == len(kept)
        assert row["revenue_at_start"] == sum(revenue, Decimal(0))
        assert row["retained_revenue"] == sum(kept, Decimal(0))
        assert not pd.isna(row["revenue_churn_rate"])
