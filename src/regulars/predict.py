"""Predictions for every customer of a store: the glue between the analytics and the models.

:func:`predict` runs the per-customer summary on the engine that holds the tables, picks
a BTYD model (``auto``: the lowest holdout error on the store's own last horizon, see
:mod:`regulars.models.select`), fits it and Gamma-Gamma on the whole history, scores
churn risk (:mod:`regulars.churn_scoring`), and returns one row per customer with the
columns of :mod:`regulars.models.clv` plus ``churn_risk``, ``churn_method``,
``value_at_risk`` and ``at_risk``:

- ``value_at_risk`` = churn_risk x the customer's net revenue per day of tenure (tenure
  counted as at least the horizon) x the horizon in days: the revenue expected to be lost
  if they go.
- ``at_risk``: a *valuable* customer (net revenue in the store's top 20%) whose churn
  risk is at least ``at_risk_threshold`` (0.5) or whose P(alive) is at most
  1 - ``at_risk_threshold``; ``at_risk_rank`` orders them by ``value_at_risk``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from regulars.analytics import kpis
from regulars.analytics.holdout import calibration_holdout
from regulars.analytics.summary import customer_summary
from regulars.churn_scoring import churn_scores
from regulars.errors import InputError, ModelError, RegularsError
from regulars.models.btyd.base import BTYDModel
from regulars.models.btyd.gammagamma import GammaGamma
from regulars.models.clv import discount_schedule, predict_customers
from regulars.models.select import Selection, model_class, select_model
from regulars.models.units import horizon_label

__all__ = ["DEFINITIONS", "PredictionOptions", "Predictions", "predict"]

Progress = Callable[[str], None]
VALUABLE_SHARE = 0.2

DEFINITIONS = {
    "expected orders": "Expected purchase days in the horizon after as_of, from the BTYD model "
    "(BG/NBD, MBG/NBD or Pareto/NBD) fitted on every customer's (repeat purchase days, "
    "days from first to last purchase, days from first purchase to as_of).",
    "P(alive)": "The model's probability that a customer is still a customer at as_of. "
    "BG/NBD gives 1 to customers without a repeat purchase; MBG/NBD and Pareto/NBD do not.",
    "predicted CLV": "Expected net revenue over the horizon: expected purchases per month "
    "x expected spend per purchase (Gamma-Gamma, times the share kept after refunds), "
    "discounted at the yearly rate per month; the interval is the 5th-95th percentile over "
    "the model's parameter uncertainty.",
    "churn risk": "P(no order in the horizon) from a gradient-boosted classifier trained on "
    "the store's own history (features one horizon earlier, label: no order since), "
    "calibrated; small stores fall back to the BTYD model.",
    "at risk": "A customer in the top 20% by net revenue whose churn risk is at least 50% "
    "or whose P(alive) is at most 50%, ranked by value at risk = churn risk x net revenue "
    "per day of tenure x the horizon.",
    "model choice (auto)": "Each model is fitted on the history up to one horizon before "
    "as_of and scored on that last horizon; the lowest mean absolute error per customer wins.",
}
"""Definitions of the predicted figures, shown by the report."""


@dataclass(frozen=True)
class PredictionOptions:
    """How to predict: the horizon in days, the model, CLV's yearly discount rate."""

    horizon_days: float = 365.0
    model: str = "auto"
    discount_rate: float = 0.1


