"""The parity suite: analytics expressions that must give identical results on every engine.

Each :class:`ParityCase` builds one Ibis table expression from the canonical tables and an
``as_of`` date; ``tests/engines/test_parity.py`` runs every case on DuckDB and on Spark and
compares the results (counts exact, money to the cent). To add an analytics function, append
a case whose ``keys`` identify a row uniquely (they are used to sort both results).

The cases besides ``customer_summary`` follow ARCHITECTURE.md's portable forms: months as
``year * 12 + month``, day differences on ``date()``, ranks on integer cents with a tie-breaker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from regulars.analytics import clv, cohorts, customers, distributions, holdout, kpis, retention, rfm
from regulars.analytics import segments as seg
from regulars.analytics.churn_features import churn_features
from regulars.analytics.summary import as_of_bounds, customer_summary, sales

Tables = Mapping[str, ir.Table]


@dataclass(frozen=True)
class ParityCase:
    """One expression of the suite: a name, how to build it, and the columns keying a row."""

    name: str
    build: Callable[[Tables, date], ir.Table]
    keys: tuple[str, ...]
    may_be_empty: bool = False
    """True when a store may give no rows (customer_activity on a store without events)."""
    mid_history: bool = True
    """Also run it at a date in the middle of the data (the slowest cases run once, at the end)."""


def _summary(t: Tables, as_of: date) -> ir.Table:
    return customer_summary(t["orders"], t["refunds"], as_of=as_of)


def _month(ts: ir.TimestampValue) -> ir.IntegerValue:
    return ts.year() * 12 + ts.month()


def _sales_by_currency(t: Tables, as_of: date) -> ir.Table:
    sold = sales(t["orders"], as_of)
    return sold.group_by("currency").aggregate(
        orders=_.count(),
        customers=_.customer_id.nunique(),
        guest_orders=_.customer_id.isnull().ifelse(1, 0).sum(),
        gross_revenue=_.total.sum(),
        subtotal=_.subtotal.sum(),
        discounts=_.discount_total.sum(),
        shipping=_.shipping_total.sum(),
        tax=_.tax_total.sum(),
        first_order_at=_.ordered_at.min(),
        last_order_at=_.ordered_at.max(),
        order_days=_.order_day.nunique(),
    )


def _refunds_by_currency(t: Tables, as_of: date) -> ir.Table:
    refunds = t["refunds"]
    kept = refunds.filter(refunds.refunded_at < as_of_bounds(as_of))
    return kept.group_by("currency").aggregate(
        refunds=_.count(),
        refunded=_.amount.sum(),
        orders_refunded=_.order_id.nunique(),
        largest=_.amount.max(),
    )


def _order_status(t: Tables, as_of: date) -> ir.Table:
    orders = t["orders"]
    kept = orders.filter(orders.ordered_at < as_of_bounds(as_of))
    return kept.group_by(["currency", "status"]).aggregate(
        orders=_.count(),
        total=_.total.sum(),
        with_codes=(_.discount_codes.length() > 0).ifelse(1, 0).sum(),
    )


def _monthly_sales(t: Tables, as_of: date) -> ir.Table:
    sold = sales(t["orders"], as_of)
    return (
        sold.mutate(month=_month(sold.ordered_at))
        .group_by(["currency", "month"])
        .aggregate(orders=_.count(), customers=_.customer_id.nunique(), revenue=_.total.sum())
    )


def _cohort_counts(t: Tables, as_of: date) -> ir.Table:
    sold = sales(t["orders"], as_of).filter(_.customer_id.notnull())
    sold = sold.mutate(month=_month(sold.ordered_at))
    firsts = sold.group_by("customer_id").aggregate(cohort=_.month.min())
    return (
        sold.join(firsts, "customer_id")
        .mutate(period=_.month - _.cohort)
        .group_by(["cohort", "period"])
        .aggregate(customers=_.customer_id.nunique(), revenue=_.total.sum())
    )


def _frequency_distribution(t: Tables, as_of: date) -> ir.Table:
    summary = _summary(t, as_of)
    return summary.group_by("frequency").aggregate(
        customers=_.count(),
        revenue=_.revenue.sum(),
        refunded=_.refunded.sum(),
        recency_days=_.recency_days.sum(),
        t_days=_.t_days.sum(),
        monetary_value=_.monetary_value.sum(),
    )


def _top_customers(t: Tables, as_of: date) -> ir.Table:
    summary = _summary(t, as_of)
    cents = (summary.revenue * 100).round().cast("int64")
    ranked = summary.select("customer_id", cents=cents).mutate(
        rank=ibis.row_number().over(order_by=[ibis.desc("cents"), "customer_id"])
    )
    return ranked.filter(ranked["rank"] < 200).select(
        "customer_id",
        "cents",
        "rank",
        decile=ibis.ntile(10).over(order_by=["cents", "customer_id"]),
    )


def _lines_by_category(t: Tables, as_of: date) -> ir.Table:
    sold = sales(t["orders"], as_of).select("order_id", "currency")
    lines = t["order_lines"].join(sold, "order_id")
    return lines.group_by(["currency", "category"]).aggregate(
        lines=_.count(),
        orders=_.order_id.nunique(),
        products=_.product_id.nunique(),
        quantity=_.quantity.sum(),
        line_total=_.line_total.sum(),
    )


def _table_counts(t: Tables, as_of: date) -> ir.Table:
    del as_of
    customers = t["customers"]
    events = t["events"]
    counts = [t[name].aggregate(rows=_.count()).mutate(table=ibis.literal(name)) for name in t]
    emails = customers.aggregate(rows=customers.email.notnull().ifelse(1, 0).sum())
    counts.append(emails.mutate(table=ibis.literal("customers.email")))
    by_type = events.group_by("type").aggregate(rows=_.count())
    counts.append(by_type.mutate(table=ibis.literal("events: ") + by_type.type))
    return ibis.union(*[c.select("table", rows=c.rows.cast("int64")) for c in counts])


# -- the analytics modules, each function as the report calls it ---------------------------
def _args(t: Tables) -> tuple[ir.Table, ir.Table]:
    return t["orders"], t["refunds"]


def _customer_table(t: Tables, as_of: date) -> ir.Table:
    return customers.customer_table(
        *_args(t), t["order_lines"], t["customers"], t["events"], as_of=as_of
    )


def _rfm_scores(t: Tables, as_of: date) -> ir.Table:
    return rfm.rfm_scores(_summary(t, as_of))


_ANALYTICS_CASES: list[ParityCase] = [
    ParityCase(
        "kpis.overall_kpis", lambda t, d: kpis.overall_kpis(*_args(t), as_of=d), ("orders",)
    ),
    ParityCase(
        "kpis.kpis_by_period",
        lambda t, d: kpis.kpis_by_period(*_args(t), as_of=d),
        ("period_start",),
    ),
    ParityCase(
        "kpis.order_facts", lambda t, d: kpis.order_facts(*_args(t), as_of=d), ("order_id",)
    ),
    ParityCase(
        "retention.retention",
        lambda t, d: retention.retention(*_args(t), as_of=d),
        ("horizon_days",),
    ),
    ParityCase(
        "retention.churn_by_threshold",
        lambda t, d: retention.churn_by_threshold(*_args(t), as_of=d),
        ("threshold_days",),
    ),
    ParityCase(
        "retention.churn_threshold_days",
        lambda t, d: retention.churn_threshold_days(*_args(t), as_of=d).name("days").as_table(),
        ("days",),
    ),
    ParityCase(
        "distributions.orders_per_customer",
        lambda t, d: distributions.orders_per_customer(*_args(t), as_of=d),
        ("orders",),
    ),
    ParityCase(
        "distributions.days_between_orders",
        lambda t, d: distributions.days_between_orders(*_args(t), as_of=d),
        ("days_bucket",),
    ),
    ParityCase(
        "cohorts.acquisition",
        lambda t, d: cohorts.acquisition(t["orders"], t["order_lines"], t["customers"], as_of=d),
        ("customer_id",),
    ),
    ParityCase(
        "cohorts.cohort_matrix",
        lambda t, d: cohorts.cohort_matrix(*_args(t), t["order_lines"], t["customers"], as_of=d),
        ("cohort", "period"),
    ),
    ParityCase("clv.historic_clv", lambda t, d: clv.historic_clv(*_args(t), as_of=d), ("segment",)),
    ParityCase("rfm.rfm_scores", _rfm_scores, ("customer_id",)),
    ParityCase(
        "rfm.rfm_segment_summary",
        lambda t, d: rfm.rfm_segment_summary(_rfm_scores(t, d)),
        ("segment",),
    ),
    ParityCase(
        "rfm.rfm_grid", lambda t, d: rfm.rfm_grid(_rfm_scores(t, d)), ("r_score", "f_score")
    ),
    ParityCase(
        "rfm.rfm_transitions",
        lambda t, d: rfm.rfm_transitions(*_args(t), start=d - timedelta(days=180), end=d),
        ("from_segment", "to_segment"),
    ),
    ParityCase(
        "customers.top_categories",
        lambda t, d: customers.top_categories(t["orders"], t["order_lines"], as_of=d),
        ("customer_id",),
        may_be_empty=True,  # Online Retail has no categories
    ),
    ParityCase(
        "customers.customer_activity",
        lambda t, d: customers.customer_activity(t["events"], as_of=d),
        ("customer_id",),
        may_be_empty=True,
    ),
    ParityCase("customers.customer_table", _customer_table, ("customer_id",)),
    ParityCase(
        "segments.segment_counts",
        lambda t, d: seg.segment_counts(_customer_table(t, d), seg.default_segments()),
        ("segment",),
    ),
    ParityCase(
        "holdout.calibration_holdout",
        lambda t, d: holdout.calibration_holdout(
            *_args(t), cutoff=d - timedelta(days=91), horizon_days=91
        ),
        ("customer_id",),
    ),
    ParityCase(
        "holdout.daily_repeat_purchases",
        lambda t, d: holdout.daily_repeat_purchases(
            t["orders"], cutoff=d - timedelta(days=91), horizon_days=91
        ),
        ("day",),
    ),
    ParityCase(
        "churn_features.churn_features",
        lambda t, d: churn_features(
            t["orders"], t["refunds"], t["events"], as_of=d, lines=t["order_lines"]
        ),
        ("customer_id",),
    ),
]
ANALYTICS_CASES = [replace(case, mid_history=False) for case in _ANALYTICS_CASES]
"""The analytics modules' functions (what the report shows), run at the end of the data."""

PARITY_SUITE: list[ParityCase] = [
    ParityCase("customer_summary", _summary, ("customer_id",)),
    ParityCase("sales_by_currency", _sales_by_currency, ("currency",)),
    ParityCase("refunds_by_currency", _refunds_by_currency, ("currency",)),
    ParityCase("order_status", _order_status, ("currency", "status")),
    ParityCase("monthly_sales", _monthly_sales, ("currency", "month")),
    ParityCase("cohort_counts", _cohort_counts, ("cohort", "period")),
    ParityCase("frequency_distribution", _frequency_distribution, ("frequency",)),
    ParityCase("top_customers", _top_customers, ("customer_id",)),
    ParityCase("lines_by_category", _lines_by_category, ("currency", "category")),
    ParityCase("table_counts", _table_counts, ("table",)),
    *ANALYTICS_CASES,
]
"""Every case the parity test runs, in order."""
