"""RFM: quintile scores and ties, the segment map, transitions, and Online Retail vs pandas."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest
from handmade import store

from regulars import Workspace
from regulars.analytics.rfm import (
    DEFAULT_SEGMENT_MAP,
    NEW_SEGMENT,
    SegmentMap,
    SegmentRule,
    rfm_grid,
    rfm_scores,
    rfm_segment_summary,
    rfm_transitions,
)
from regulars.analytics.summary import customer_summary
from regulars.errors import ConfigError


def scores(tables: dict[str, ir.Table], as_of: date, **kwargs: Any) -> pd.DataFrame:
    summary = customer_summary(tables["orders"], tables["refunds"], as_of=as_of)
    out: pd.DataFrame = rfm_scores(summary, **kwargs).execute()
    return out.set_index("customer_id").sort_index()


def orders_of(spec: dict[str, list[tuple[str, Any]]]) -> list[dict[str, Any]]:
    """Orders from {customer: [(day, total), ...]}."""
    return [
        {"order_id": f"{cid}{i}", "customer_id": cid, "ordered_at": day, "total": total}
        for cid, rows in spec.items()
        for i, (day, total) in enumerate(rows)
    ]


AS_OF = date(2024, 6, 30)

# Ten customers; several share a value on each axis.
TIES = {
    "c00": [("2024-06-30", 10)],
    "c01": [("2024-06-30", 10), ("2024-05-01", 10)],
    "c02": [("2024-06-01", "10.004")],
    "c03": [("2024-06-01", "10.001")],
    "c04": [("2024-05-01", 50), ("2024-04-01", 50)],
    "c05": [("2024-05-01", 50), ("2024-04-01", 50)],
    "c06": [("2024-04-01", 20)],
    "c07": [("2024-03-01", 70), ("2024-02-01", 1), ("2024-01-01", 1)],
    "c08": [("2024-02-01", 80)],
    "c09": [("2024-01-01", 90)],
}


def test_tied_values_share_a_score() -> None:
    got = scores(store(orders_of(TIES)), AS_OF)
    # F: 6 customers with 1 order (k=0 -> 1), 3 with 2 (k=6 -> 5*6//10+1 = 4), 1 with 3 (5).
    assert got.f_score.to_dict() == {
        "c00": 1, "c01": 4, "c02": 1, "c03": 1, "c04": 4, "c05": 4, "c06": 1, "c07": 5,
        "c08": 1, "c09": 1,
    }  # fmt: skip
    # M ranks whole cents: 10.004 and 10.001 are both 1000 cents, tied with the two 10s.
    assert got.loc[["c00", "c02", "c03"], "revenue_cents"].tolist() == [1000, 1000, 1000]
    assert got.loc[["c00", "c02", "c03"], "m_score"].nunique() == 1
    # R: the most recent get 5; the same last day gives the same score.
    assert got.loc["c00", "r_score"] == got.loc["c01", "r_score"] == 5
    assert got.loc["c02", "r_score"] == got.loc["c03", "r_score"]
    assert got.loc["c09", "r_score"] == 1
    for axis in ("r_score", "f_score", "m_score"):
        assert got[axis].between(1, 5).all()


def test_split_ties_make_equal_quintiles_cut_by_customer_id() -> None:
    got = scores(store(orders_of(TIES)), AS_OF, ties="split")
    for axis in ("r_score", "f_score", "m_score"):
        assert sorted(got[axis].value_counts().tolist()) == [2, 2, 2, 2, 2]
    # The six one-order customers fill F 1..3 in customer_id order.
    ones = got[got.orders == 1].f_score
    assert ones.to_dict() == {"c00": 1, "c02": 1, "c03": 2, "c06": 2, "c08": 3, "c09": 3}


@pytest.mark.parametrize("ties", ["share", "split"])
def test_scores_do_not_depend_on_row_order(ties: str) -> None:
    rows = orders_of(TIES)
    first = scores(store(rows), AS_OF, ties=ties)
    again = scores(store(list(reversed(rows))), AS_OF, ties=ties)
    pd.testing.assert_frame_equal(first, again)


def test_default_map_covers_every_score_once() -> None:
    assert DEFAULT_SEGMENT_MAP.covers_every_score()
    assert "Other" not in DEFAULT_SEGMENT_MAP.names
    assert len(DEFAULT_SEGMENT_MAP.names) == 11
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                fm = (f + m) // 2
                hits = [
                    rule.name
                    for rule in DEFAULT_SEGMENT_MAP.rules
                    if rule.r[0] <= r <= rule.r[1] and rule.fm[0] <= fm <= rule.fm[1]
                ]
                assert len(hits) == 1, (r, f, m, hits)


def test_segment_map_is_configurable() -> None:
    mapping = SegmentMap.from_dict(
        {"Recent": {"r": (4, 5)}, "Big": {"m": (5, 5)}}, fallback="Everyone else"
    )
    assert mapping.names == ("Recent", "Big", "Everyone else")
    tables = store(orders_of(TIES))
    got = scores(tables, AS_OF, segment_map=mapping)
    expected = (
        got.r_score.ge(4)
        .map({True: "Recent"})
        .fillna(got.m_score.eq(5).map({True: "Big", False: "Everyone else"}))
    )
    assert got.rfm_segment.to_dict() == expected.to_dict()
    summary = customer_summary(tables["orders"], tables["refunds"], as_of=AS_OF)
    table = rfm_segment_summary(rfm_scores(summary, segment_map=mapping), segment_map=mapping)
    counts = table.execute()
    assert counts.segment.tolist() == ["Recent", "Big", "Everyone else"]
    assert counts.customers.sum() == 10
    assert counts.revenue_share.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ({"X": {"r": (0, 5)}}, "not a score range"),
        ({"X": {"r": (4, 2)}}, "not a score range"),
        ({"X": {"q": (1, 2)}}, "unknown score 'q'"),
    ],
)
def test_bad_segment_map_is_refused(rules: dict[str, dict[str, Any]], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SegmentMap.from_dict(rules)
    with pytest.raises(ConfigError, match="no name"):
        SegmentRule("")


def test_segment_summary_lists_every_segment_and_grid_adds_up() -> None:
    tables = store(orders_of(TIES))
    summary = customer_summary(tables["orders"], tables["refunds"], as_of=AS_OF)
    scored = rfm_scores(summary)
    table = rfm_segment_summary(scored).execute()
    assert table.segment.tolist() == list(DEFAULT_SEGMENT_MAP.names)
    assert table.customers.sum() == 10
    assert sum(table.revenue) == Decimal("512.005")
    grid = rfm_grid(scored).execute()
    assert grid.customers.sum() == 10
    assert list(grid.columns) == ["r_score", "f_score", "customers", "revenue"]


# a is loyal until June, then stops; others keep buying or arrive (g).
MOVES = {
    "a": [("2024-02-01", 100), ("2024-03-01", 100), ("2024-04-01", 100), ("2024-05-15", 100)],
    "b": [("2024-01-10", 300), ("2024-02-25", 300), ("2024-03-10", 300), ("2024-06-25", 300),
          ("2024-09-25", 300)],
    "c": [("2024-01-05", 20)],
    "d": [("2024-06-20", 30), ("2024-06-28", 30), ("2024-09-20", 30)],
    "e": [("2024-02-15", 50)],
    "f": [("2024-06-10", 40), ("2024-09-10", 40)],
    "g": [("2024-08-01", 60)],
    "h": [("2024-01-20", 25), ("2024-08-20", 25)],
    "i": [("2024-01-25", 35), ("2024-08-25", 35)],
}  # fmt: skip


def test_transitions_show_who_moved_from_loyal_to_at_risk() -> None:
    tables = store(orders_of(MOVES))
    start, end = date(2024, 6, 30), date(2024, 9, 30)
    assert scores(tables, start).loc["a", "rfm_segment"] == "Loyal"
    assert scores(tables, end).loc["a", "rfm_segment"] == "At risk"
    moves = rfm_transitions(tables["orders"], tables["refunds"], start=start, end=end).execute()
    assert list(moves.columns) == ["from_segment", "to_segment", "customers"]
    pairs = {(r.from_segment, r.to_segment): r.customers for r in moves.itertuples()}
    assert pairs[("Loyal", "At risk")] == 1
    assert sum(n for (src, _), n in pairs.items() if src == NEW_SEGMENT) == 1  # g
    assert moves.customers.sum() == 9
    with pytest.raises(ConfigError, match="after its end"):
        rfm_transitions(tables["orders"], tables["refunds"], start=end, end=start)


# -- Online Retail against an independent pandas computation ---------------------------------
RULES = [  # (segment, R low, R high, FM low, FM high), as documented in rfm.py
    ("Champions", 5, 5, 4, 5), ("Loyal", 3, 4, 4, 5), ("Potential loyalist", 4, 5, 2, 3),
    ("New customers", 5, 5, 1, 1), ("Promising", 4, 4, 1, 1), ("Need attention", 3, 3, 3, 3),
    ("About to sleep", 3, 3, 1, 2), ("Can't lose them", 1, 2, 5, 5), ("At risk", 1, 2, 3, 4),
    ("Hibernating", 2, 2, 1, 2), ("Lost", 1, 1, 1, 2),
]  # fmt: skip


def pandas_rfm(orders: pd.DataFrame, refunds: pd.DataFrame, as_of: date) -> pd.DataFrame:
    end = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)
    sold = orders[(orders.status != "cancelled") & (orders.ordered_at < end)]
    sold = sold[sold.customer_id.notna()]
    back = refunds[refunds.refunded_at < end].groupby("order_id").amount.sum()
    net = [t - back.get(o, Decimal(0)) for o, t in zip(sold.order_id, sold.total, strict=True)]
    sold = sold.assign(net=net)
    sold = sold.assign(day=sold.ordered_at.dt.date)
    per = sold.groupby("customer_id").agg(orders=("order_id", "size"), revenue=("net", "sum"),
                                         last_day=("day", "max"))  # fmt: skip
    days = per.last_day.map(lambda d: (as_of - d).days)
    cents = per.revenue.map(lambda v: int((v * 100).to_integral_value(rounding=ROUND_FLOOR)))
    n = len(per)

    def score(values: pd.Series) -> pd.Series:  # k = customers with a strictly worse value
        k = values.rank(method="min").astype(int) - 1
        return 5 * k // n + 1

    out = pd.DataFrame({"r_score": score(-days), "f_score": score(per.orders),
                        "m_score": score(cents)})  # fmt: skip
    fm = (out.f_score + out.m_score) // 2

    def name(r: int, f: int) -> str:
        return next(s for s, rl, rh, fl, fh in RULES if rl <= r <= rh and fl <= f <= fh)

    out["rfm_segment"] = [name(r, f) for r, f in zip(out.r_score, fm, strict=True)]
    return out.sort_index()


@pytest.mark.slow
def test_online_retail_rfm_equals_pandas(online_retail_workspace: Workspace) -> None:
    ws = online_retail_workspace
    con = ws.connect()
    orders, refunds = ws.table("orders", con), ws.table("refunds", con)
    as_of = orders.ordered_at.max().execute().date()
    expected = pandas_rfm(orders.execute(), refunds.execute(), as_of)
    got = rfm_scores(customer_summary(orders, refunds, as_of=as_of)).execute()
    got = got.set_index("customer_id").sort_index()
    assert len(got) == len(expected) == 4334
    cols = ["r_score", "f_score", "m_score", "rfm_segment"]
    pd.testing.assert_frame_equal(got[cols], expected[cols], check_dtype=False)
    counts = rfm_segment_summary(rfm_scores(customer_summary(orders, refunds, as_of=as_of)))
    table = counts.execute().set_index("segment")
    assert table.customers.sum() == len(expected)
    assert table.customers.to_dict() == {
        s: int((expected.rfm_segment == s).sum()) for s in DEFAULT_SEGMENT_MAP.names
    }
    assert table.revenue_share.sum() == pytest.approx(1.0)
