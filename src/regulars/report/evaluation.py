"""Render a holdout :class:`~regulars.evaluation.Evaluation` as one self-contained HTML page.

The page holds the verdict (the best model and why), the metrics of every candidate, the
conditional expectations by calibration frequency (FHL 2005, Fig. 4), the tracking chart
of cumulative repeat purchases and the definitions of every metric. Charts are inline SVG
(:mod:`regulars.report.charts`); there is no script, font or image to fetch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regulars.evaluation import Candidate, Evaluation
from regulars.models.evaluate import HoldoutMetrics
from regulars.models.units import horizon_label
from regulars.report._html import Section, empty, figure, paragraph, table
from regulars.report._svg import esc
from regulars.report.charts import bar_chart, line_chart
from regulars.report.format import (
    fmt_count,
    fmt_date,
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_tick,
)
from regulars.report.render import render_page

__all__ = ["render_evaluation", "sections"]


ACTUAL_BEFORE = "Actual, calibration"
ACTUAL_AFTER = "Actual, holdout"


def _scored(evaluation: Evaluation) -> list[Candidate]:
    return [c for c in evaluation.candidates if c.status == "ok" and c.metrics is not None]


def _metric(c: Candidate) -> HoldoutMetrics:
    assert c.metrics is not None
    return c.metrics


def _verdict(evaluation: Evaluation) -> Section:
    e = evaluation
    parts = [
        paragraph(
            f"Every model was fitted on the sales up to {fmt_date(e.cutoff)} and asked to "
            f"predict the next {horizon_label(e.horizon_days)} (to {fmt_date(e.holdout_end)}). "
            f"{fmt_count(e.customers)} customers had bought by the cutoff; they made "
            f"{fmt_count(e.calibration_repeat_purchases)} repeat purchases before it and "
            f"{fmt_count(e.holdout_purchases)} purchases in the holdout. "
            f"{fmt_count(e.new_customers)} customers first seen in the holdout are left out."
        )
    ]
    best = next((c for c in e.candidates if c.key == e.best), None)
    if best is not None:
        parts.append(f"<p><strong>Best model: {esc(best.name)}.</strong> {esc(e.best_reason)}</p>")
    else:
        parts.append(empty(e.best_reason or "No model could be scored."))
    notes = [
        f"<li><strong>{esc(c.name)}</strong>: "
        + esc(" — ".join(t for t in (c.status if c.status != "ok" else "", c.reason) if t))
        + "</li>"
        for c in e.candidates
        if c.status != "ok" or c.reason
    ]
    if notes:
        parts.append('<ul class="actions">' + "".join(notes) + "</ul>")
    return Section("verdict", "Verdict", "".join(parts))


def _row(
    label: str, scored: list[Candidate], value: Callable[[HoldoutMetrics], Any], fmt: Any
) -> list[str]:
    return [label] + [fmt(value(_metric(c))) for c in scored]


def _metrics(evaluation: Evaluation) -> Section:
    scored = _scored(evaluation)
    if not scored:
        return Section("metrics", "Metrics", empty("No candidate could be scored."))
    money = evaluation.currency

    def num(decimals: int) -> Callable[[Any], str]:
        return lambda v: fmt_number(v, decimals)

    def cash(v: Any) -> str:
        return fmt_money(v, money)

    rows = [
        _row("Customers scored", scored, lambda m: m.customers, fmt_count),
        _row("Actual purchases", scored, lambda m: m.actual_purchases, fmt_count),
        _row("Predicted purchases", scored, lambda m: m.predicted_purchases, num(1)),
        _row("Bias", scored, lambda m: m.bias, fmt_pct),
        _row("MAE per customer", scored, lambda m: m.mae, num(4)),
        _row("RMSE per customer", scored, lambda m: m.rmse, num(4)),
        _row("Correlation", scored, lambda m: m.correlation, num(3)),
        _row("Customers who bought", scored, lambda m: m.buyers, fmt_count),
        _row("AUC (buys again)", scored, lambda m: m.auc, num(3)),
        _row("Brier (buys again)", scored, lambda m: m.brier, num(4)),
        _row("Actual revenue", scored, lambda m: m.actual_revenue, cash),
        _row("Predicted revenue", scored, lambda m: m.predicted_revenue, cash),
        _row("Spearman (revenue)", scored, lambda m: m.spearman, num(3)),
        _row("Normalized Gini (revenue)", scored, lambda m: m.normalized_gini, num(3)),
    ]
    headers = ["Metric"] + [
        c.name + (" (best)" if c.key == evaluation.best else "") for c in scored
    ]
    body = table(headers, rows)
    fits = [
        [
            c.name,
            ", ".join(f"{k} = {v:.4g}" for k, v in c.params.items()),
            fmt_number(c.loglik, 1),
            fmt_number(c.fit_seconds, 2),
            c.spend_model or "–",
        ]
        for c in scored
        if c.kind == "count model"
    ]
    if fits:
        body += "<h3>Fitted parameters (time in days)</h3>" + table(
            ["Model", "Parameters", "Log-likelihood", "Seconds", "Spend per purchase"],
            fits,
            numeric=[False, False, True, True, False],
        )
    return Section("metrics", "Metrics", body)


def _conditional(evaluation: Evaluation) -> Section:
    title = "Conditional expectations"
    models = [c for c in _scored(evaluation) if _metric(c).conditional_expectation]
    if not models:
        return Section("conditional", title, empty("No count model could be scored."))
    buckets = _metric(models[0]).conditional_expectation
    rows = []
    for i, bucket in enumerate(buckets):
        row = [bucket.label, fmt_count(bucket.customers), fmt_number(bucket.actual_mean, 3)]
        row += [fmt_number(_metric(c).conditional_expectation[i].predicted_mean, 3) for c in models]
        rows.append(row)
    headers = ["Repeat purchases (calibration)", "Customers", "Actual"] + [c.name for c in models]
    series: list[tuple[str, list[float | None]]] = [
        ("Actual", [b.actual_mean for b in buckets])
    ] + [(c.name, [r.predicted_mean for r in _metric(c).conditional_expectation]) for c in models]
    chart = bar_chart(
        "conditional-expectation",
        [b.label for b in buckets],
        series,
        title="Mean holdout purchases by calibration repeat purchases, actual and predicted",
        x_label="Repeat purchases in the calibration period",
        y_label="Mean holdout purchases per customer",
        value_format=lambda v: fmt_number(v, 2),
    )
    intro = paragraph(
        "Customers grouped by how often they came back before the cutoff: what each group "
        "bought in the holdout, on average, against what each model expected "
        "(Fader, Hardie & Lee 2005, Fig. 4)."
    )
    caption = "Bars close to the actual ones mean the model reads past behaviour right."
    return Section("conditional", title, intro + table(headers, rows) + figure(chart, caption))


def _tracking(evaluation: Evaluation) -> Section:
    title = "Tracking cumulative repeat purchases"
    track = evaluation.tracking
    models = [c for c in _scored(evaluation) if len(c.tracking) == len(track.weeks)]
    if not track.weeks:
        return Section("tracking", title, empty("No week to track."))
    cut = track.days.index(evaluation.cutoff) if evaluation.cutoff in track.days else None
    before: list[float | None] = [
        float(v) if cut is None or i <= cut else None for i, v in enumerate(track.actual)
    ]
    after: list[float | None] = [
        float(v) if cut is not None and i >= cut else None for i, v in enumerate(track.actual)
    ]
    series = [(ACTUAL_BEFORE, before), (ACTUAL_AFTER, after)]
    series += [(c.name, list(c.tracking)) for c in models]
    cut_week = track.weeks[cut] if cut is not None else None
    chart = line_chart(
        "tracking",
        track.weeks,
        series,
        title="Cumulative repeat purchases, actual and forecast",
        x_label="Weeks since the first sale"
        + (f" (cutoff at week {fmt_tick(round(cut_week, 1))})" if cut_week is not None else ""),
        y_label="Cumulative repeat purchases",
        x_format=lambda x: f"{x:g}",
        value_format=lambda v: fmt_number(v, 0),
        highlight=ACTUAL_AFTER,
    )
    last = track.actual[-1]
    ends = "; ".join(
        f"{c.name} {fmt_number(c.tracking[-1], 0)} ({fmt_pct((c.tracking[-1] - last) / last)})"
        for c in models
        if last
    )
    caption = (
        f"The actual line turns black at the cutoff ({fmt_date(evaluation.cutoff)}): after it, "
        "the forecasts are tested. The forecasts are unconditional: they know each "
        "customer's first purchase day only. "
        f"At {fmt_date(track.days[-1])}: actual {fmt_count(last)}" + (f"; {ends}." if ends else ".")
    )
    return Section("tracking", title, figure(chart, caption))


def _definitions(evaluation: Evaluation) -> Section:
    items = "".join(
        f"<dt>{esc(name.replace('_', ' '))}</dt><dd>{esc(text)}</dd>"
        for name, text in evaluation.definitions.items()
    )
    return Section("definitions", "Definitions", f'<dl class="definitions">{items}</dl>')


def sections(evaluation: Evaluation) -> list[Section]:
    """Return the sections of the evaluation page (to embed them in another report)."""
    return [
        _verdict(evaluation),
        _metrics(evaluation),
        _conditional(evaluation),
        _tracking(evaluation),
        _definitions(evaluation),
    ]


def render_evaluation(evaluation: Evaluation) -> str:
    """Return the holdout evaluation as one HTML page that works offline.

    Parameters
    ----------
    evaluation
        The result of :func:`regulars.evaluation.evaluate`.

    Returns
    -------
    str
        The HTML document: styles and inline SVG charts, no scripts.
    """
    e = evaluation
    parts = sections(e)
    store = f": {e.store}" if e.store else ""
    return render_page(
        f"Model evaluation{store}",
        f"calibration to {fmt_date(e.cutoff)} · holdout to {fmt_date(e.holdout_end)} "
        f"({horizon_label(e.horizon_days)}) · {fmt_count(e.customers)} customers · "
        f"figures in {e.currency}",
        parts,
        "Made by regulars. Models fitted on the calibration period only; every amount is "
        f"in {e.currency}. Hover a chart's marks for exact values.",
    )