@dataclass
class Predictions:
    """Per-customer predictions and how they were made."""

    frame: pd.DataFrame
    as_of: date
    horizon_days: float
    discount_rate: float
    currency: str
    model: str
    model_reason: str
    params: list[dict[str, Any]] = field(default_factory=list)
    loglik: float | None = None
    selection: list[dict[str, Any]] = field(default_factory=list)
    spend_model: str = ""
    churn_method: str = ""
    churn_reason: str = ""

    def overview(self, *, top: int = 20) -> dict[str, Any]:
        """Return the store-level figures: totals, P(alive) bands, the top at-risk customers."""
        frame = self.frame
        edges = [0.0, 0.25, 0.5, 0.75, 1.0]
        labels = [f"{lo:.2f}–{hi:.2f}" for lo, hi in pairwise(edges)]
        bands = pd.cut(frame["p_alive"], edges, labels=labels, include_lowest=True)
        counts = frame.groupby(bands, observed=False)["customer_id"].count()
        at_risk = frame[frame["at_risk"]].sort_values("at_risk_rank").head(top)
        columns = ["customer_id", "p_alive", "churn_risk", "value_at_risk", "clv"]
        return {
            "customers": len(frame),
            "expected_orders": float(frame["expected_orders"].sum()),
            "clv": float(frame["clv"].sum()),
            "clv_low": float(frame["clv_low"].sum()),
            "clv_high": float(frame["clv_high"].sum()),
            "mean_p_alive": float(frame["p_alive"].mean()) if len(frame) else None,
            "likely_active": int((frame["p_alive"] >= 0.5).sum()),
            "at_risk_customers": int(frame["at_risk"].sum()),
            "value_at_risk": float(frame.loc[frame["at_risk"], "value_at_risk"].sum()),
            "p_alive_bands": [
                {"band": str(band), "customers": int(n)} for band, n in counts.items()
            ],
            "top_at_risk": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in at_risk[columns].to_dict(orient="records")
            ],
        }

    def as_dict(self) -> dict[str, Any]:
        """Return everything but the frame as plain data."""
        return {
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "discount_rate": self.discount_rate,
            "currency": self.currency,
            "model": self.model,
            "model_reason": self.model_reason,
            "params": self.params,
            "loglik": self.loglik,
            "selection": self.selection,
            "spend_model": self.spend_model,
            "churn_method": self.churn_method,
            "churn_reason": self.churn_reason,
        }


def _last_sale_day(orders: ir.Table) -> date | None:
    value = orders.filter(orders.status != "cancelled").ordered_at.max().to_pyarrow().as_py()
    return value.date() if value is not None else None


def _summary_frame(orders: ir.Table, refunds: ir.Table, as_of: date) -> pd.DataFrame:
    frame: pd.DataFrame = customer_summary(orders, refunds, as_of=as_of).to_pandas()
    for name in ("gross_revenue", "revenue", "refunded"):
        frame[name] = frame[name].astype(float)
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _choose(
    orders: ir.Table,
    refunds: ir.Table,
    *,
    as_of: date,
    first_day: date,
    horizon_days: float,
) -> Selection:
    days = round(horizon_days)
    cutoff = as_of - timedelta(days=days)
    if (cutoff - first_day).days < days:
        return Selection(
            "mbgnbd",
            f"mbgnbd: the history ({(as_of - first_day).days} days) is too short to hold out "
            f"{horizon_label(horizon_days)} and still fit on as long a period; MBG/NBD, unlike "
            "BG/NBD, does not take every one-time buyer for alive",
        )
    split: pd.DataFrame = calibration_holdout(
        orders, refunds, cutoff=cutoff, horizon_days=days
    ).to_pandas()
    period = f"the last {horizon_label(horizon_days)} ({cutoff} to {as_of})"
    return select_model(split, split["holdout_purchases"], horizon_days=float(days), period=period)


def _spend_model(summary: pd.DataFrame) -> tuple[GammaGamma | None, str]:
    try:
        model = GammaGamma().fit(summary["frequency"], summary["monetary_value"])
    except RegularsError as exc:
        return None, f"own mean spend (Gamma-Gamma could not be fitted: {exc.message})"
    return model, "Gamma-Gamma"


def _churn(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date,
    horizon_days: float,
    currency: str,
    btyd_model: str,
) -> tuple[pd.Series, str, str]:
    try:
        scores = churn_scores(
            tables,
            as_of=as_of,
            horizon_days=max(1, round(horizon_days)),
            currency=currency,
            btyd_model=btyd_model,
        )
    except ModelError as exc:  # the model's own P(no order) stands in (predict says so)
        return pd.Series(dtype=float), "btyd", f"the classifier could not be trained: {exc.message}"
    risk = scores.frame.set_index("customer_id")["churn_risk"]
    return risk, str(scores.method), str(scores.reason)


def _at_risk(frame: pd.DataFrame, summary: pd.DataFrame, threshold: float, horizon: float) -> None:
    revenue = summary["revenue"].to_numpy(dtype=float)
    tenure = np.maximum(summary["t_days"].to_numpy(dtype=float), horizon)
    frame["value_at_risk"] = frame["churn_risk"].to_numpy() * revenue / tenure * horizon
    cut = np.quantile(revenue, 1 - VALUABLE_SHARE) if len(revenue) else 0.0
    valuable = (revenue >= cut) & (revenue > 0)
    risky = (frame["churn_risk"].to_numpy() >= threshold) | (
        frame["p_alive"].to_numpy() <= 1 - threshold
    )
    frame["at_risk"] = valuable & risky
    ranked = frame.loc[frame["at_risk"], "value_at_risk"].rank(ascending=False, method="first")
    frame["at_risk_rank"] = ranked.reindex(frame.index).astype("Int64")


