"""The calibration/holdout split: edge rules on hand-made stores, and the real data sets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir
import pytest
from handmade import store

from regulars import Workspace
from regulars.analytics.holdout import (
    calibration_holdout,
    daily_first_purchases,
    daily_repeat_purchases,
    holdout_end,
    tables_as_of,
    tracking_days,
)
from regulars.errors import InputError

CUTOFF = date(2024, 3, 31)


def order(i: str, who: str | None, at: str, total: str = "10", **more: Any) -> dict[str, Any]:
    return {"order_id": i, "customer_id": who, "ordered_at": at, "total": total, **more}


def split(tables: dict[str, ir.Table], horizon: int = 30) -> dict[str, dict[str, Any]]:
    expr = calibration_holdout(
        tables["orders"], tables["refunds"], cutoff=CUTOFF, horizon_days=horizon
    )
    return {r["customer_id"]: r for r in expr.to_pyarrow().to_pylist()}


def test_same_day_orders_are_one_purchase_in_both_periods() -> None:
    rows = split(
        store(
            orders=[
                order("1", "a", "2024-03-01 09:00"),
                order("2", "a", "2024-03-01 18:00"),  # same day: not a repeat
                order("3", "a", "2024-03-10 12:00"),
                order("4", "a", "2024-04-05 08:00"),
                order("5", "a", "2024-04-05 20:00"),  # same holdout day: one purchase
                order("6", "a", "2024-04-20 10:00"),
            ]
        )
    )
    a = rows["a"]
    assert (a["orders"], a["order_days"], a["frequency"]) == (3, 2, 1)
    assert (a["recency_days"], a["t_days"]) == (9, 30)
    assert (a["holdout_purchases"], a["holdout_orders"]) == (2, 3)
    assert a["holdout_gross_revenue"] == Decimal("30")


def test_cutoff_day_is_calibration_to_its_last_second_and_the_next_day_holdout() -> None:
    rows = split(
        store(
            orders=[
                order("1", "a", "2024-03-01 10:00"),
                order("2", "a", "2024-03-31 23:59:59"),  # calibration
                order("3", "b", "2024-03-01 10:00"),
                order("4", "b", "2024-04-01 00:00"),  # holdout
                order("5", "c", "2024-03-31 23:59"),  # first seen on the cutoff day
            ]
        )
    )
    assert (rows["a"]["frequency"], rows["a"]["recency_days"]) == (1, 30)
    assert rows["a"]["holdout_purchases"] == 0
    assert (rows["b"]["frequency"], rows["b"]["holdout_purchases"]) == (0, 1)
    assert (rows["c"]["frequency"], rows["c"]["t_days"], rows["c"]["holdout_purchases"]) == (
        0,
        0,
        0,
    )


def test_holdout_ends_with_its_last_day() -> None:
    rows = split(
        store(
            orders=[
                order("1", "a", "2024-03-01 10:00"),
                order("2", "a", "2024-04-30 23:59"),  # last holdout day (cutoff + 30)
                order("3", "a", "2024-05-01 00:00"),  # after the holdout
            ]
        ),
        horizon=30,
    )
    assert rows["a"]["holdout_purchases"] == 1
    assert holdout_end(CUTOFF, 30) == date(2024, 4, 30)


def test_customers_first_seen_after_the_cutoff_are_left_out() -> None:
    rows = split(
        store(
            orders=[
                order("1", "a", "2024-02-01 10:00"),
                order("2", "new", "2024-04-02 10:00"),
                order("3", "new", "2024-04-09 10:00"),
                order("4", "later", "2024-06-01 10:00"),
            ]
        )
    )
    assert set(rows) == {"a"}


def test_a_customer_without_a_holdout_purchase_has_zeros_not_nulls() -> None:
    rows = split(store(orders=[order("1", "a", "2024-01-05 10:00", "12.50")]))
    a = rows["a"]
    assert (a["holdout_purchases"], a["holdout_orders"]) == (0, 0)
    assert a["holdout_gross_revenue"] == a["holdout_refunded"] == a["holdout_revenue"] == 0
    assert a["monetary_value"] is None and a["revenue"] == Decimal("12.50")


def test_guests_and_cancelled_orders_are_not_purchases() -> None:
    rows = split(
        store(
            orders=[
                order("1", "a", "2024-03-01 10:00"),
                order("2", "a", "2024-04-03 10:00", status="cancelled"),
                order("3", None, "2024-03-02 10:00"),
                order("4", None, "2024-04-04 10:00"),
                order("5", "b", "2024-03-05 10:00", status="cancelled"),
                order("6", "b", "2024-04-05 10:00"),
            ]
        )
    )
    assert set(rows) == {"a"}  # b's only calibration order was cancelled: b is new
    assert rows["a"]["holdout_purchases"] == 0


def test_holdout_revenue_is_net_of_holdout_refunds_of_holdout_sales() -> None:
    tables = store(
        orders=[
            order("1", "a", "2024-03-01 10:00", "100"),
            order("2", "a", "2024-04-10 10:00", "50"),
            order("3", "a", "2024-04-20 10:00", "40"),
        ],
        refunds=[
            # a holdout sale refunded in the holdout: subtracted
            {"refund_id": "r1", "order_id": "2", "refunded_at": "2024-04-12 10:00", "amount": 20},
            # a holdout sale refunded after the holdout: not seen
            {"refund_id": "r2", "order_id": "3", "refunded_at": "2024-05-05 10:00", "amount": 40},
            # a calibration sale refunded in the holdout: not holdout revenue
            {"refund_id": "r3", "order_id": "1", "refunded_at": "2024-04-02 10:00", "amount": 30},
        ],
    )
    a = split(tables)["a"]
    assert a["holdout_gross_revenue"] == Decimal("90")
    assert a["holdout_refunded"] == Decimal("20")
    assert a["holdout_revenue"] == Decimal("70")
    assert a["revenue"] == Decimal("100")  # the cutoff had not seen r3 yet


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_the_horizon_is_a_whole_number_of_days(bad: Any) -> None:
    tables = store(orders=[order("1", "a", "2024-03-01 10:00")])
    with pytest.raises(InputError, match="whole number of days"):
        calibration_holdout(tables["orders"], tables["refunds"], cutoff=CUTOFF, horizon_days=bad)


def test_daily_first_and_repeat_purchases() -> None:
    tables = store(
        orders=[
            order("1", "a", "2024-03-01 09:00"),
            order("2", "a", "2024-03-01 19:00"),  # same day as the first: no repeat
            order("3", "a", "2024-03-20 10:00"),
            order("4", "a", "2024-03-20 11:00"),  # one repeat that day
            order("5", "a", "2024-04-10 10:00"),  # a holdout repeat
            order("6", "a", "2024-05-10 10:00"),  # after the holdout
            order("7", "b", "2024-03-01 12:00"),
            order("8", "b", "2024-04-10 12:00"),
            order("9", "new", "2024-04-02 10:00"),  # first seen in the holdout: left out
            order("10", "new", "2024-04-10 10:00"),
        ]
    )
    firsts = daily_first_purchases(tables["orders"], cutoff=CUTOFF).to_pyarrow().to_pylist()
    assert firsts == [{"day": date(2024, 3, 1), "customers": 2}]
    repeats = daily_repeat_purchases(tables["orders"], cutoff=CUTOFF, horizon_days=30)
    got = sorted((r["day"], r["repeat_purchases"]) for r in repeats.to_pyarrow().to_pylist())
    assert got == [(date(2024, 3, 20), 1), (date(2024, 4, 10), 2)]


def test_tracking_days_step_by_weeks_through_the_cutoff() -> None:
    # CDNOW: the first sale on 1997-01-01, the cutoff the end of week 39, 39 weeks ahead.
    days = tracking_days(date(1997, 1, 1), date(1997, 9, 30), date(1998, 6, 30))
    assert days[0] == date(1996, 12, 31) and len(days) == 79
    assert days[39] == date(1997, 9, 30) and days[-1] == date(1998, 6, 30)
    # A holdout that is not whole weeks ends with a partial one.
    days = tracking_days(date(2024, 3, 1), date(2024, 3, 31), date(2024, 4, 10))
    assert days == [
        date(2024, 3, 3),
        date(2024, 3, 10),
        date(2024, 3, 17),
        date(2024, 3, 24),
        date(2024, 3, 31),
        date(2024, 4, 7),
        date(2024, 4, 10),
    ]


def test_tables_as_of_see_nothing_after_the_cutoff() -> None:
    tables = store(
        orders=[order("1", "a", "2024-03-31 23:00"), order("2", "a", "2024-04-01 00:00")],
        lines=[
            {"order_id": "1", "line_no": 1, "product_id": "p", "quantity": 1},
            {"order_id": "2", "line_no": 1, "product_id": "p", "quantity": 1},
        ],
        refunds=[{"refund_id": "r", "order_id": "1", "refunded_at": "2024-04-02", "amount": 5}],
        customers=[
            {"customer_id": "a", "created_at": "2024-03-01 00:00"},
            {"customer_id": "b", "created_at": "2024-04-01 00:00"},
            {"customer_id": "c"},
        ],
        events=[
            {"event_id": "e1", "type": "page", "occurred_at": "2024-03-31 12:00"},
            {"event_id": "e2", "type": "page", "occurred_at": "2024-04-01 12:00"},
        ],
    )
    seen = tables_as_of(tables, CUTOFF)

    def ids(name: str, column: str) -> list[str]:
        return sorted(seen[name][column].to_pyarrow().to_pylist())

    assert ids("orders", "order_id") == ["1"]
    assert ids("order_lines", "order_id") == ["1"]
    assert ids("refunds", "refund_id") == []
    assert ids("customers", "customer_id") == ["a", "c"]
    assert ids("events", "event_id") == ["e1"]


@pytest.mark.slow
def test_online_retail_evaluation_runs_and_every_model_converges(
    online_retail_workspace: Workspace,
) -> None:
    from regulars.engines import open_engine
    from regulars.evaluation import evaluate
    from regulars.report.evaluation import render_evaluation

    with open_engine(online_retail_workspace) as engine:
        result = evaluate(engine.tables(), cutoff=date(2011, 9, 9), horizon_days=91)
    assert (result.customers, result.holdout_purchases, result.new_customers) == (3368, 4460, 966)
    assert result.holdout_end == date(2011, 12, 9)
    for c in result.candidates:
        if c.kind == "count model" and c.status != "unavailable":
            assert c.status == "ok", (c.name, c.reason)
            assert c.metrics is not None and c.metrics.auc is not None
            assert 0.70 < c.metrics.auc < 0.80, (c.name, c.metrics.auc)
    bgnbd = result.candidate("bgnbd").metrics
    assert bgnbd is not None and bgnbd.auc == pytest.approx(0.734, abs=0.001)
    assert result.best is not None
    assert "<script" not in render_evaluation(result)
