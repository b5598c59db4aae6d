"""Edge cases, one test each: a clear error or a correct result, never a crash or a NaN."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from regulars import RegularsError, Workspace
from regulars.analytics.clv import historic_clv
from regulars.analytics.distributions import days_between_orders, orders_per_customer
from regulars.analytics.kpis import (
    currencies,
    kpis_by_period,
    overall_kpis,
    require_single_currency,
    single_currency,
)
from regulars.analytics.retention import churn_by_threshold, retention

AS_OF = date(2024, 6, 30)
Make = Callable[..., Workspace]


def order(i: str, who: str | None, at: str, total: str, **more: str) -> dict[str, Any]:
    return {"order_id": i, "customer_id": who, "ordered_at": at, "total": total, **more}


def analyse(ws: Workspace, currency: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Run every function of the module family; check that no value is NaN."""
    con = ws.connect()
    orders = single_currency(ws.table("orders", con), currency)
    refunds = ws.table("refunds", con)
    exprs = {
        "kpis": overall_kpis(orders, refunds, as_of=AS_OF),
        "months": kpis_by_period(orders, refunds, as_of=AS_OF),
        "quarters": kpis_by_period(orders, refunds, as_of=AS_OF, period="quarter"),
        "retention": retention(orders, refunds, as_of=AS_OF),
        "churn": churn_by_threshold(orders, refunds, as_of=AS_OF),
        "clv": historic_clv(orders, refunds, as_of=AS_OF, segments={"a": "x"}),
        "orders_per_customer": orders_per_customer(orders, refunds, as_of=AS_OF),
        "days_between_orders": days_between_orders(orders, refunds, as_of=AS_OF),
    }
    out = {name: expr.to_pyarrow().to_pylist() for name, expr in exprs.items()}
    for name, result in out.items():
        for row in result:
            for column, value in row.items():
                assert not (isinstance(value, float) and math.isnan(value)), (name, column)
    return out


def assert_no_customer(got: dict[str, list[dict[str, Any]]]) -> None:
    k = got["kpis"][0]
    assert (k["customers"], k["new_customers"], k["returning_customers"], k["orders"]) == (
        0,
        0,
        0,
        0,
    )
    assert k["revenue"] == 0
    assert k["aov"] is None and k["repeat_purchase_rate"] is None
    assert all(r["customers_at_start"] == 0 for r in got["retention"])
    assert all(r["customer_churn_rate"] is None for r in got["retention"])
    assert got["churn"][0]["customers"] == 0 and got["churn"][0]["customer_churn_rate"] is None
    assert got["clv"][0]["segment"] == "all" and got["clv"][0]["clv"] is None
    assert sum(r["customers"] for r in got["orders_per_customer"]) == 0
    assert sum(r["gaps"] for r in got["days_between_orders"]) == 0


def test_empty_workspace(canonical_workspace: Make, tmp_path: Path) -> None:
    got = analyse(canonical_workspace([], path=tmp_path / "empty.duckdb"))
    assert_no_customer(got)
    assert got["months"] == [] and got["quarters"] == []
    assert [r["horizon_days"] for r in got["retention"]] == [30, 90, 365]


def test_only_guest_orders(canonical_workspace: Make, tmp_path: Path) -> None:
    orders = [order("g1", None, "2024-03-01", "10"), order("g2", None, "2024-06-01", "20")]
    got = analyse(canonical_workspace(orders, path=tmp_path / "guests.duckdb"))
    assert_no_customer(got)


def test_one_customer(canonical_workspace: Make, tmp_path: Path) -> None:
    orders = [order("1", "a", "2024-05-10", "12.50")]
    got = analyse(canonical_workspace(orders, path=tmp_path / "one.duckdb"))
    k = got["kpis"][0]
    assert (k["customers"], k["new_customers"], k["orders"]) == (1, 1, 1)
    assert k["revenue"] == Decimal("12.5")
    assert (k["aov"], k["aov_first"], k["aov_repeat"]) == (12.5, 12.5, None)
    assert k["repeat_purchase_rate"] == 0.0
    assert k["median_days_between_orders"] is None
    assert [r["period_start"] for r in got["months"]] == [date(2024, 5, 1), date(2024, 6, 1)]
    assert got["churn"][0]["threshold_days"] == 365.0  # nobody bought twice: the fallback
    assert got["churn"][0]["churned_customers"] == 0
    clv = {r["segment"]: r for r in got["clv"]}
    assert clv["all"]["customers"] == 1 and clv["all"]["clv"] is None  # no start window
    assert clv["x"]["customers"] == 1 and clv["x"]["clv"] is None
    assert got["orders_per_customer"][0] == {"orders": 1, "customers": 1}


