"""Headline KPIs, each with its monthly trend as a sparkline, and revenue and customers by month."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, complete, empty, figure
from regulars.report._svg import esc
from regulars.report.charts import line_chart, sparkline
from regulars.report.format import (
    fmt_count,
    fmt_days,
    fmt_money,
    fmt_number,
    fmt_pct,
    is_missing,
)

__all__ = ["KPI_LABELS", "month_label", "render"]

KPI_LABELS: dict[str, tuple[str, str]] = {
    "customers": ("Customers", "count"),
    "new_customers": ("New customers", "count"),
    "returning_customers": ("Returning customers", "count"),
    "orders": ("Orders", "count"),
    "revenue": ("Revenue", "money"),
    "aov": ("Average order value", "money"),
    "aov_first": ("Average first order", "money"),
    "aov_repeat": ("Average repeat order", "money"),
    "purchase_frequency": ("Orders per customer", "number"),
    "repeat_purchase_rate": ("Repeat-purchase rate", "pct"),
    "returning_revenue_share": ("Revenue from returning customers", "pct"),
    "median_days_to_second_order": ("Median days to 2nd order", "days"),
    "median_days_between_orders": ("Median days between orders", "days"),
}
"""KPI name -> (label, kind of number)."""


def formatter(kind: str, currency: str) -> Callable[[Any], str]:
    """Return the formatter for a kind of number (count, money, pct, number, days)."""
    if kind == "money":
        return lambda v: fmt_money(v, currency)
    return {"count": fmt_count, "pct": fmt_pct, "days": fmt_days}.get(kind, fmt_number)


def month_label(value: Any) -> str:
    """Return ``YYYY-MM`` for a date or timestamp."""
    if is_missing(value):
        return "?"
    return str(pd.Timestamp(value).strftime("%Y-%m"))


def _card(
    key: str, value: Any, analysis: StoreAnalysis, frame: pd.DataFrame, months: list[str]
) -> str:
    label, kind = KPI_LABELS.get(key, (key.replace("_", " ").capitalize(), "number"))
    fmt = formatter(kind, analysis.currency)
    trend = ""
    if months and key in frame.columns and frame[key].notna().sum() >= 2:
        values = [None if is_missing(v) else float(v) for v in frame[key]]
        spark = sparkline(f"kpi-{key}", values, title=f"{label} by month", fmt=fmt)
        last = next(v for v in reversed(values) if v is not None)
        trend = (
            f'<div class="spark">{spark}</div><div class="trend">monthly, {esc(months[0])} to '
            f"{esc(months[-1])}; latest {esc(fmt(last))}</div>"
        )
    return (
        f'<div class="kpi"><div class="kpi-label">{esc(label)}</div>'
        f'<div class="kpi-value">{esc(fmt(value))}</div>{trend}</div>'
    )


def _monthly_charts(analysis: StoreAnalysis, frame: pd.DataFrame, months: list[str]) -> str:
    xs = [float(i) for i in range(len(months))]

    def x_format(x: float) -> str:
        return months[int(x)] if x == int(x) and 0 <= x < len(months) else ""

    parts = []
    if "revenue" in frame.columns and frame["revenue"].notna().any():
        svg = line_chart(
            "revenue-by-month",
            xs,
            [("Revenue", list(frame["revenue"]))],
            title="Revenue by month",
            x_label="Month",
            y_label=f"Revenue ({analysis.currency})",
            x_format=x_format,
            value_format=lambda v: fmt_money(v, analysis.currency),
        )
        parts.append(figure(svg, f"Revenue per month, in {analysis.currency}."))
    series = [
        (KPI_LABELS[c][0], list(frame[c]))
        for c in ("new_customers", "returning_customers")
        if c in frame.columns and frame[c].notna().any()
    ]
    if series:
        svg = line_chart(
            "customers-by-month",
            xs,
            series,
            title="New and returning customers by month",
            x_label="Month",
            y_label="Customers",
            x_format=x_format,
            value_format=fmt_count,
        )
        parts.append(figure(svg, "Customers who ordered in each month: new and returning."))
    return "".join(parts)


def render(analysis: StoreAnalysis) -> Section:
    """Return the headline KPIs section."""
    kpis = dict(analysis.kpis)
    if not kpis:
        return Section("kpis", "Headline numbers", empty("No orders yet: nothing to measure."))
    months: list[str] = []
    frame = pd.DataFrame()
    kept = complete(analysis.kpis_by_period, ["period_start"], ["period_start"])
    if kept is not None:
        frame = kept.sort_values("period_start").reset_index(drop=True)
        months = [month_label(v) for v in frame["period_start"]]
    ordered = [k for k in KPI_LABELS if k in kpis] + [k for k in kpis if k not in KPI_LABELS]
    cards = "".join(_card(k, kpis[k], analysis, frame, months) for k in ordered)
    body = f'<div class="kpis">{cards}</div>'
    if len(months) >= 2:
        body += _monthly_charts(analysis, frame, months)
    else:
        body += empty("Less than two months of data: no monthly trend to show yet.")
    return Section("kpis", "Headline numbers", body)
