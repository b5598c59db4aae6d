"""The analysis of a store, computed once and shared by the report, ``--json`` and the CLI.

:func:`analyze` runs the analytics expressions (:mod:`regulars.analytics`) on an engine
and collects plain results in a :class:`StoreAnalysis`: pandas data frames with the columns
documented below, and scalars. The report renders it; ``--json`` serializes it. Money
columns are floats rounded to the cent at this edge (the analytics keep exact decimals).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from regulars.analytics import clv, distributions, kpis, retention
from regulars.analytics.cohorts import cohort_matrix
from regulars.analytics.customers import customer_table
from regulars.analytics.rfm import rfm_grid, rfm_scores, rfm_segment_summary, rfm_transitions
from regulars.analytics.segments import default_segments, segment_counts
from regulars.analytics.summary import customer_summary
from regulars.errors import InputError
from regulars.recommend.summary import (
    RecommendationSummary,
    recommendation_definitions,
    recommendation_summary,
)

if TYPE_CHECKING:
    from regulars.predict import PredictionOptions, Predictions

__all__ = ["StoreAnalysis", "analysis_to_json", "analyze"]


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
    predictions
        The per-customer predictions (:func:`regulars.predict.predict`), when asked for.
    recommendations
        What the customers will buy next (:class:`RecommendationSummary`), when asked for.
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
    predictions: Predictions | None = None
    recommendations: RecommendationSummary | None = None
    extra: dict[str, Any] = field(default_factory=dict)


RFM_DEFINITION = (
    "R = days since the last purchase day, F = orders, M = net revenue (ranked in whole "
    "cents); each scored 1-5 by exact quintiles of the rank (equal values share a score; "
    "the most recent customers get R = 5). Segments from the R x FM grid (FM = floor((F + M) "
    "/ 2)): Champions R5 FM4-5, Loyal R3-4 FM4-5, Potential loyalist R4-5 FM2-3, New "
    "customers R5 FM1, Promising R4 FM1, Need attention R3 FM3, About to sleep R3 FM1-2, "
    "Can't lose them R1-2 FM5, At risk R1-2 FM3-4, Hibernating R2 FM1-2, Lost R1 FM1-2."
)


Progress = Callable[[str], None]

FRAME_FIELDS = (
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
)
"""The data-frame fields of :class:`StoreAnalysis` that the report and ``--json`` carry."""


def _frame(expr: ir.Table) -> pd.DataFrame:
    """Execute to pandas, with exact decimals turned into floats rounded to the cent."""
    table: pa.Table = expr.to_pyarrow()
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
            columns.append(pd.Series(column.to_numpy(zero_copy_only=False), name=name).round(2))
        else:
            columns.append(column.to_pandas().rename(name))
    if not columns:
        return pd.DataFrame()
    return pd.concat(columns, axis=1)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return round(float(value), 2)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _last_sale_day(orders: ir.Table) -> date | None:
    sold = orders.filter(orders.status != "cancelled")
    value = sold.ordered_at.max().to_pyarrow().as_py()
    return value.date() if value is not None else None


def analyze(
    tables: Mapping[str, ir.Table],
    *,
    store: str,
    as_of: date | None = None,
    currency: str | None = None,
    transition_days: int = 30,
    include_customers: bool = False,
    predictions: PredictionOptions | None = None,
    recommendations: bool | int = False,
    progress: Progress | None = None,
) -> StoreAnalysis:
    """Compute everything the report shows, on whatever engine holds ``tables``.

    Parameters
    ----------
    tables
        The canonical tables (``orders``, ``refunds``, ``order_lines``, ``customers``,
        ``events``) as Ibis tables of one backend (DuckDB workspace, Spark, ...).
    store
        A name for the store, shown in the report.
    as_of
        The analysis date; by default the day of the last sale in the data.
    currency
        The currency to analyse; required when the store sells in several.
    transition_days
        RFM transitions are measured from ``as_of - transition_days`` to ``as_of``.
    include_customers
        Also bring the whole customer table (one row per customer) into memory, as
        ``StoreAnalysis.customers``; the report does not need it.
    predictions
        Also predict every customer (BTYD model, CLV, churn risk, at risk) with these
        options; the prediction columns join the customer table.
    recommendations
        Also recommend products to every customer (``True``: 10 each, or this many) and sum
        the lists up per RFM segment (:class:`RecommendationSummary`).
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    StoreAnalysis
        Plain results: data frames and numbers.

    Raises
    ------
    InputError
        When the store has no sales, or several currencies and none was chosen.
    """
    step = progress or (lambda _name: None)
    step("checking the data")
    orders = tables["orders"]
    if currency is None:
        currency = kpis.require_single_currency(orders)
    orders = kpis.single_currency(orders, currency)
    last_day = _last_sale_day(orders)
    if last_day is None or currency is None:
        raise InputError(
            "There are no sales to analyse" + (f" in {currency}." if currency else "."),
            fix="Import the store's orders first (regulars import FILE), or check --currency.",
        )
    as_of = as_of or last_day
    refunds = tables["refunds"].filter(tables["refunds"].currency == currency)
    lines, customers, events = tables["order_lines"], tables["customers"], tables["events"]
    first = orders.filter(orders.status != "cancelled").ordered_at.min().to_pyarrow().as_py()

    transition_from = as_of - timedelta(days=transition_days)
    result = StoreAnalysis(
        store=store,
        currency=currency,
        as_of=as_of,
        first_order_day=first.date() if first else None,
        transition_from=transition_from,
    )
    result.definitions = {
        **kpis.DEFINITIONS,
        **retention.definitions(),
        **clv.definitions(),
        "rfm": RFM_DEFINITION,
        **distributions.DEFINITIONS,
    }
    step("KPIs")
    row = kpis.overall_kpis(orders, refunds, as_of=as_of).to_pyarrow().to_pylist()
    result.kpis = {k: _plain(v) for k, v in (row[0] if row else {}).items()}
    result.kpis_by_period = _frame(kpis.kpis_by_period(orders, refunds, as_of=as_of))
    step("retention and churn")
    result.retention = _frame(retention.retention(orders, refunds, as_of=as_of))
    churn = retention.churn_by_threshold(orders, refunds, as_of=as_of).to_pyarrow().to_pylist()
    result.extra["churn_by_threshold"] = {
        k: _plain(v) for k, v in (churn[0] if churn else {}).items()
    }
    step("RFM")
    summary = customer_summary(orders, refunds, as_of=as_of)
    scores = rfm_scores(summary)
    result.rfm_segments = _frame(rfm_segment_summary(scores))
    result.rfm_grid = _frame(rfm_grid(scores))
    result.rfm_transitions = _frame(
        rfm_transitions(orders, refunds, start=transition_from, end=as_of)
    )
    step("historic CLV")
    by_segment = scores.select("customer_id", segment=scores.rfm_segment)
    result.historic_clv = _frame(
        clv.historic_clv(orders, refunds, as_of=as_of, segments=by_segment)
    )
    step("cohorts")
    result.cohorts = _frame(cohort_matrix(orders, refunds, lines, customers, as_of=as_of))
    step("distributions")
    result.orders_per_customer = _frame(
        distributions.orders_per_customer(orders, refunds, as_of=as_of)
    )
    result.days_between_orders = _frame(
        distributions.days_between_orders(orders, refunds, as_of=as_of)
    )
    step("customer table and segments")
    table = customer_table(orders, refunds, lines, customers, events, as_of=as_of)
    if include_customers:
        result.customers = _frame(table)
    result.segments = _frame(segment_counts(table, default_segments()))
    if predictions is not None:
        from regulars.predict import DEFINITIONS, predict

        result.definitions.update(DEFINITIONS)

        result.predictions = predict(
            tables,
            as_of=as_of,
            currency=currency,
            horizon_days=predictions.horizon_days,
            model=predictions.model,
            discount_rate=predictions.discount_rate,
            progress=step,
        )
        if include_customers:
            extra = result.predictions.frame.drop(columns=["p_no_order"], errors="ignore")
            result.customers = result.customers.merge(extra, on="customer_id", how="left")
    if recommendations is not False:
        k = 10 if recommendations is True else recommendations
        step("recommendations")
        result.recommendations = recommendation_summary(
            tables, by_segment, as_of=as_of, currency=currency, k=k, progress=step
        )
        if result.recommendations.unavailable is None:
            result.definitions.update(recommendation_definitions(k))
    return result


def analysis_to_json(analysis: StoreAnalysis, *, include_customers: bool = False) -> dict[str, Any]:
    """Return the analysis as plain JSON-ready data (the numbers of the report)."""

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = frame.to_dict(orient="records")
        return [{k: _json_value(v) for k, v in row.items()} for row in rows]

    out: dict[str, Any] = {
        "store": analysis.store,
        "currency": analysis.currency,
        "as_of": analysis.as_of.isoformat(),
        "first_order_day": (
            analysis.first_order_day.isoformat() if analysis.first_order_day else None
        ),
        "definitions": analysis.definitions,
        "kpis": {k: _json_value(v) for k, v in analysis.kpis.items()},
        "transition_from": (
            analysis.transition_from.isoformat() if analysis.transition_from else None
        ),
        "extra": {k: _json_value(v) for k, v in analysis.extra.items()},
    }
    for name in FRAME_FIELDS:
        out[name] = records(getattr(analysis, name))
    if analysis.predictions is not None:
        out["predictions"] = _json_value(
            {**analysis.predictions.as_dict(), **analysis.predictions.overview()}
        )
    if analysis.recommendations is not None:
        out["recommendations"] = _json_value(analysis.recommendations.as_dict())
    if include_customers:
        out["customers"] = records(analysis.customers)
    return out


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _json_value(value.tolist())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return round(float(value), 2)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is None:
        return None
    return value
