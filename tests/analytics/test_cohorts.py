"""Cohorts: a hand-made store (periods, refunds, filters) and Online Retail against pandas."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest
from handmade import store

from regulars import Workspace
from regulars.analytics.cohorts import CohortFilter, acquisition, cohort_matrix
from regulars.analytics.summary import customer_summary
from regulars.errors import ConfigError

AS_OF = date(2024, 4, 15)
ORDERS = [
    {"order_id": "a1", "customer_id": "a", "ordered_at": "2024-01-10 12:00", "total": 80,
     "channel": "web", "discount_codes": ["WELCOME"]},
    {"order_id": "a2", "customer_id": "a", "ordered_at": "2024-02-05", "total": 20},
    {"order_id": "a3", "customer_id": "a", "ordered_at": "2024-04-01", "total": 10},
    {"order_id": "b1", "customer_id": "b", "ordered_at": "2024-01-20", "total": 80,
     "channel": "pos", "status": "partially_refunded"},
    {"order_id": "b2", "customer_id": "b", "ordered_at": "2024-03-05", "total": 30},
    {"order_id": "c1", "customer_id": "c", "ordered_at": "2024-02-14", "total": 60,
     "channel": "web", "discount_codes": ["SPRING", "X"]},
    {"order_id": "d1", "customer_id": "d", "ordered_at": "2024-02-20 10:00", "total": 7,
     "channel": "web"},
    {"order_id": "d0", "customer_id": "d", "ordered_at": "2024-02-20 10:00", "total": 5,
     "channel": "marketplace"},
    {"order_id": "e1", "customer_id": "e", "ordered_at": "2024-01-05", "total": 99,
     "status": "cancelled"},
    {"order_id": "g1", "customer_id": None, "ordered_at": "2024-01-05", "total": 99},
    {"order_id": "f1", "customer_id": "f", "ordered_at": "2024-04-20", "total": 99},
]  # fmt: skip
LINES = [
    {"order_id": "a1", "line_no": 1, "product_id": "p1", "category": "Shoes", "quantity": 1,
     "unit_price": 30, "line_total": 30},
    {"order_id": "a1", "line_no": 2, "product_id": "p2", "category": "Bags", "quantity": 1,
     "unit_price": 50, "line_total": 50},
    {"order_id": "b1", "line_no": 1, "product_id": "p3", "category": "Hats", "quantity": 2,
     "unit_price": 20, "line_total": 40},
    {"order_id": "b1", "line_no": 2, "product_id": "p1", "category": "Shoes", "quantity": 1,
     "unit_price": 40, "line_total": 40},
    {"order_id": "c1", "line_no": 1, "product_id": "p1", "category": "Shoes", "quantity": 2,
     "unit_price": 30, "line_total": 60},
]  # fmt: skip
REFUNDS = [
    {"refund_id": "r1", "order_id": "b1", "refunded_at": "2024-03-01", "amount": 15},
    {"refund_id": "r2", "order_id": "a3", "refunded_at": "2024-04-20", "amount": 10},
]
CUSTOMERS = [
    {"customer_id": "a", "country": "Spain"},
    {"customer_id": "b", "country": "France"},
    {"customer_id": "c", "country": "Spain"},
]


@pytest.fixture(scope="module")
def tables() -> dict[str, ir.Table]:
    return store(ORDERS, LINES, REFUNDS, CUSTOMERS)


def matrix(tables: dict[str, ir.Table], **kwargs: Any) -> list[tuple[Any, ...]]:
    expr = cohort_matrix(tables["orders"], tables["refunds"], tables["order_lines"],
                         tables["customers"], as_of=AS_OF, **kwargs)  # fmt: skip
    df = expr.execute()
    assert list(df.columns) == ["cohort", "period", "cohort_size", "active_customers", "revenue",
                                "active_share", "cumulative_revenue_per_customer"]  # fmt: skip
    return [
        (r.cohort.date().isoformat(), r.period, r.cohort_size, r.active_customers, r.revenue,
         r.active_share, round(r.cumulative_revenue_per_customer, 6))
        for r in df.itertuples()
    ]  # fmt: skip


def test_monthly_cohorts_by_hand(tables: dict[str, ir.Table]) -> None:
    D = Decimal
    assert matrix(tables) == [
        # a and b; b's first order is refunded 15 (a3's refund comes after as_of)
        ("2024-01-01", 0, 2, 2, D(145), 1.0, 72.5),
        ("2024-01-01", 1, 2, 1, D(20), 0.5, 82.5),
        ("2024-01-01", 2, 2, 1, D(30), 0.5, 97.5),
        ("2024-01-01", 3, 2, 1, D(10), 0.5, 102.5),
        # c and d; nobody came back: the periods are there, with zeros
        ("2024-02-01", 0, 2, 2, D(72), 1.0, 36.0),
        ("2024-02-01", 1, 2, 0, D(0), 0.0, 36.0),
        ("2024-02-01", 2, 2, 0, D(0), 0.0, 36.0),
    ]


def test_cohort_revenue_adds_up_to_the_summary(tables: dict[str, ir.Table]) -> None:
    cells = cohort_matrix(tables["orders"], tables["refunds"], as_of=AS_OF).execute()
    summary = customer_summary(tables["orders"], tables["refunds"], as_of=AS_OF).execute()
    assert sum(cells.revenue) == sum(summary.revenue)
    assert cells[cells.period == 0].cohort_size.sum() == len(summary)


def test_weekly_and_quarterly_cohorts(tables: dict[str, ir.Table]) -> None:
    quarters = matrix(tables, granularity="quarter")
    assert [r[:4] for r in quarters] == [("2024-01-01", 0, 4, 4), ("2024-01-01", 1, 4, 1)]
    weeks = matrix(tables, granularity="week")
    # a's first order is on Wednesday 2024-01-10: the week starts on Monday 2024-01-08;
    # as_of (Monday 2024-04-15) is 14 weeks later.
    a_week = [r for r in weeks if r[0] == "2024-01-08"]
    assert [r[1] for r in a_week] == list(range(15))
    assert {r[0] for r in weeks} == {"2024-01-08", "2024-01-15", "2024-02-12", "2024-02-19"}
    assert all(r[5] == 1.0 for r in weeks if r[1] == 0)


def test_acquisition_describes_the_first_order(tables: dict[str, ir.Table]) -> None:
    acq = acquisition(tables["orders"], tables["order_lines"], tables["customers"], as_of=AS_OF)
    rows = {r["customer_id"]: r for r in acq.to_pyarrow().to_pylist()}
    assert set(rows) == {"a", "b", "c", "d"}
    assert rows["a"]["first_category"] == "Bags"  # the largest line
    assert rows["b"]["first_category"] == "Hats"  # equal lines: the lowest line_no
    assert rows["c"]["first_discount_code"] == "SPRING"
    assert rows["b"]["first_discount_code"] is None
    assert rows["d"]["first_order_id"] == "d0"  # same instant: the lowest order id
    assert rows["d"]["first_channel"] == "marketplace"
    assert rows["d"]["country"] is None


@pytest.mark.parametrize(
    ("where", "sizes"),
    [
        (CohortFilter(first_category="Bags"), {"2024-01-01": 1}),
        (CohortFilter(first_category=["Hats", "Shoes"]), {"2024-01-01": 1, "2024-02-01": 1}),
        (CohortFilter(first_discount_code="WELCOME"), {"2024-01-01": 1}),
        (CohortFilter(country="Spain"), {"2024-01-01": 1, "2024-02-01": 1}),
        (CohortFilter(first_channel="marketplace"), {"2024-02-01": 1}),
        (CohortFilter(country="Spain", first_channel="web"), {"2024-01-01": 1, "2024-02-01": 1}),
        (CohortFilter(country="Peru"), {}),
    ],
)
def test_cohort_filters(
    tables: dict[str, ir.Table], where: CohortFilter, sizes: dict[str, int]
) -> None:
    rows = matrix(tables, where=where)
    assert {r[0]: r[2] for r in rows} == sizes
    if where.first_category == "Bags":  # only a: every period of a's cohort is a's alone
        assert [r[4] for r in rows] == [Decimal(80), Decimal(20), Decimal(0), Decimal(10)]


def test_bad_cohort_requests_are_refused(tables: dict[str, ir.Table]) -> None:
    orders, refunds = tables["orders"], tables["refunds"]
    with pytest.raises(ConfigError, match="Unknown cohort period 'day'"):
        cohort_matrix(orders, refunds, as_of=AS_OF, granularity="day")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs the order lines"):
        cohort_matrix(orders, refunds, as_of=AS_OF, where=CohortFilter(first_category="Bags"))
    with pytest.raises(ConfigError, match="needs the customers table"):
        cohort_matrix(orders, refunds, as_of=AS_OF, where=CohortFilter(country="Spain"))


# -- Online Retail against an independent pandas computation ---------------------------------
def pandas_cohorts(orders: pd.DataFrame, refunds: pd.DataFrame, as_of: date) -> pd.DataFrame:
    end = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)
    sold = orders[(orders.status != "cancelled") & (orders.ordered_at < end)]
    sold = sold[sold.customer_id.notna()].copy()
    back = refunds[refunds.refunded_at < end].groupby("order_id").amount.sum()
    sold["net"] = [
        t - back.get(o, Decimal(0)) for o, t in zip(sold.order_id, sold.total, strict=True)
    ]
    sold["month"] = sold.ordered_at.dt.year * 12 + sold.ordered_at.dt.month - 1
    sold["first"] = sold.groupby("customer_id").month.transform("min")
    sold["period"] = sold.month - sold["first"]
    size = sold.groupby("first").customer_id.nunique()
    cells = sold.groupby(["first", "period"]).agg(
        active_customers=("customer_id", "nunique"), revenue=("net", "sum")
    )
    cells["cohort_size"] = size.reindex(cells.index.get_level_values("first")).to_numpy()
    cells["active_share"] = cells.active_customers / cells.cohort_size
    cells = cells.reset_index()
    cells["cohort"] = [pd.Timestamp(m // 12, m % 12 + 1, 1) for m in cells["first"]]
    return cells.set_index(["cohort", "period"]).sort_index()


@pytest.mark.slow
def test_online_retail_cohorts_equal_pandas(online_retail_workspace: Workspace) -> None:
    ws = online_retail_workspace
    con = ws.connect()
    orders, refunds = ws.table("orders", con), ws.table("refunds", con)
    as_of = orders.ordered_at.max().execute().date()
    expected = pandas_cohorts(orders.execute(), refunds.execute(), as_of)
    got = cohort_matrix(orders, refunds, as_of=as_of).execute()
    got = got.set_index(["cohort", "period"]).sort_index()
    # 13 cohorts (Dec 2010 .. Dec 2011), each with every month up to Dec 2011: 13 * 14 / 2.
    assert len(got) == 91
    assert (got.xs(0, level="period").active_share == 1.0).all()
    seen = got[got.active_customers > 0]
    assert len(seen) == len(expected)
    cols = ["cohort_size", "active_customers", "revenue"]
    pd.testing.assert_frame_equal(
        seen[cols], expected[cols], check_dtype=False, check_index_type=False
    )
    assert seen.active_share.to_numpy() == pytest.approx(expected.active_share.to_numpy())
    assert (got[got.active_customers == 0].revenue == 0).all()
    running = got.revenue.map(float).groupby(level="cohort").cumsum() / got.cohort_size
    assert got.cumulative_revenue_per_customer.to_numpy() == pytest.approx(running.to_numpy())
    assert got.xs(0, level="period").cohort_size.sum() == 4334
