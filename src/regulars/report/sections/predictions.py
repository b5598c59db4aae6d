"""Predictions: the model chosen and why, expected orders and CLV, P(alive), who is at risk."""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.models.units import horizon_label
from regulars.report._html import Section, empty, figure, paragraph, table
from regulars.report.charts import bar_chart
from regulars.report.format import fmt_count, fmt_money, fmt_number, fmt_pct

__all__ = ["render"]


def _model(analysis: StoreAnalysis) -> str:
    p = analysis.predictions
    assert p is not None
    rows = [
        [
            str(row["parameter"]),
            fmt_number(row["estimate"], 4),
            fmt_number(row["standard_error"], 4),
            f"{fmt_number(row['lower'], 4)} – {fmt_number(row['upper'], 4)}",
        ]
        for row in p.params
    ]
    html = paragraph(f"Model: {p.model_reason}.")
    html += table(["Parameter (days)", "Estimate", "Standard error", "95% interval"], rows)
    scored = [c for c in p.selection if c.get("mae") is not None]
    if scored:
        rows = [
            [
                str(c["model"]),
                fmt_number(c["mae"], 4),
                fmt_number(c["rmse"], 4),
                fmt_pct(c["bias"]),
            ]
            for c in scored
        ]
        html += "<h3>Models compared on the store's own last horizon</h3>"
        html += table(["Model", "MAE per customer", "RMSE", "Total bias"], rows)
    failed = [c for c in p.selection if c.get("error")]
    for c in failed:
        html += paragraph(f"{c['model']} was left out: {c['error']}")
    return html


def _alive(analysis: StoreAnalysis, overview: dict[str, object]) -> str:
    bands = overview["p_alive_bands"]
    assert isinstance(bands, list)
    if not bands:
        return empty("No customers to show.")
    svg = bar_chart(
        "p-alive",
        [str(b["band"]) for b in bands],
        [("Customers", [float(b["customers"]) for b in bands])],
        title="Customers by probability of still being a customer",
        x_label="P(alive)",
        y_label="Customers",
        value_format=fmt_count,
    )
    return figure(svg, "P(alive) from the model: how likely each customer still buys.")


def _at_risk(analysis: StoreAnalysis, overview: dict[str, object]) -> str:
    top = overview["top_at_risk"]
    assert isinstance(top, list)
    if not top:
        return paragraph("No valuable customer is at risk today.")
    money = analysis.currency
    rows = [
        [
            str(r["customer_id"]),
            fmt_pct(r["p_alive"]),
            fmt_pct(r["churn_risk"]),
            fmt_money(r["value_at_risk"], money),
            fmt_money(r["clv"], money),
        ]
        for r in top
    ]
    headers = ["Customer", "P(alive)", "Churn risk", "Value at risk", "Predicted CLV"]
    return "<h3>Valuable customers at risk, by value at risk</h3>" + table(headers, rows)


def render(analysis: StoreAnalysis) -> Section:
    """Return the predictions section."""
    p = analysis.predictions
    title = "Predictions"
    if p is None:
        return Section(
            "predictions",
            title,
            paragraph(
                "Predictions were not computed for this report (in Python: "
                "analyze(..., predictions=PredictionOptions()))."
            ),
        )
    overview = p.overview()
    money = analysis.currency
    span = horizon_label(p.horizon_days)
    intro = paragraph(
        f"Over the next {span}: {fmt_number(overview['expected_orders'], 0)} expected orders "
        f"from today's {fmt_count(overview['customers'])} customers, worth "
        f"{fmt_money(overview['clv'], money)} (90% interval "
        f"{fmt_money(overview['clv_low'], money)} – {fmt_money(overview['clv_high'], money)}), "
        f"discounted at {fmt_pct(p.discount_rate, 0)} a year. "
        f"{fmt_count(overview['likely_active'])} customers are more likely active than not; "
        f"{fmt_count(overview['at_risk_customers'])} valuable customers are at risk, "
        f"{fmt_money(overview['value_at_risk'], money)} of revenue. Churn risk: "
        f"{p.churn_reason}."
    )
    body = intro + _model(analysis) + _alive(analysis, overview) + _at_risk(analysis, overview)
    return Section("predictions", title, body)