def test_one_day_of_data(canonical_workspace: Make, tmp_path: Path) -> None:
    orders = [
        order("1", "a", "2024-06-30 08:00", "10"),
        order("2", "a", "2024-06-30 09:00", "30"),
        order("3", "b", "2024-06-30 10:00", "20"),
    ]
    got = analyse(canonical_workspace(orders, path=tmp_path / "day.duckdb"))
    k = got["kpis"][0]
    assert (k["customers"], k["orders"], k["returning_customers"]) == (2, 3, 0)
    assert k["aov"] == 20.0 and k["aov_first"] == 20.0 and k["aov_repeat"] is None
    assert k["purchase_frequency"] == 1.5
    assert len(got["months"]) == 1 and got["months"][0]["new_customers"] == 2
    assert got["retention"][0]["customers_at_start"] == 0
    assert got["orders_per_customer"][:2] == [
        {"orders": 1, "customers": 1},
        {"orders": 2, "customers": 1},
    ]
    assert sum(r["gaps"] for r in got["days_between_orders"]) == 0  # one purchase day each


def test_every_order_refunded(canonical_workspace: Make, tmp_path: Path) -> None:
    orders = [
        order("1", "a", "2024-01-10", "40", status="refunded"),
        order("2", "a", "2024-05-10", "60", status="refunded"),
        order("3", "b", "2024-06-01", "25", status="refunded"),
    ]
    refunds = [
        {"refund_id": "r1", "order_id": "1", "refunded_at": "2024-01-12", "amount": "40"},
        {"refund_id": "r2", "order_id": "2", "refunded_at": "2024-05-11", "amount": "60"},
        {"refund_id": "r3", "order_id": "3", "refunded_at": "2024-06-02", "amount": "25"},
    ]
    got = analyse(canonical_workspace(orders, refunds, path=tmp_path / "refunded.duckdb"))
    k = got["kpis"][0]
    assert (k["customers"], k["orders"], k["returning_customers"]) == (2, 3, 1)
    assert k["revenue"] == 0 and k["aov"] == 0.0
    assert k["returning_revenue_share"] is None  # no revenue to share
    assert all(r["revenue_retention_rate"] is None for r in got["retention"])
    assert got["clv"][0]["aov"] == 0.0


def test_mixed_currencies(canonical_workspace: Make, tmp_path: Path) -> None:
    orders = [
        order("u1", "a", "2024-02-01", "100", currency="USD"),
        order("u2", "a", "2024-04-01", "50", currency="USD"),
        order("e1", "b", "2024-03-01", "7", currency="EUR"),
        order("e2", "a", "2024-05-01", "9", currency="EUR"),
    ]
    refunds = [
        {"refund_id": "r", "order_id": "e1", "refunded_at": "2024-03-02", "amount": "2",
         "currency": "EUR"},
    ]  # fmt: skip
    ws = canonical_workspace(orders, refunds, path=tmp_path / "mixed.duckdb")
    all_orders = ws.table("orders")
    assert [r["currency"] for r in currencies(all_orders).to_pyarrow().to_pylist()] == [
        "EUR",
        "USD",
    ]
    with pytest.raises(RegularsError, match="several currencies") as caught:
        require_single_currency(all_orders)
    assert "EUR, USD" in str(caught.value) and "--currency" in str(caught.value)

    usd = analyse(ws, "USD")["kpis"][0]
    eur = analyse(ws, "eur")["kpis"][0]
    assert (usd["customers"], usd["orders"], usd["revenue"]) == (1, 2, Decimal(150))
    assert (eur["customers"], eur["orders"], eur["revenue"]) == (2, 2, Decimal(14))
    assert usd["aov"] == 75.0 and eur["aov"] == 7.0
    assert require_single_currency(single_currency(all_orders, "USD")) == "USD"
