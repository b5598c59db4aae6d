"""Distributions: orders per customer, and days between consecutive orders."""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, complete, empty, figure
from regulars.report.charts import bar_chart
from regulars.report.format import fmt_count

__all__ = ["bucket_labels", "render"]


def bucket_labels(lower_bounds: list[int]) -> list[str]:
    """Label buckets from their lower bounds: ``0-6``, ``7-13``, ..., the last ``28+``."""
    labels = []
    for i, low in enumerate(lower_bounds):
        if i + 1 == len(lower_bounds):
            labels.append(f"{low:,}+")
        elif lower_bounds[i + 1] - low == 1:
            labels.append(f"{low:,}")
        else:
            labels.append(f"{low:,}–{lower_bounds[i + 1] - 1:,}")
    return labels


def _orders(analysis: StoreAnalysis) -> str:
    frame = complete(analysis.orders_per_customer, ["orders", "customers"], ["orders"])
    if frame is None:
        return empty("No customers yet: no orders per customer to show.")
    frame = frame.sort_values("orders")
    orders = [int(o) for o in frame["orders"]]
    categories = [f"{o}+" if o == 10 else str(o) for o in orders]
    svg = bar_chart(
        "orders-per-customer",
        categories,
        [("Customers", list(frame["customers"]))],
        title="Customers by number of orders",
        x_label="Orders per customer",
        y_label="Customers",
        value_format=fmt_count,
    )
    return figure(svg, "How many customers ordered once, twice, and so on.")


def _gaps(analysis: StoreAnalysis) -> str:
    frame = complete(analysis.days_between_orders, ["days_bucket", "gaps"], ["days_bucket"])
    if frame is None or not frame["gaps"].sum() > 0:
        return empty("No repeat customers yet: no time between orders to show.")
    frame = frame.sort_values("days_bucket")
    svg = bar_chart(
        "days-between-orders",
        bucket_labels([int(b) for b in frame["days_bucket"]]),
        [("Gaps", list(frame["gaps"]))],
        title="Days between consecutive orders",
        x_label="Days between consecutive purchase days",
        y_label="Number of gaps",
        value_format=fmt_count,
    )
    return figure(svg, "How long customers wait between one purchase day and the next.")


def render(analysis: StoreAnalysis) -> Section:
    """Return the distributions section: two bar charts."""
    body = (
        "<h3>Orders per customer</h3>"
        + _orders(analysis)
        + "<h3>Days between orders</h3>"
        + _gaps(analysis)
    )
    return Section("distributions", "Orders per customer and time between orders", body)
