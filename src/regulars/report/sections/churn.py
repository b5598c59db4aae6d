"""Churn by customers and by revenue: the retention table and churn rates per horizon."""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.report._html import (
    Section,
    complete,
    empty,
    figure,
    paragraph,
    rows_of,
    table,
)
from regulars.report.charts import bar_chart
from regulars.report.format import fmt_count, fmt_money, fmt_pct

__all__ = ["render"]

COLUMNS = [
    "horizon_days",
    "customers_at_start",
    "retained_customers",
    "customer_retention_rate",
    "customer_churn_rate",
]


def _pct_tick(value: float) -> str:
    return f"{value * 100:.0f}%"


def render(analysis: StoreAnalysis) -> Section:
    """Return the churn section: customers and revenue kept and lost, per horizon."""
    title = "Churn by customers and by revenue"
    frame = complete(analysis.retention, COLUMNS, ["horizon_days"])
    if frame is None:
        return Section(
            "churn", title, empty("Not enough history to measure churn: no horizon has started.")
        )
    frame = frame.sort_values("horizon_days")
    money = analysis.currency
    has_revenue = "revenue_churn_rate" in frame.columns
    headers = ["Horizon", "Customers at start", "Retained", "Customer retention", "Customer churn"]
    if has_revenue:
        headers += ["Revenue at start", "Retained revenue", "Revenue retention", "Revenue churn"]
    rows = []
    for row in rows_of(frame):
        cells = [
            f"{fmt_count(row['horizon_days'])} days",
            fmt_count(row["customers_at_start"]),
            fmt_count(row["retained_customers"]),
            fmt_pct(row["customer_retention_rate"]),
            fmt_pct(row["customer_churn_rate"]),
        ]
        if has_revenue:
            cells += [
                fmt_money(row.get("revenue_at_start"), money),
                fmt_money(row.get("retained_revenue"), money),
                fmt_pct(row.get("revenue_retention_rate")),
                fmt_pct(row.get("revenue_churn_rate")),
            ]
        rows.append(cells)
    categories = [f"{fmt_count(h)} days" for h in frame["horizon_days"]]
    series = [("Customer churn", list(frame["customer_churn_rate"]))]
    if has_revenue:
        series.append(("Revenue churn", list(frame["revenue_churn_rate"])))
    svg = bar_chart(
        "churn",
        categories,
        series,
        title="Churn rate by horizon, by customers and by revenue",
        x_label="Horizon (days without an order)",
        y_label="Churn rate (%)",
        y_format=_pct_tick,
        value_format=fmt_pct,
        height=300,
    )
    intro = paragraph(
        "For each horizon: of the customers (and the revenue they brought) in the window "
        "before it, the share that did not come back within it. When revenue churn is "
        "lower than customer churn, the customers who leave are the smaller ones."
    )
    body = (
        intro
        + figure(svg, "Churn rate per horizon: customers lost, and revenue lost.")
        + table(headers, rows)
    )
    return Section("churn", title, body)
