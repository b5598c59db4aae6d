"""What the customers will buy next, per RFM segment (the report's recommendations, issue 5)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pytest

from regulars import Workspace
from regulars.analysis import StoreAnalysis, analysis_to_json, analyze
from regulars.engines import open_engine
from regulars.recommend.baskets import basket_lines
from regulars.recommend.run import recommend
from regulars.recommend.summary import recommendation_summary
from regulars.report import render_report


@dataclass
class Recommended:
    """The simulated store's analysis, and what it was computed from."""

    analysis: StoreAnalysis
    lists: pd.DataFrame  # the recommender's own lists, straight from the library
    lines: pd.DataFrame  # the basket lines: customer_id, order_id, ordered_at, product_id
    products: pd.DataFrame


@pytest.fixture(scope="module")
def recommended(sim_workspace: Workspace) -> Recommended:
    with open_engine(sim_workspace, "duckdb") as engine:
        tables = engine.tables()
        analysis = analyze(tables, store="sim", include_customers=True, recommendations=True)
        lists = recommend(tables, as_of=analysis.as_of, k=10).frame
        lines = basket_lines(tables["orders"], tables["order_lines"], as_of=analysis.as_of)
        products = tables["products"].to_pyarrow().to_pandas()
        return Recommended(analysis, lists, lines.to_pyarrow().to_pandas(), products)


def _section(html: str) -> str:
    found = re.search(r'<section id="recommendations".*?</section>', html, re.S)
    assert found, "no recommendations section"
    return found.group(0)


def test_the_section_renders_on_the_simulated_store(recommended: Recommended) -> None:
    analysis = recommended.analysis
    summary = analysis.recommendations
    assert summary is not None and summary.unavailable is None
    html = render_report(analysis)
    section = _section(html)
    assert "What your customers will buy next" in section
    assert html.index('id="recommendations"') < html.index('id="actions"')
    assert 'href="#recommendations"' in html
    shown = summary.segments.head(6)
    for segment in shown["segment"]:
        assert f'<span class="segment">{segment}</span>'.replace("'", "&#x27;") in section
    top = summary.top_products
    for name in top[top["segment"].isin(shown["segment"])]["name"]:
        assert name in section
    assert "observed repeat ratio" in section and "recommended repeat ratio" in section
    assert "http" not in section and "<script" not in section
    for term in ("recommendations", "recommended repeat ratio", "observed repeat ratio"):
        assert term in analysis.definitions


def test_segment_numbers_match_the_recommenders_lists(recommended: Recommended) -> None:
    summary = recommended.analysis.recommendations
    assert summary is not None
    who = recommended.analysis.customers[["customer_id", "rfm_segment"]]
    rows = recommended.lists.merge(who, on="customer_id")
    segments = summary.segments.set_index("segment")
    sizes = who["rfm_segment"].value_counts()
    assert segments["customers"].to_dict() == sizes.to_dict()
    assert list(summary.segments["customers"]) == sorted(sizes, reverse=True)
    assert (segments["recommended_customers"] <= segments["customers"]).all()
    for segment, group in rows.groupby("rfm_segment"):
        expected = (group["reason"] == "buy_again").mean()
        assert segments.loc[segment, "repeat_ratio"] == pytest.approx(expected)
        assert segments.loc[segment, "recommended_customers"] == group["customer_id"].nunique()
        assert segments.loc[segment, "recommendations"] == len(group)
        counts = group["product_id"].value_counts()
        top = summary.top_products[summary.top_products["segment"] == segment]
        assert list(top["rank"]) == list(range(1, min(5, len(counts)) + 1))
        assert top["customers"].tolist() == sorted(counts, reverse=True)[: len(top)]
        for p in top.itertuples():
            assert p.customers == counts[p.product_id] <= group["customer_id"].nunique()
            assert 0 < p.share <= 1
    assert summary.segments["repeat_ratio"].between(0, 1).all()
    names = recommended.products.set_index("product_id")["name"]
    assert (summary.top_products["name"] == summary.top_products["product_id"].map(names)).all()


