"""A small, realistic StoreAnalysis written out by hand, shared by the report tests."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pandas as pd

from regulars.analysis import StoreAnalysis

MONTHS = pd.date_range("2024-01-01", periods=6, freq="MS")

# Cohort sizes and, per cohort, active customers in months 0, 1, 2, ... since acquisition,
# and revenue in each of those months (EUR).
COHORT_SIZES = [120, 95, 110, 80, 130, 60]
COHORT_ACTIVE = [
    [120, 34, 28, 25, 22, 20],
    [95, 25, 21, 18, 16],
    [110, 31, 24, 21],
    [80, 20, 17],
    [130, 36],
    [60],
]
COHORT_REVENUE = [
    [6120.0, 1905.5, 1580.0, 1402.25, 1250.0, 1130.0],
    [4750.0, 1410.0, 1185.5, 1020.0, 905.0],
    [5720.0, 1735.0, 1350.0, 1190.0],
    [4080.0, 1130.0, 960.0],
    [6890.0, 2010.0],
    [3060.0],
]


def cohorts_frame() -> pd.DataFrame:
    rows = []
    for cohort, size, active, revenue in zip(
        MONTHS, COHORT_SIZES, COHORT_ACTIVE, COHORT_REVENUE, strict=True
    ):
        cumulative = 0.0
        for period, (act, rev) in enumerate(zip(active, revenue, strict=True)):
            cumulative += rev
            rows.append(
                {
                    "cohort": cohort.date(),
                    "period": period,
                    "cohort_size": size,
                    "active_customers": act,
                    "active_share": act / size,
                    "revenue": rev,
                    "cumulative_revenue_per_customer": round(cumulative / size, 2),
                }
            )
    return pd.DataFrame(rows)


def sample_analysis() -> StoreAnalysis:
    """Return the analysis of a small made-up shop, with every field filled."""
    kpis_by_period = pd.DataFrame(
        {
            "period_start": [m.date() for m in MONTHS],
            "customers": [120, 129, 161, 134, 185, 127],
            "new_customers": [120, 95, 110, 80, 130, 60],
            "returning_customers": [0, 34, 51, 54, 55, 67],
            "orders": [131, 142, 180, 151, 207, 142],
            "revenue": [6120.0, 6655.5, 8885.0, 7912.5, 10685.25, 8005.0],
            "aov": [46.72, 46.87, 49.36, 52.4, 51.62, 56.37],
            "repeat_purchase_rate": [0.06, 0.11, 0.14, 0.17, 0.16, 0.21],
        }
    )
    retention = pd.DataFrame(
        {
            "horizon_days": [30, 90, 365],
            "customers_at_start": [480, 395, 120],
            "retained_customers": [137, 168, 61],
            "customer_retention_rate": [137 / 480, 168 / 395, 61 / 120],
            "customer_churn_rate": [1 - 137 / 480, 1 - 168 / 395, 1 - 61 / 120],
            "revenue_at_start": [24110.5, 20456.0, 6120.0],
            "retained_revenue": [11250.0, 12010.0, 4205.0],
            "revenue_retention_rate": [11250 / 24110.5, 12010 / 20456, 4205 / 6120],
            "revenue_churn_rate": [1 - 11250 / 24110.5, 1 - 12010 / 20456, 1 - 4205 / 6120],
        }
    )
    historic_clv = pd.DataFrame(
        {
            "segment": ["all", "Champions", "Lost"],
            "customers": [595, 48, 120],
            "aov": [50.98, 71.2, 38.5],
            "purchase_frequency": [1.61, 4.3, 1.0],
            "lifespan_days": [61.5, 140.0, 0.0],
            "clv": [82.08, 306.16, 38.5],
        }
    )
    names = ["Champions", "Loyal", "Potential loyalist", "New customers", "Promising"]
    names += ["Need attention", "About to sleep", "At risk", "Can't lose them"]
    names += ["Hibernating", "Lost"]
    customers = [48, 61, 70, 75, 40, 35, 52, 44, 10, 40, 120]
    revenue = [9850.0, 7420.5, 4310.0, 3390.0, 1450.0, 2115.0, 2005.0, 3630.0, 1480.0]
    revenue += [1220.0, 1393.75]
    total = sum(revenue)
    rfm_segments = pd.DataFrame(
        {
            "segment": names,
            "customers": customers,
            "revenue": revenue,
            "revenue_share": [r / total for r in revenue],
            "recency_days": [9.5, 21.0, 15.2, 8.0, 25.3, 58.1, 75.0, 120.4, 140.0, 150.2, 171.0],
            "orders": [4.3, 3.1, 1.8, 1.0, 1.0, 2.2, 1.3, 2.9, 4.0, 1.2, 1.0],
        }
    )
    grid = [(r, f, 8 + 3 * r + 5 * f - (r * f) // 2) for r in range(1, 6) for f in range(1, 6)]
    rfm_grid = pd.DataFrame(grid, columns=["r_score", "f_score", "customers"])
    rfm_grid["revenue"] = rfm_grid["customers"] * 45.5
    rfm_transitions = pd.DataFrame(
        [
            ("Champions", "Champions", 35),
            ("Champions", "Loyal", 8),
            ("Loyal", "Champions", 10),
            ("Loyal", "Loyal", 40),
            ("Loyal", "At risk", 9),
            ("New customers", "Potential loyalist", 22),
            ("New customers", "About to sleep", 31),
            ("Potential loyalist", "Loyal", 11),
            ("At risk", "Can't lose them", 4),
            ("At risk", "Lost", 14),
            ("Hibernating", "Lost", 19),
            ("Lost", "Lost", 80),
        ],
        columns=["from_segment", "to_segment", "customers"],
    )
    segments = pd.DataFrame(
        {
            "segment": ["vip", "lapsed <90d & big"],
            "description": ["Spent over €500 in total", "No order for 90 days, spent > €200"],
            "customers": [23, 17],
            "revenue": [14210.0, 4105.5],
        }
    )
    orders_per_customer = pd.DataFrame(
        {"orders": list(range(1, 11)), "customers": [370, 110, 48, 25, 14, 10, 7, 4, 3, 4]}
    )
    days_between_orders = pd.DataFrame(
        {"days_bucket": [0, 7, 14, 30, 60, 90, 180], "gaps": [35, 62, 88, 97, 54, 31, 9]}
    )
    return StoreAnalysis(
        store="Tea & Biscuits <Test> Shop",
        currency="EUR",
        as_of=date(2024, 6, 30),
        first_order_day=date(2024, 1, 2),
        definitions={
            "active": "A customer is active in a month when they ordered in it.",
            "churn": "A customer churned at horizon H when they made no order within H days.",
            "repeat_purchase_rate": "Share of customers with 2 or more purchase days.",
        },
        kpis={
            "customers": 595,
            "new_customers": 595,
            "returning_customers": 153,
            "orders": 953,
            "revenue": 48263.25,
            "aov": 50.64,
            "aov_first": 47.9,
            "aov_repeat": 55.02,
            "purchase_frequency": 1.6,
            "repeat_purchase_rate": 0.378,
            "returning_revenue_share": 0.351,
            "median_days_to_second_order": 34.0,
            "median_days_between_orders": 27.5,
        },
        kpis_by_period=kpis_by_period,
        retention=retention,
        historic_clv=historic_clv,
        cohorts=cohorts_frame(),
        rfm_segments=rfm_segments,
        rfm_grid=rfm_grid,
        rfm_transitions=rfm_transitions,
        transition_from=date(2024, 3, 31),
        segments=segments,
        orders_per_customer=orders_per_customer,
        days_between_orders=days_between_orders,
    )


def empty_analysis() -> StoreAnalysis:
    """Return the analysis of a store with no orders: every frame empty."""
    return StoreAnalysis(
        store="Empty shop", currency="USD", as_of=date(2024, 6, 30), first_order_day=None
    )


SECTION_IDS = [
    "kpis",
    "churn",
    "cohorts",
    "ltv",
    "predictions",
    "rfm",
    "transitions",
    "segments",
    "distributions",
    "actions",
    "definitions",
]


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class ReportParser(HTMLParser):
    """Collect the sections, the charts and their marks; check that tags balance."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.sections: list[str] = []
        self.charts: dict[str, int] = {}
        self.empties = 0
        self._chart: str | None = None
        self._chart_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if self._chart is not None and tag == "svg" and len(self.stack) < self._chart_depth:
            self._chart = None

    def _element(self, tag: str, attrs: dict[str, str | None]) -> None:
        classes = (attrs.get("class") or "").split()
        if tag == "section":
            self.sections.append(attrs.get("id") or "")
        if "empty" in classes:
            self.empties += 1
        if tag == "svg" and "chart" in classes:
            name = attrs.get("data-chart") or ""
            assert name not in self.charts, f"two charts named {name}"
            self.charts[name] = 0
            self._chart, self._chart_depth = name, len(self.stack) + 1
        elif self._chart is not None and "mark" in classes:
            self.charts[self._chart] += 1


def parse_report(html: str) -> ReportParser:
    """Parse a report; fail when tags do not balance."""
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert not parser.stack, f"unclosed tags: {parser.stack}"
    return parser
