"""Cohort heatmaps: the share of each acquisition cohort active, and revenue per customer."""

from __future__ import annotations

import pandas as pd

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, complete, empty, figure, paragraph
from regulars.report.charts import heatmap
from regulars.report.format import fmt_count, fmt_number, fmt_pct
from regulars.report.sections.kpis import month_label

__all__ = ["MAX_COHORTS", "render"]

MAX_COHORTS = 36
"""The most recent cohorts shown; older ones are left out of the heatmaps."""

COLUMNS = ["cohort", "period", "cohort_size", "active_customers", "active_share", "revenue"]


def _matrix(frame: pd.DataFrame, column: str) -> list[list[float | None]]:
    wide = frame.pivot_table(index="cohort", columns="period", values=column, aggfunc="sum")
    wide = wide.reindex(columns=range(int(frame["period"].max()) + 1))
    return [[None if pd.isna(v) else float(v) for v in row] for row in wide.to_numpy()]


def _scale_max(frame: pd.DataFrame, column: str) -> float | None:
    """Return the largest value after month 0, so that month 0 does not wash out the rest."""
    later = frame.loc[frame["period"] > 0, column].dropna()
    return float(later.max()) if not later.empty and later.max() > 0 else None


def render(analysis: StoreAnalysis) -> Section:
    """Return the cohorts section: two heatmaps, cohorts down, months since acquisition across."""
    title = "Cohorts"
    frame = complete(analysis.cohorts, COLUMNS, ["cohort", "period", "cohort_size"])
    if frame is None:
        return Section("cohorts", title, empty("No cohorts yet: the store has no customers."))
    frame = frame.copy()
    frame["cohort"] = pd.to_datetime(frame["cohort"])
    cohorts = sorted(frame["cohort"].unique())
    note = ""
    if len(cohorts) > MAX_COHORTS:
        note = paragraph(f"Showing the {MAX_COHORTS} most recent of {len(cohorts):,} cohorts.")
        frame = frame[frame["cohort"].isin(cohorts[-MAX_COHORTS:])]
    sizes = frame.groupby("cohort")["cohort_size"].max().sort_index()
    rows = [f"{month_label(c)} ({fmt_count(n)})" for c, n in sizes.items()]
    cols = [str(p) for p in range(int(frame["period"].max()) + 1)]
    frame["revenue_per_customer"] = frame["revenue"] / frame["cohort_size"].where(
        frame["cohort_size"] > 0
    )
    height = 22 if len(rows) <= 24 else 16
    active = heatmap(
        "cohort-active",
        rows,
        cols,
        _matrix(frame, "active_share"),
        title="Share of each cohort active, by month since the first order",
        x_label="Months since first order",
        y_label="Cohort (customers)",
        value_format=fmt_pct,
        legend_label="Active share (%)",
        cell_height=height,
        scale_max=_scale_max(frame, "active_share"),
    )
    revenue = heatmap(
        "cohort-revenue",
        rows,
        cols,
        _matrix(frame, "revenue_per_customer"),
        title="Revenue per cohort customer, by month since the first order",
        x_label="Months since first order",
        y_label="Cohort (customers)",
        value_format=lambda v: fmt_number(v, 2),
        legend_label=f"Revenue per customer ({analysis.currency})",
        cell_height=height,
        scale_max=_scale_max(frame, "revenue_per_customer"),
    )
    intro = paragraph(
        "A cohort is the customers whose first order fell in a month (its size in brackets). "
        "Month 0 is the month of the first order; the colour scale is set by the later "
        "months, so month 0 shows in the darkest colour."
    )
    body = (
        intro
        + note
        + figure(active, "Share of the cohort's customers who ordered in each month.")
        + figure(
            revenue,
            f"Revenue in each month divided by the cohort's size, in {analysis.currency}.",
        )
    )
    return Section("cohorts", title, body)