def test_store_numbers_match_a_direct_computation(recommended: Recommended) -> None:
    summary = recommended.analysis.recommendations
    assert summary is not None
    lists = recommended.lists
    assert summary.reasons == {
        r: int((lists["reason"] == r).sum())
        for r in ("buy_again", "cross_sell", "category", "popular")
    }
    assert sum(summary.reasons.values()) == len(lists) <= 10 * summary.customers
    assert summary.repeat_ratio == pytest.approx((lists["reason"] == "buy_again").mean())
    assert summary.customers == lists["customer_id"].nunique()
    assert summary.ranker and summary.ranker_reason
    # The observed repeat ratio, from the basket lines: last basket vs. the ones before.
    lines = recommended.lines.sort_values(["customer_id", "ordered_at", "order_id"])
    last = lines.groupby("customer_id")["order_id"].transform("last")
    baskets = lines.groupby("customer_id")["order_id"].transform("nunique")
    repeaters = lines[baskets >= 2]
    latest = repeaters[repeaters["order_id"] == last[baskets >= 2]]
    before = repeaters[repeaters["order_id"] != last[baskets >= 2]]
    pairs = before[["customer_id", "product_id"]].drop_duplicates()
    rebought = latest.merge(pairs, how="left", indicator=True)["_merge"] == "both"
    assert summary.observed_customers == latest["customer_id"].nunique() > 0
    assert summary.observed_repeat_ratio == pytest.approx(rebought.mean())
    assert 0 < summary.observed_repeat_ratio < 1


def test_the_json_holds_the_sections_numbers(recommended: Recommended) -> None:
    summary = recommended.analysis.recommendations
    assert summary is not None
    numbers = json.loads(json.dumps(analysis_to_json(recommended.analysis)))
    recs = numbers["recommendations"]
    assert recs["k"] == 10 and recs["unavailable"] is None
    assert recs["reasons"] == summary.reasons
    assert recs["repeat_ratio"] == pytest.approx(summary.repeat_ratio)
    assert recs["observed_repeat_ratio"] == pytest.approx(summary.observed_repeat_ratio)
    assert [s["segment"] for s in recs["segments"]] == list(summary.segments["segment"])
    assert [s["repeat_ratio"] for s in recs["segments"]] == pytest.approx(
        list(summary.segments["repeat_ratio"])
    )
    assert len(recs["top_products"]) == len(summary.top_products)
    assert set(recs["top_products"][0]) == {
        "segment", "rank", "product_id", "name", "category", "customers", "share",
    }  # fmt: skip


def test_recommendations_are_off_unless_asked(recommended: Recommended) -> None:
    from dataclasses import replace

    analysis = replace(recommended.analysis, recommendations=None)
    assert 'id="recommendations"' not in render_report(analysis)
    assert "recommendations" not in analysis_to_json(analysis)


def _unavailable(workspace: Workspace) -> StoreAnalysis:
    with open_engine(workspace, "duckdb") as engine:
        analysis = analyze(engine.tables(), store="shop", recommendations=5)
    assert analysis.recommendations is not None and analysis.recommendations.k == 5
    assert analysis.recommendations.unavailable
    assert "recommended repeat ratio" not in analysis.definitions
    section = _section(render_report(analysis))
    assert 'class="empty"' in section and "<table" not in section
    return analysis


def test_a_store_without_order_lines_says_why(
    canonical_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    orders = [
        {"order_id": f"o{i}", "customer_id": f"c{i % 30}", "ordered_at": f"2024-0{1 + i % 6}-10",
         "total": 10 + i}
        for i in range(90)
    ]  # fmt: skip
    analysis = _unavailable(canonical_workspace(orders, path=tmp_path / "totals.duckdb"))
    assert analysis.recommendations is not None
    assert "No customer bought a product" in str(analysis.recommendations.unavailable)
    assert "order lines" in str(analysis.recommendations.unavailable)
    assert analysis_to_json(analysis)["recommendations"]["segments"] == []


def test_a_one_product_store_like_cdnow_says_why(
    import_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    records = [f"{c:05d} 1997{1 + d % 9:02d}{1 + c % 28:02d} 2 {20 + c}.5" for c in range(40)
               for d in range(3)]  # fmt: skip
    source = tmp_path / "cdnow.txt"
    source.write_text("customer_id date number_of_cds dollar_value\n" + "\n".join(records))
    analysis = _unavailable(import_workspace(source, tmp_path / "cd.duckdb", format="cdnow"))
    assert analysis.recommendations is not None
    assert "one product only (CD)" in str(analysis.recommendations.unavailable)


def test_a_store_with_too_few_customers_says_why(
    import_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    source = tmp_path / "lines.csv"
    source.write_text(
        "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
        "A1,c1,2024-01-05,p1,1,10\nA2,c2,2024-01-06,p2,1,12\nA3,c1,2024-02-06,p2,1,12\n"
    )
    segments = ibis.memtable({"customer_id": ["c1", "c2"], "segment": ["Loyal", "New"]})
    with open_engine(import_workspace(source, tmp_path / "few.duckdb"), "duckdb") as engine:
        summary = recommendation_summary(
            engine.tables(), segments, as_of=date(2024, 2, 6), currency="USD", k=10,
            progress=lambda _step: None,
        )  # fmt: skip
    assert summary.unavailable is not None and summary.segments.empty
    assert summary.unavailable.startswith("Only 2 customer(s) bought products: too few")