def predict(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date | None = None,
    horizon_days: float = 365.0,
    model: str = "auto",
    discount_rate: float = 0.1,
    currency: str | None = None,
    n_draws: int = 100,
    at_risk_threshold: float = 0.5,
    churn: bool = True,
    progress: Progress | None = None,
) -> Predictions:
    """Predict every customer's next orders, P(alive), churn risk and CLV as of a date.

    Parameters
    ----------
    tables
        The canonical tables as Ibis tables of one backend.
    as_of
        The prediction date (default: the day of the last sale); nothing after it is used.
    horizon_days
        The horizon of expected orders, churn risk and CLV, in days.
    model
        ``auto`` or one of :data:`~regulars.models.select.CANDIDATES`.
    discount_rate
        CLV's discount rate per year.
    currency
        The currency to analyse (needed when the store sells in several).
    n_draws
        Parameter draws for the CLV interval.
    at_risk_threshold
        Churn risk from which a valuable customer is at risk.
    churn
        Score churn with the classifier (else churn_risk = P(no order) of the model).
    progress
        Called with the name of each step.

    Returns
    -------
    Predictions
        The frame (one row per customer with a sale by ``as_of``) and how it was made.

    Raises
    ------
    InputError
        When there is nothing to predict.
    """
    step = progress or (lambda _name: None)
    step("checking the data")
    discount_schedule(horizon_days, discount_rate)  # a bad rate fails before any work
    if model != "auto":
        model_class(model)  # so does an unknown model
    orders = tables["orders"]
    if currency is None:
        currency = kpis.require_single_currency(orders)
    orders = kpis.single_currency(orders, currency)
    refunds = tables["refunds"].filter(tables["refunds"].currency == currency)
    last = _last_sale_day(orders)
    if last is None or currency is None:
        raise InputError(
            "There are no sales to predict from.",
            fix="Import the store's orders first (regulars import FILE), or check --currency.",
        )
    as_of = as_of or last
    step("per-customer summary")
    summary = _summary_frame(orders, refunds, as_of)
    if summary.empty:
        raise InputError(f"No customer had bought by {as_of}.", fix="Choose a later --as-of date.")
    first_day = pd.Timestamp(summary["first_order_at"].min()).date()
    if model == "auto":
        step("choosing a model on the holdout")
        selection = _choose(
            orders, refunds, as_of=as_of, first_day=first_day, horizon_days=horizon_days
        )
        chosen, reason = selection.chosen, selection.reason
    else:
        chosen, reason = model, f"{model}: chosen with --model"
        selection = Selection(chosen, reason)
    step(f"fitting {chosen}")
    fitted: BTYDModel = model_class(chosen)().fit(
        summary["frequency"], summary["recency_days"], summary["t_days"]
    )
    spend, spend_name = _spend_model(summary)
    step("predicting")
    frame = predict_customers(
        summary,
        fitted,
        as_of=as_of,
        horizon_days=horizon_days,
        annual_discount_rate=discount_rate,
        spend_model=spend,
        n_draws=n_draws,
    )
    churn_method, churn_reason = "btyd", "P(no order in the horizon) of the BTYD model"
    if churn:
        step("churn risk")
        risk, churn_method, churn_reason = _churn(
            tables,
            as_of=as_of,
            horizon_days=horizon_days,
            currency=currency,
            btyd_model=chosen,
        )
        frame["churn_risk"] = risk.reindex(frame["customer_id"]).to_numpy()
        frame["churn_risk"] = frame["churn_risk"].fillna(frame["p_no_order"])
    else:
        frame["churn_risk"] = frame["p_no_order"]
    frame["churn_method"] = churn_method
    _at_risk(frame, summary, at_risk_threshold, horizon_days)
    return Predictions(
        frame=frame,
        as_of=as_of,
        horizon_days=horizon_days,
        discount_rate=discount_rate,
        currency=currency,
        model=fitted.name,
        model_reason=reason,
        params=fitted.summary(),
        loglik=float(fitted.loglik_),
        selection=[c.as_dict() for c in selection.candidates],
        spend_model=spend_name,
        churn_method=churn_method,
        churn_reason=churn_reason,
    )
