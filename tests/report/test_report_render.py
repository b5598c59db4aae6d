import re
from dataclasses import replace

import pandas as pd
import pytest
from report_support import SECTION_IDS, parse_report

from regulars.analysis import StoreAnalysis
from regulars.report import render_report

FRAMES = [
    "kpis_by_period",
    "retention",
    "historic_clv",
    "cohorts",
    "rfm_segments",
    "rfm_grid",
    "rfm_transitions",
    "segments",
    "orders_per_customer",
    "days_between_orders",
]

CHARTS = {
    "revenue-by-month",
    "customers-by-month",
    "churn",
    "cohort-active",
    "cohort-revenue",
    "ltv",
    "rfm-grid",
    "rfm-transitions",
    "orders-per-customer",
    "days-between-orders",
}


def test_every_section_and_chart_is_there(analysis: StoreAnalysis) -> None:
    report = parse_report(render_report(analysis))
    assert report.sections == SECTION_IDS
    assert set(report.charts) >= CHARTS
    assert {f"kpi-{k}" for k in ("revenue", "aov", "customers")} <= set(report.charts)
    assert all(count > 0 for count in report.charts.values()), report.charts
    assert report.empties == 0


def test_marks_match_the_data(analysis: StoreAnalysis) -> None:
    report = parse_report(render_report(analysis))
    assert report.charts["cohort-active"] == len(analysis.cohorts)
    assert report.charts["rfm-grid"] == len(analysis.rfm_grid)
    assert report.charts["rfm-transitions"] == len(analysis.rfm_transitions)
    assert report.charts["churn"] == 2 * len(analysis.retention)
    assert report.charts["orders-per-customer"] == len(analysis.orders_per_customer)


def test_the_report_is_self_contained(analysis: StoreAnalysis) -> None:
    html = render_report(analysis)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"\bsrc\s*=", html)
    links = re.findall(r"\bhref\s*=\s*(\S+)", html)
    assert links and all(link.startswith('"#') for link in links), links
    assert "<script" not in html and "<link" not in html and "url(" not in html
    assert "@import" not in html


def test_numbers_are_formatted_for_people(analysis: StoreAnalysis) -> None:
    html = render_report(analysis)
    assert "€48,263.25" in html  # revenue
    assert "37.8%" in html  # repeat-purchase rate
    assert "27.5 days" in html
    assert "Revenue per customer (EUR)" in html
    assert "Tea &amp; Biscuits &lt;Test&gt; Shop" in html
    assert "Can&#x27;t lose them" in html


def test_rendering_leaves_the_analysis_alone(analysis: StoreAnalysis) -> None:
    before = {name: getattr(analysis, name).copy() for name in FRAMES}
    render_report(analysis)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(analysis, name), frame)


def test_an_empty_store_gets_sentences_not_charts(blank_analysis: StoreAnalysis) -> None:
    report = parse_report(render_report(blank_analysis))
    assert report.sections == SECTION_IDS
    assert report.charts == {}
    assert report.empties >= 9


@pytest.mark.parametrize("name", FRAMES)
def test_each_frame_may_be_empty(analysis: StoreAnalysis, name: str) -> None:
    full = parse_report(render_report(analysis))
    report = parse_report(render_report(replace(analysis, **{name: pd.DataFrame()})))
    assert report.sections == SECTION_IDS
    assert report.empties >= 1 or name == "historic_clv"
    assert len(report.charts) < len(full.charts) or name in {
        "historic_clv",
        "segments",
        "rfm_segments",
    }
    assert all(count > 0 for count in report.charts.values())


@pytest.mark.parametrize("name", FRAMES)
def test_frames_with_unexpected_columns_do_not_break(analysis: StoreAnalysis, name: str) -> None:
    odd = pd.DataFrame({"something_else": [1, 2]})
    report = parse_report(render_report(replace(analysis, **{name: odd})))
    assert report.sections == SECTION_IDS


def test_no_repeat_customers(analysis: StoreAnalysis) -> None:
    one_order = pd.DataFrame({"orders": [1], "customers": [595]})
    no_gaps = pd.DataFrame({"days_bucket": pd.Series([], dtype="int64"), "gaps": []})
    html = render_report(
        replace(
            analysis,
            orders_per_customer=one_order,
            days_between_orders=no_gaps,
            rfm_transitions=pd.DataFrame(columns=["from_segment", "to_segment", "customers"]),
        )
    )
    report = parse_report(html)
    assert report.charts["orders-per-customer"] == 1
    assert "days-between-orders" not in report.charts
    assert "rfm-transitions" not in report.charts
    assert "No repeat customers yet" in html


def test_missing_values_and_one_month(analysis: StoreAnalysis) -> None:
    kpis = {**analysis.kpis, "median_days_to_second_order": None, "aov_repeat": float("nan")}
    one_month = analysis.kpis_by_period.head(1)
    html = render_report(replace(analysis, kpis=kpis, kpis_by_period=one_month))
    report = parse_report(html)
    assert "revenue-by-month" not in report.charts
    assert not any(name.startswith("kpi-") for name in report.charts)
    assert "no monthly trend" in html
    assert "nan" not in html.lower().replace("nanc", "")  # no raw NaN printed


def test_transitions_when_everyone_stayed(analysis: StoreAnalysis) -> None:
    stayed = pd.DataFrame(
        {
            "from_segment": ["Lost", "Champions"],
            "to_segment": ["Lost", "Champions"],
            "customers": [5, 3],
        }
    )
    html = render_report(replace(analysis, rfm_transitions=stayed))
    assert parse_report(html).charts["rfm-transitions"] == 2
    assert "Every customer stayed in the same segment." in html


def test_many_cohorts_are_trimmed(analysis: StoreAnalysis) -> None:
    months = pd.date_range("2020-01-01", periods=48, freq="MS")
    rows = [
        {
            "cohort": m.date(),
            "period": p,
            "cohort_size": 10,
            "active_customers": 10 - p,
            "active_share": (10 - p) / 10,
            "revenue": 100.0 - p,
            "cumulative_revenue_per_customer": 10.0 + p,
        }
        for m in months
        for p in range(3)
    ]
    report = parse_report(render_report(replace(analysis, cohorts=pd.DataFrame(rows))))
    assert report.charts["cohort-active"] == 36 * 3
    assert report.charts["ltv"] == 9 * 3  # 8 cohorts and the average


def test_missing_keys_and_nullable_types_do_not_break(analysis: StoreAnalysis) -> None:
    grid = analysis.rfm_grid.astype({"r_score": "Int64", "f_score": "Float64"})
    grid.loc[0, "r_score"] = pd.NA
    cohorts = analysis.cohorts.astype({"period": "float64"})
    cohorts.loc[len(cohorts) - 1, "period"] = float("nan")
    gaps = analysis.days_between_orders.astype({"days_bucket": "Int64", "gaps": "Int64"})
    gaps.loc[0, "gaps"] = pd.NA
    html = render_report(
        replace(analysis, rfm_grid=grid, cohorts=cohorts, days_between_orders=gaps)
    )
    report = parse_report(html)
    assert report.charts["rfm-grid"] == len(grid) - 1
    assert report.charts["cohort-active"] == len(cohorts) - 1
    assert report.charts["days-between-orders"] == len(gaps) - 1
