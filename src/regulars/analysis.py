"""The analysis of a store, computed once and shared by the report, ``--json`` and the CLI.

:func:`analyze` runs the analytics expressions (:mod:`regulars.analytics`) on an engine
and collects plain results in a :class:`StoreAnalysis`: pandas data frames with the columns
documented below, and scalars. The report renders it; ``--json`` serializes it. Money
columns are floats rounded to the cent at this edge (the analytics keep exact decimals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

__all__ = ["StoreAnalysis"]


@dataclass
class StoreAnalysis:
    """Everything the report shows, for one store, one currency and one ``as_of`` date.

    Attributes
    ----------
    store
        A name for the store (the workspace file or the source).
    currency
        ISO 4217 code of every money figure.
    as_of
        The analysis date: nothing after it was seen.
    first_order_day
        The first sale in the data.
    definitions
        Name -> the definition used, in words (churn, active, repeat rate, CLV formula...).
    kpis
        Headline KPIs, name -> value: customers, new_customers, returning_customers, orders,
        revenue, aov, aov_first, aov_repeat, purchase_frequency, repeat_purchase_rate,
        returning_revenue_share, median_days_to_second_order, median_days_between_orders.
    kpis_by_period
        One row per month: period_start (date) and the same KPI columns (for the period).
    retention
        One row per horizon: horizon_days, customers_at_start, retained_customers,
        customer_retention_rate, customer_churn_rate, revenue_at_start, retained_revenue,
        revenue_retention_rate, revenue_churn_rate.
    historic_clv
        One row per segment ("all" first): segment, customers, aov, purchase_frequency,
        lifespan_days, clv.
    cohorts
        Long format: cohort (date, first day of the acquisition month), period (int, months
        since acquisition), cohort_size, active_customers, active_share, revenue,
        cumulative_revenue_per_customer.
    rfm_segments
        One row per named RFM segment: segment, customers, revenue, revenue_share,
        recency_days (mean), orders (mean).
    rfm_grid
        r_score x f_score counts: r_score, f_score, customers, revenue.
    rfm_transitions
        from_segment, to_segment, customers (between ``transition_from`` and ``as_of``).
    segments
        One row per declared segment: segment, description, customers, revenue.
    orders_per_customer
        Distribution: orders (1, 2, ..., with the last bucket "10+" as 10), customers.
    days_between_orders
        Distribution: days_bucket (lower bound, in days), gaps (count of gaps between
        consecutive purchase days).
    customers
        The customer table (one row per customer), see :mod:`regulars.analytics.customers`.
    extra
        Anything else a section wants to carry (kept out of the typed fields).
    """

    store: str
    currency: str
    as_of: date
    first_order_day: date | None
    definitions: dict[str, str] = field(default_factory=dict)
    kpis: dict[str, float | int | None] = field(default_factory=dict)
    kpis_by_period: pd.DataFrame = field(default_factory=pd.DataFrame)
    retention: pd.DataFrame = field(default_factory=pd.DataFrame)
    historic_clv: pd.DataFrame = field(default_factory=pd.DataFrame)
    cohorts: pd.DataFrame = field(default_factory=pd.DataFrame)
    rfm_segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    rfm_grid: pd.DataFrame = field(default_factory=pd.DataFrame)
    rfm_transitions: pd.DataFrame = field(default_factory=pd.DataFrame)
    transition_from: date | None = None
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    orders_per_customer: pd.DataFrame = field(default_factory=pd.DataFrame)
    days_between_orders: pd.DataFrame = field(default_factory=pd.DataFrame)
    customers: pd.DataFrame = field(default_factory=pd.DataFrame)
    extra: dict[str, Any] = field(default_factory=dict)
