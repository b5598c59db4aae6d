"""Segments: the declared definitions on a hand-made store (VIP, buyers, activity, bands)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from handmade import store

from regulars.analytics.customers import customer_table
from regulars.analytics.segments import (
    SegmentConfig,
    SegmentDefinition,
    SegmentGroup,
    default_segments,
    segment_counts,
)
from regulars.errors import ConfigError

AS_OF = date(2024, 6, 30)
SPEND = {
    "s0": [("2024-01-10", 10)],
    "s1": [("2024-02-01 09:00", 15), ("2024-02-01 18:00", 15)],
    "s2": [("2024-06-01", 20)],
    "s3": [("2024-01-01", 40), ("2024-03-01", 10)],
    "s4": [("2024-04-01", 60)],
    "s5": [("2024-04-02", 70)],
    "s6": [("2024-04-03", 90)],
    "s7": [("2024-04-04", 90)],
    "s8": [("2024-05-01", 100), ("2024-06-01", 100)],
    "s9": [("2024-06-15", 500)],
}
ORDERS = [
    {"order_id": f"{cid}-{i}", "customer_id": cid, "ordered_at": day, "total": total}
    for cid, rows in SPEND.items()
    for i, (day, total) in enumerate(rows)
]
EVENTS = [
    {"event_id": "e1", "type": "Email Opened", "customer_id": "s0", "occurred_at": "2024-03-01"},
    {"event_id": "e2", "type": "Email Opened", "customer_id": "s2", "occurred_at": "2024-06-05"},
    {"event_id": "e3", "type": "Product Viewed", "customer_id": "s1", "occurred_at": "2024-06-20"},
    {"event_id": "e4", "type": "Product Viewed", "customer_id": "s3", "occurred_at": "2024-05-01"},
    {"event_id": "e5", "type": "Product Viewed", "customer_id": "s4", "occurred_at": "2024-07-05"},
    {"event_id": "e6", "type": "Product Viewed", "customer_id": None, "occurred_at": "2024-06-29",
     "anonymous_id": "anon"},
]  # fmt: skip
CUSTOMERS = [
    {"customer_id": "s0", "gender": "female", "birthday": "1989-07-01", "country": "Spain"},
    {"customer_id": "s1", "gender": "female", "birthday": "1989-06-30", "country": "Spain"},
    {"customer_id": "s2", "birthday": "1900-01-01", "country": "Spain"},
    {"customer_id": "s3", "gender": "male", "country": "France", "city": "Paris"},
]


def members(
    events: Sequence[dict[str, Any]] | None = EVENTS,
    segments: Sequence[Any] | None = None,
    customers: Sequence[dict[str, Any]] = CUSTOMERS,
) -> dict[str, set[str]]:
    """Return segment -> customer ids."""
    t = store(ORDERS, customers=customers, events=events or ())
    table = customer_table(
        t["orders"], t["refunds"], t["order_lines"], t["customers"],
        t["events"] if events is not None else None, as_of=AS_OF, segments=segments,
    )  # fmt: skip
    out: dict[str, set[str]] = {}
    for row in table.select("customer_id", "segments").to_pyarrow().to_pylist():
        for name in row["segments"]:
            out.setdefault(name, set()).add(row["customer_id"])
    return out


@pytest.fixture(scope="module")
def got() -> dict[str, set[str]]:
    """Members of the default segments on the hand-made store."""
    return members()


def test_buyer_segments(got: dict[str, set[str]]) -> None:
    assert got["First-time buyers"] == {"s0", "s1", "s2", "s4", "s5", "s6", "s7", "s9"}
    assert got["One-and-done"] == {"s0", "s1"}  # one purchase day, more than 90 days ago
    assert got["Repeat customers"] == {"s3", "s8"}


def test_vip_is_the_exact_top_share_ties_by_customer_id() -> None:
    expected = {5: {"s9"}, 20: {"s9", "s8"}, 25: {"s9", "s8", "s6"}, 30: {"s9", "s8", "s6"},
                100: set(SPEND)}  # fmt: skip
    vips = []
    for percent in expected:
        vip = next(s for s in default_segments(SegmentConfig(vip_percent=percent))
                   if s.name == "VIP")  # fmt: skip
        assert isinstance(vip, SegmentDefinition)
        vips.append(SegmentDefinition(f"VIP {percent}", vip.description, vip.predicate))
    got = members(segments=vips)
    for percent, ids in expected.items():
        assert got[f"VIP {percent}"] == ids, percent


def test_activity_segments_from_events(got: dict[str, set[str]]) -> None:
    assert got["Bought but never opened email"] == set(SPEND) - {"s0", "s2"}
    # s1: viewed a product 10 days ago, last order 150 days ago; s3's event is 60 days old;
    # s4's event is after as_of; anonymous events count for nobody.
    assert got["Engaged but not buying"] == {"s1"}


def test_activity_segments_need_tracked_events() -> None:
    assert "Bought but never opened email" not in members(events=None)
    assert "Engaged but not buying" not in members(events=None)
    views = [e for e in EVENTS if e["type"] != "Email Opened"]
    got = members(events=views)
    assert "Bought but never opened email" not in got  # email opens are not tracked
    assert got["Engaged but not buying"] == {"s1"}


def test_customer_attribute_groups(got: dict[str, set[str]]) -> None:
    assert got["country: Spain"] == {"s0", "s1", "s2"}
    assert got["city: Paris"] == {"s3"}
    assert got["gender: female"] == {"s0", "s1"}
    assert got["age: 25-35"] == {"s0"}  # 34: the 35th birthday is tomorrow
    assert got["age: 35-45"] == {"s1"}  # 35 today
    assert not any(name.startswith("age: ") and "s2" in ids for name, ids in got.items())
    assert got["spend: <50"] == {"s0", "s1", "s2"}
    assert got["spend: 50-100"] == {"s3", "s4", "s5", "s6", "s7"}
    assert got["spend: 100-250"] == {"s8"}
    assert got["spend: 500-1000"] == {"s9"}


def test_counts_follow_the_declaration_order() -> None:
    t = store(ORDERS, customers=CUSTOMERS, events=EVENTS)
    segments = default_segments()
    table = customer_table(
        t["orders"], t["refunds"], t["order_lines"], t["customers"], t["events"], as_of=AS_OF
    )
    counts = segment_counts(table, segments).execute()
    assert list(counts.columns) == ["segment", "description", "customers", "revenue"]
    names = counts.segment.tolist()
    assert names[:3] == ["First-time buyers", "One-and-done", "Repeat customers"]
    spend = [n for n in names if n.startswith("spend: ")]
    assert spend == ["spend: <50", "spend: 50-100", "spend: 100-250", "spend: 500-1000"]
    row = counts.set_index("segment").loc["Repeat customers"]
    assert (row.customers, row.revenue) == (2, Decimal(250))
    assert counts.set_index("segment").loc["VIP", "description"].startswith("Top 5%")


def test_custom_segments_and_predicates_for_campaigns() -> None:
    big = SegmentDefinition("Big spenders", "Net revenue 100 or more.", lambda t: t.revenue >= 100)
    by_country = SegmentGroup("country", "Customers of this country.", lambda t: t.country)
    got = members(segments=[big, by_country])
    assert got == {"Big spenders": {"s8", "s9"}, "country: Spain": {"s0", "s1", "s2"},
                   "country: France": {"s3"}}  # fmt: skip
    t = store(ORDERS, customers=CUSTOMERS)
    table = customer_table(t["orders"], t["refunds"], customers=t["customers"], as_of=AS_OF)
    french = table.filter(by_country.predicate("France")(table)).customer_id.execute()
    assert french.tolist() == ["s3"]


def test_bad_segment_declarations_are_refused() -> None:
    same = SegmentDefinition("A", "", lambda t: t.revenue > 0)
    t = store(ORDERS)
    with pytest.raises(ConfigError, match="declared twice"):
        customer_table(t["orders"], t["refunds"], as_of=AS_OF, segments=[same, same])
    with pytest.raises(ConfigError, match="vip_percent"):
        SegmentConfig(vip_percent=0)
    with pytest.raises(ConfigError, match="increasing"):
        SegmentConfig(spend_bands=(100, 50))
