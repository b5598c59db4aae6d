"""Lifetime value: cumulative revenue per customer by cohort, and the historic CLV table."""

from __future__ import annotations

import pandas as pd

from regulars.analysis import StoreAnalysis
from regulars.report._html import (
    Section,
    complete,
    empty,
    figure,
    paragraph,
    rows_of,
    table,
    usable,
)
from regulars.report.charts import line_chart
from regulars.report.format import fmt_count, fmt_days, fmt_money, fmt_number
from regulars.report.sections.kpis import month_label

__all__ = ["MAX_CURVES", "render"]

MAX_CURVES = 8
"""The most cohort curves drawn; with more cohorts, evenly spaced ones are picked."""


def _pick(cohorts: list[pd.Timestamp]) -> list[pd.Timestamp]:
    if len(cohorts) <= MAX_CURVES:
        return cohorts
    step = (len(cohorts) - 1) / (MAX_CURVES - 1)
    return [cohorts[round(i * step)] for i in range(MAX_CURVES)]


def _curves(analysis: StoreAnalysis) -> str:
    columns = ["cohort", "period", "cohort_size", "cumulative_revenue_per_customer"]
    frame = complete(analysis.cohorts, columns, ["cohort", "period", "cohort_size"])
    if frame is None:
        return empty("No cohorts yet: no lifetime value to draw.")
    frame = frame.copy()
    frame["cohort"] = pd.to_datetime(frame["cohort"])
    periods = list(range(int(frame["period"].max()) + 1))
    weighted = frame.assign(w=frame["cumulative_revenue_per_customer"] * frame["cohort_size"])
    sums = weighted.groupby("period")[["w", "cohort_size"]].sum().reindex(periods)
    overall = list(sums["w"] / sums["cohort_size"].where(sums["cohort_size"] > 0))
    series: list[tuple[str, list[float | None]]] = [("All cohorts", overall)]
    cohorts = sorted(frame["cohort"].unique())
    for cohort in _pick(cohorts):
        one = frame[frame["cohort"] == cohort].set_index("period")
        values = one["cumulative_revenue_per_customer"].reindex(periods)
        series.append((month_label(cohort), [None if pd.isna(v) else float(v) for v in values]))
    money = analysis.currency
    svg = line_chart(
        "ltv",
        [float(p) for p in periods],
        series,
        title="Cumulative revenue per customer, by cohort",
        x_label="Months since first order",
        y_label=f"Cumulative revenue per customer ({money})",
        x_format=lambda x: f"{x:.0f}" if x == int(x) else "",
        value_format=lambda v: fmt_money(v, money),
        highlight="All cohorts",
    )
    shown = "" if len(cohorts) <= MAX_CURVES else f" ({MAX_CURVES} of {len(cohorts):,} cohorts)"
    return figure(
        svg,
        f"Revenue per customer of each cohort{shown}, summed from the first order; "
        "'All cohorts' averages the cohorts that reached each month, weighted by size.",
    )


def _historic(analysis: StoreAnalysis) -> str:
    columns = ["segment", "customers", "aov", "purchase_frequency", "lifespan_days", "clv"]
    if not usable(analysis.historic_clv, columns):
        return ""
    money = analysis.currency
    rows = [
        [
            str(r["segment"]),
            fmt_count(r["customers"]),
            fmt_money(r["aov"], money),
            fmt_number(r["purchase_frequency"], 2),
            fmt_days(r["lifespan_days"]),
            fmt_money(r["clv"], money),
        ]
        for r in rows_of(analysis.historic_clv)
    ]
    headers = ["Segment", "Customers", "Average order", "Orders per customer", "Lifespan", "CLV"]
    return "<h3>Historic customer lifetime value</h3>" + table(headers, rows)


def render(analysis: StoreAnalysis) -> Section:
    """Return the lifetime value section."""
    intro = paragraph(
        "How much a customer brings, on average, in the months after the first order. "
        "Curves that keep rising mean customers keep coming back."
    )
    return Section("ltv", "Lifetime value", intro + _curves(analysis) + _historic(analysis))
