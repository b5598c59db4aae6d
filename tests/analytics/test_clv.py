"""Historic CLV = AOV x purchase frequency x expected lifespan, overall and per segment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from regulars import Workspace
from regulars.analytics.clv import CLV_COLUMNS, definitions, historic_clv

AS_OF = date(2024, 3, 31)


def rows(expr: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return out


@pytest.fixture(scope="module")
def tiny(
    canonical_workspace: Callable[..., Workspace], tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    sales = [
        ("a", "2024-02-10", 10), ("a", "2024-03-05", 20), ("a", "2024-03-20", 40),
        ("b", "2024-02-15", 100),
        ("c", "2024-03-10", 30),
        ("d", "2024-02-20", 5), ("d", "2024-03-25", 5),
    ]  # fmt: skip
    orders = [
        {"order_id": f"o{i}", "customer_id": who, "ordered_at": day, "total": str(total)}
        for i, (who, day, total) in enumerate(sales)
    ]
    return canonical_workspace(orders, path=tmp_path_factory.mktemp("clv") / "tiny.duckdb")


def test_store_clv_by_hand(tiny: Workspace) -> None:
    got = rows(historic_clv(tiny.table("orders"), tiny.table("refunds"), as_of=AS_OF,
                            period_days=30))  # fmt: skip
    assert len(got) == 1
    row = got[0]
    assert list(row) == list(CLV_COLUMNS)
    # window (03-01, 03-31]: a 2 orders 60, c 1 order 30, d 1 order 5
    assert (row["segment"], row["customers"]) == ("all", 3)
    assert row["aov"] == pytest.approx(95 / 4)
    assert row["purchase_frequency"] == pytest.approx(4 / 3)
    # start window (01-31, 03-01]: a, b, d; b did not come back: churn 1/3, lifespan 90 days
    assert row["lifespan_days"] == pytest.approx(90)
    assert row["clv"] == pytest.approx(95 / 4 * 4 / 3 * 90 / 30)


def test_segments_from_a_mapping(tiny: Workspace) -> None:
    got = rows(
        historic_clv(tiny.table("orders"), tiny.table("refunds"), as_of=AS_OF, period_days=30,
                     segments={"a": "x", "b": "x", "c": "y"})
    )  # fmt: skip
    by = {r["segment"]: r for r in got}
    assert [r["segment"] for r in got] == ["all", "unassigned", "x", "y"]
    assert by["x"]["customers"] == 1
    assert by["x"]["lifespan_days"] == pytest.approx(60)  # a kept, b churned
    assert by["x"]["clv"] == pytest.approx(30 * 2 * 60 / 30)
    # y: c is new, nobody in the start window: the lifespan cannot be measured
    assert by["y"]["aov"] == 30.0
    assert by["y"]["lifespan_days"] is None and by["y"]["clv"] is None
    # d came back: churn 0, the lifespan is the cap
    assert by["unassigned"]["lifespan_days"] == 3650.0
    assert by["unassigned"]["clv"] == pytest.approx(5 * 1 * 3650 / 30)


def test_segments_from_a_column_of_a_table(sim_workspace: Workspace) -> None:
    con = sim_workspace.connect()
    got = rows(
        historic_clv(
            sim_workspace.table("orders", con),
            sim_workspace.table("refunds", con),
            as_of=date(2025, 12, 31),
            segments=sim_workspace.table("customers", con),
            segment_column="country",
        )
    )
    assert got[0]["segment"] == "all"
    others = [r["segment"] for r in got[1:]]
    assert others == sorted(others) and len(others) >= 3
    assert sum(r["customers"] for r in got[1:]) == got[0]["customers"] > 0
    for row in got:
        assert row["clv"] is not None and row["clv"] > 0
        assert row["clv"] == pytest.approx(
            row["aov"] * row["purchase_frequency"] * row["lifespan_days"] / 365
        )
    with pytest.raises(ValueError, match="country"):
        historic_clv(sim_workspace.table("orders", con), sim_workspace.table("refunds", con),
                     as_of=date(2025, 12, 31), segments=sim_workspace.table("orders", con),
                     segment_column="country")  # fmt: skip


def test_definition_shows_the_formula() -> None:
    text = definitions(period_days=365)["historic clv"]
    assert "CLV = AOV x purchase frequency x expected lifespan" in text
    assert "365 / churn" in text


@pytest.mark.slow
def test_cdnow_clv_equals_pandas(cdnow_workspace: Workspace, shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={0: str})
    raw.columns = ["customer_id", "date", "cds", "dollars"]
    raw["day"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d").dt.date
    as_of = date(1998, 6, 30)
    mid, lo = as_of - timedelta(days=365), as_of - timedelta(days=730)
    window = raw[(raw["day"] > mid) & (raw["day"] <= as_of)]
    start_ids = set(raw.loc[(raw["day"] > lo) & (raw["day"] <= mid), "customer_id"])
    churn = len(start_ids - set(window["customer_id"])) / len(start_ids)
    aov = window["dollars"].mean()
    frequency = len(window) / window["customer_id"].nunique()
    con = cdnow_workspace.connect()
    got = rows(historic_clv(cdnow_workspace.table("orders", con),
                            cdnow_workspace.table("refunds", con), as_of=as_of))[0]  # fmt: skip
    assert got["customers"] == window["customer_id"].nunique()
    assert got["aov"] == pytest.approx(aov)
    assert got["purchase_frequency"] == pytest.approx(frequency)
    assert got["lifespan_days"] == pytest.approx(365 / churn)
    assert got["clv"] == pytest.approx(aov * frequency / churn)
