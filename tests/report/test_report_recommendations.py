"""The section "What your customers will buy next", on hand-made recommendation summaries."""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import pytest
from report_support import SECTION_IDS, parse_report

from regulars.analysis import StoreAnalysis
from regulars.recommend.summary import RecommendationSummary
from regulars.report import render_report

SEGMENTS = ["Lost", "Loyal", "Champions", "At risk", "New customers", "Hibernating"]
SEGMENTS += ["Can't lose them", "Promising"]


def summary() -> RecommendationSummary:
    """Return a summary of 8 segments, the 3rd without a list, one product oddly named."""
    sizes = [120, 61, 48, 44, 40, 30, 10, 5]
    listed = [118, 61, 0, 44, 40, 30, 10, 5]
    segments = pd.DataFrame(
        {
            "segment": SEGMENTS,
            "customers": sizes,
            "recommended_customers": listed,
            "recommendations": [10 * n for n in listed],
            "buy_again": [n * 3 for n in listed],
            "repeat_ratio": [None if n == 0 else 0.3 for n in listed],
        }
    )
    rows = []
    for segment, n in zip(SEGMENTS, listed, strict=True):
        for rank in range(1, 6 if n else 1):
            rows.append(
                {
                    "segment": segment,
                    "rank": rank,
                    "product_id": f"P{rank}",
                    "name": "Tea & <Biscuits>" if rank == 1 else None,
                    "category": "tea" if rank < 4 else None,
                    "customers": n - rank,
                    "share": (n - rank) / n,
                }
            )
    return RecommendationSummary(
        k=10,
        ranker="gradient-boosting",
        ranker_reason="learned on 1,692 products found in the last basket of 1,061 customers",
        customers=358,
        reasons={"buy_again": 1074, "cross_sell": 2406, "category": 60, "popular": 40},
        repeat_ratio=0.3,
        observed_repeat_ratio=0.314,
        observed_customers=151,
        segments=segments,
        top_products=pd.DataFrame(rows),
    )


def _section(html: str) -> str:
    found = re.search(r'<section id="recommendations".*?</section>', html, re.S)
    assert found
    return found.group(0)


def test_the_section_comes_before_what_to_do(analysis: StoreAnalysis) -> None:
    report = parse_report(render_report(replace(analysis, recommendations=summary())))
    expected = list(SECTION_IDS)
    expected.insert(expected.index("actions"), "recommendations")
    assert report.sections == expected


def test_store_figures_are_in_words(analysis: StoreAnalysis) -> None:
    section = _section(render_report(replace(analysis, recommendations=summary())))
    assert "Each of the 358 customers who bought products gets the 10 products" in section
    assert "gradient-boosting (learned on 1,692 products" in section
    assert "30.0% of the recommendations are products the customer bought before" in section
    assert "the 151 customers with two or more baskets had bought 31.4%" in section
    reasons = [("Buy again", "1,074", "30.0%"), ("Cross-sell", "2,406", "67.2%"),
               ("Category best seller", "60", "1.7%"), ("Popular", "40", "1.1%")]  # fmt: skip
    for label, count, share in reasons:
        cells = f'<td>{label}</td><td>[^<]+</td><td class="num">{count}</td>'
        assert re.search(cells + f'<td class="num">{share}</td>', section), label


def test_the_six_largest_segments_and_their_top_products(analysis: StoreAnalysis) -> None:
    section = _section(render_report(replace(analysis, recommendations=summary())))
    headings = re.findall(r'<h3><span class="segment">([^<]*)</span>', section)
    assert headings == [s.replace("'", "&#x27;") for s in SEGMENTS[:6]]
    assert "Promising" not in section and "Can&#x27;t lose them" not in section
    assert "all 8 are in --json" in section
    assert "Tea &amp; &lt;Biscuits&gt;" in section and "<Biscuits>" not in section
    assert "<td>P2</td><td>tea</td>" in section  # no name: the product id
    assert "<td>P4</td><td>–</td>" in section  # no category: a dash
    assert "Customers with it in their top 10" in section
    champions = section.split('<span class="segment">Champions</span>')[1].split("<h3>")[0]
    assert "No recommendation for this segment." in champions
    lost = section.split('<span class="segment">Lost</span>')[1].split("<h3>")[0]
    assert lost.count("<tr>") == 6 and "117" in lost and "97.5%" in lost


def test_no_second_basket_is_said(analysis: StoreAnalysis) -> None:
    quiet = replace(summary(), observed_repeat_ratio=None, observed_customers=0)
    section = _section(render_report(replace(analysis, recommendations=quiet)))
    assert "no customer has two baskets yet" in section


@pytest.mark.parametrize(
    "reason",
    [
        "No customer bought a product by 1998-06-30. Import order lines (not only order "
        "totals), or choose a later --as-of.",
        "The order lines name one product only (CD): there is nothing to choose between.",
    ],
)
def test_no_recommendations_are_explained(analysis: StoreAnalysis, reason: str) -> None:
    empty = RecommendationSummary(k=10, unavailable=reason)
    report = parse_report(render_report(replace(analysis, recommendations=empty)))
    assert "recommendations" in report.sections and report.empties == 1
    section = _section(render_report(replace(analysis, recommendations=empty)))
    assert "<table" not in section
    assert f"No recommendations: {reason}".replace("'", "&#x27;") in section


def test_not_asked_for_the_section_is_left_out(analysis: StoreAnalysis) -> None:
    html = render_report(replace(analysis, recommendations=None))
    assert parse_report(html).sections == SECTION_IDS
    assert 'id="recommendations"' not in html and "will buy next" not in html
