"""Honest holdout evaluation of the predictive models on a store's own history.

:func:`evaluate` splits the history at ``cutoff`` (see :mod:`regulars.analytics.holdout`),
fits each candidate model on the calibration period only, predicts the holdout
``(cutoff, cutoff + horizon]`` and scores the predictions against what happened
(:mod:`regulars.models.evaluate`). Candidates:

- the BTYD count models (``bgnbd``, ``mbgnbd``, ``paretonbd``; one missing from this
  installation is listed as unavailable, one that does not converge as such);
- the churn classifier (:mod:`regulars.churn_scoring`, when installed), scored on "buys
  again in the horizon" only, with P(buys) = 1 - churn risk. It is given the tables as
  they stood at the cutoff (orders, refunds, lines, events and customers after it removed).

Predicted revenue is expected purchases times expected spend per purchase: the
Gamma-Gamma model's (fitted on calibration repeat buyers) when installed, otherwise the
customer's mean net revenue per purchase day in the calibration period.

The best model is the count model with the lowest per-customer mean absolute error of
holdout purchases.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from regulars.analytics import holdout, kpis
from regulars.analytics.summary import customer_summary
from regulars.errors import ConfigError, InputError, ModelError, RegularsError
from regulars.models.evaluate import (
    METRIC_DEFINITIONS,
    HoldoutMetrics,
    best_by_mae,
    expected_cumulative,
    holdout_metrics,
)

__all__ = ["DEFINITIONS", "MODELS", "Candidate", "Evaluation", "Tracking", "evaluate"]

MODELS: dict[str, tuple[str, str, str]] = {
    "bgnbd": ("regulars.models.btyd.bgnbd", "BGNBD", "BG/NBD"),
    "mbgnbd": ("regulars.models.btyd.mbgnbd", "MBGNBD", "MBG/NBD"),
    "paretonbd": ("regulars.models.btyd.paretonbd", "ParetoNBD", "Pareto/NBD"),
}
"""Model key -> (module, class, name) of the count models :func:`evaluate` knows."""

DEFINITIONS: dict[str, str] = {
    **holdout.DEFINITIONS,
    "predicted_revenue": "Expected holdout purchases x expected spend per purchase "
    "(Gamma-Gamma when available, else the customer's mean net revenue per purchase day).",
    **METRIC_DEFINITIONS,
}
"""Term -> its definition in words (shown in the report and carried in ``to_dict``)."""

Progress = Callable[[str], None]


@dataclass
class Candidate:
    """One candidate's fit and holdout scores.

    Attributes
    ----------
    key, name
        ``"bgnbd"`` and ``"BG/NBD"``, say.
    kind
        ``"count model"`` or ``"classifier"``.
    status
        ``"ok"``, ``"not converged"``, ``"failed"`` (classifier) or ``"unavailable"``.
    reason
        Why it is not ``ok``, or a note on the fit; for a classifier, its own note.
    metrics
        The holdout scores (None unless ``ok``).
    params, loglik
        Fitted parameters (days) and log-likelihood of the calibration data.
    fit_seconds
        Time to fit and predict.
    spend_model
        How predicted revenue was made.
    tracking
        Expected cumulative repeat purchases at each of :attr:`Tracking.days`.
    """

    key: str
    name: str
    kind: str
    status: str
    reason: str = ""
    metrics: HoldoutMetrics | None = None
    params: dict[str, float] = field(default_factory=dict)
    loglik: float | None = None
    fit_seconds: float | None = None
    spend_model: str | None = None
    tracking: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the candidate as JSON-ready data (its tracking is in the evaluation's)."""
        out = {k: v for k, v in vars(self).items() if k not in ("metrics", "tracking")}
        return {**out, "metrics": self.metrics.to_dict() if self.metrics else None}


@dataclass
class Tracking:
    """Cumulative repeat purchases week by week (the cutoff is one of the days).

    Attributes
    ----------
    days
        The last day of each week.
    weeks
        Weeks from the day before the first sale to each day (the cutoff is a whole week).
    actual
        Actual cumulative repeat purchases of the calibration customers by each day.
    """

    days: list[date] = field(default_factory=list)
    weeks: list[float] = field(default_factory=list)
    actual: list[int] = field(default_factory=list)


@dataclass
class Evaluation:
    """The holdout evaluation of a store's predictive models.

    Attributes
    ----------
    store, currency
        The store's name and the currency of every amount.
    cutoff, holdout_end, horizon_days
        Calibration up to ``cutoff`` (included), holdout ``(cutoff, holdout_end]``, whole
        days.
    customers
        Calibration customers (scored).
    new_customers
        Customers first seen in the holdout (left out).
    calibration_repeat_purchases, holdout_purchases
        Repeat purchases in the calibration period, purchases in the holdout.
    candidates
        One per candidate, in the order tried.
    best, best_reason
        The key of the best count model (None if none converged) and why.
    tracking
        The actual tracking curve; each candidate carries its own forecast.
    definitions
        Metric -> definition in words.
    """

    store: str
    currency: str
    cutoff: date
    holdout_end: date
    horizon_days: int
    customers: int
    new_customers: int
    calibration_repeat_purchases: int
    holdout_purchases: int
    candidates: list[Candidate] = field(default_factory=list)
    best: str | None = None
    best_reason: str = ""
    tracking: Tracking = field(default_factory=Tracking)
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))

    def candidate(self, key: str) -> Candidate:
        """Return the candidate with ``key`` (``"bgnbd"``, ``"churn"``...)."""
        for c in self.candidates:
            if c.key == key:
                return c
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as JSON-ready data."""
        plain = "store currency horizon_days customers new_customers best best_reason"
        plain += " calibration_repeat_purchases holdout_purchases"
        return {
            **{k: getattr(self, k) for k in plain.split()},
            "cutoff": self.cutoff.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "candidates": [c.to_dict() for c in self.candidates],
            "tracking": {
                "days": [d.isoformat() for d in self.tracking.days],
                "weeks": self.tracking.weeks,
                "actual": self.tracking.actual,
                "predicted": {c.key: c.tracking for c in self.candidates if c.tracking},
            },
            "definitions": self.definitions,
        }


def _frame(expr: ir.Table) -> pd.DataFrame:
    """Execute to pandas, exact decimals as floats."""
    table: pa.Table = expr.to_pyarrow()
    columns = {
        name: (col.cast(pa.float64()) if pa.types.is_decimal(col.type) else col)
        for name, col in zip(table.column_names, table.columns, strict=True)
    }
    return pa.table(columns).to_pandas() if columns else pd.DataFrame()


def _model_keys(models: Sequence[str]) -> list[str]:
    keys = []
    for given in models:
        key = given.lower().replace("/", "").replace("-", "").replace("_", "")
        if key not in MODELS:
            raise ConfigError(
                f"Unknown model {given!r}.", fix="Use one of: " + ", ".join(MODELS) + "."
            )
        if key not in keys:
            keys.append(key)
    return keys


def _load(module: str, name: str) -> Any:
    """Import ``module.name`` if this installation has it, else raise ImportError."""
    found = getattr(importlib.import_module(module), name, None)
    if found is None:
        raise ImportError(f"{module} has no {name}")
    return found


def _day_numbers(values: Any) -> Any:
    """Days since 1970-01-01 of a pandas column of dates."""
    return (pd.to_datetime(values) - pd.Timestamp("1970-01-01")).dt.days.to_numpy(np.float64)


def _tracking(
    orders: ir.Table, cutoff: date, horizon: int, end: date
) -> tuple[Tracking, Any, Any, Any]:
    first = _frame(holdout.daily_first_purchases(orders, cutoff=cutoff))
    repeats = _frame(holdout.daily_repeat_purchases(orders, cutoff=cutoff, horizon_days=horizon))
    start = pd.to_datetime(first["day"]).min().date()
    days = holdout.tracking_days(start, cutoff, end)
    points = _day_numbers(pd.Series(days))
    repeat_days = _day_numbers(repeats["day"])
    counts = repeats["repeat_purchases"].to_numpy(np.int64)
    actual = [int(counts[repeat_days <= p].sum()) for p in points]
    origin = start - timedelta(days=1)
    weeks = [(d - origin).days / 7 for d in days]
    tracking = Tracking(days=days, weeks=weeks, actual=actual)
    return tracking, _day_numbers(first["day"]), first["customers"].to_numpy(np.float64), points


def _spend(calib: pd.DataFrame) -> tuple[Any, str]:
    """Return the expected spend per purchase day of each customer, and how it was made."""
    per_day = (calib["revenue"] / calib["order_days"]).to_numpy(np.float64)
    fallback = "the customer's mean net revenue per purchase day (calibration)"
    repeat = (calib["frequency"] > 0) & (calib["monetary_value"] > 0)
    if not repeat.any():
        return per_day, fallback
    try:
        gamma_gamma = _load("regulars.models.btyd.gammagamma", "GammaGamma")
        model = gamma_gamma().fit(calib["frequency"], calib["monetary_value"])
        spend = np.asarray(
            model.expected_spend(calib["frequency"], calib["monetary_value"]), dtype=np.float64
        )
    except ImportError:
        return per_day, fallback
    except (ModelError, InputError) as exc:
        return per_day, f"{fallback}; Gamma-Gamma could not be used: {exc.message}"
    if spend.shape != per_day.shape or not np.isfinite(spend).all():
        return per_day, f"{fallback}; Gamma-Gamma gave non-finite spends"
    return spend, "Gamma-Gamma (fitted on calibration repeat buyers)"


def _count_candidate(
    key: str, calib: pd.DataFrame, horizon: int, spend: tuple[Any, str], track: tuple[Any, ...]
) -> Candidate:
    module, cls_name, name = MODELS[key]
    try:
        cls = _load(module, cls_name)
    except ImportError as exc:
        return Candidate(key, name, "count model", "unavailable", f"not installed ({exc})")
    model = cls()
    x, t_x, age = calib["frequency"], calib["recency_days"], calib["t_days"]
    started = time.perf_counter()
    try:
        model.fit(x, t_x, age)
    except ModelError as exc:
        return Candidate(key, name, "count model", "not converged", exc.message)
    predicted = model.expected_purchases(x, t_x, age, horizon=horizon)
    buys = 1 - model.probability_no_purchase(x, t_x, age, horizon=horizon)
    first_days, counts, points = track
    cumulative = expected_cumulative(
        first_days, counts, points, model.expected_purchases_new_customer
    )
    seconds = time.perf_counter() - started
    metrics = holdout_metrics(
        calib["holdout_purchases"],
        frequency=x,
        predicted_purchases=predicted,
        probability_buys=buys,
        actual_revenue=calib["holdout_revenue"],
        predicted_revenue=np.asarray(predicted) * spend[0],
    )
    return Candidate(
        key,
        name,
        "count model",
        "ok",
        _boundary_note(model),
        metrics=metrics,
        params={k: float(v) for k, v in model.params_.items()},
        loglik=float(model.loglik_),
        fit_seconds=round(seconds, 3),
        spend_model=spend[1],
        tracking=[float(v) for v in cumulative],
    )


def _boundary_note(model: Any) -> str:
    """Say so when the fit converged with a parameter at the edge of its range."""
    if getattr(model, "hessian_positive_definite_", True):
        return ""
    edges = ", ".join(f"{k} = {v:.3g}" for k, v in model.params_.items() if not 1e-4 < v < 1e4)
    return "Converged, but the Hessian is not positive definite (standard errors undefined)" + (
        f": {edges} is at the edge of its range." if edges else "."
    )


def _churn_candidate(
    tables: dict[str, ir.Table],
    calib: pd.DataFrame,
    cutoff: date,
    horizon: int,
    currency: str | None = None,
) -> Candidate:
    try:
        churn_scores = _load("regulars.churn_scoring", "churn_scores")
    except ImportError as exc:
        return Candidate("churn", "Churn classifier", "classifier", "unavailable", str(exc))
    started = time.perf_counter()
    try:
        scores = churn_scores(tables, as_of=cutoff, horizon_days=horizon, currency=currency)
    except RegularsError as exc:
        return Candidate("churn", "Churn classifier", "classifier", "failed", exc.message)
    frame = scores.frame.to_pandas() if hasattr(scores.frame, "to_pandas") else scores.frame
    frame = pd.DataFrame(frame)[["customer_id", "churn_risk"]]
    merged = calib[["customer_id", "holdout_purchases"]].merge(frame, on="customer_id")
    merged = merged[merged["churn_risk"].notna()]
    method = str(getattr(scores, "method", "") or "classifier")
    reason = str(getattr(scores, "reason", "") or "")
    if len(merged) < len(calib):
        reason += f" Scored {len(merged):,} of {len(calib):,} calibration customers."
    metrics = holdout_metrics(
        merged["holdout_purchases"], probability_buys=1 - merged["churn_risk"].astype(float)
    )
    return Candidate(
        "churn",
        f"Churn classifier ({method})",
        "classifier",
        "ok",
        reason.strip(),
        metrics=metrics,
        fit_seconds=round(time.perf_counter() - started, 3),
    )


def _best(candidates: list[Candidate]) -> tuple[str | None, str]:
    maes = {
        c.name: c.metrics.mae
        for c in candidates
        if c.kind == "count model" and c.metrics is not None and c.metrics.mae is not None
    }
    name, reason = best_by_mae(maes)
    return next((c.key for c in candidates if c.name == name), None), reason


def _checked_period(orders: ir.Table, cutoff: date, end: date) -> None:
    sold = orders.filter(orders.status != "cancelled")
    row = sold.aggregate(first=sold.ordered_at.min(), last=sold.ordered_at.max()).to_pyarrow()
    first, last = row.to_pylist()[0]["first"], row.to_pylist()[0]["last"]
    if first is None or first.date() > cutoff:
        raise InputError(
            f"There is no sale on or before the cutoff {cutoff}: nothing to fit on.",
            fix="Choose a later --as-of cutoff.",
        )
    if last.date() < end:
        raise InputError(
            f"The data ends on {last.date()}, before the end of the holdout ({end}): the "
            "holdout would look emptier than it was.",
            fix=f"Choose an earlier cutoff (at most {last.date() - (end - cutoff)}) or a "
            "shorter horizon.",
        )


def evaluate(
    tables: Mapping[str, ir.Table],
    *,
    cutoff: date,
    horizon_days: float,
    models: Sequence[str] = ("bgnbd", "mbgnbd", "paretonbd"),
    currency: str | None = None,
    churn_classifier: bool = True,
    store: str = "",
    progress: Progress | None = None,
) -> Evaluation:
    """Fit each candidate on the history up to ``cutoff`` and score it on what came next.

    Parameters
    ----------
    tables
        The canonical tables (``orders`` and ``refunds`` at least) as Ibis tables of one
        backend.
    cutoff
        The last calibration day (UTC, included).
    horizon_days
        The holdout's length in days; rounded to whole days (as ``regulars predict`` does).
    models
        The count models to try, among :data:`MODELS`.
    currency
        The currency to evaluate; required when the store sells in several.
    churn_classifier
        Also score the churn classifier, when this installation has one.
    store
        A name for the store, shown in the report.
    progress
        Called with the name of each step as it starts.

    Returns
    -------
    Evaluation
        The split's facts, every candidate's scores and the best count model.

    Raises
    ------
    InputError
        When there is no sale by the cutoff, or the data ends before the holdout does.
    ConfigError
        When a model is unknown or the horizon is not positive.
    """
    step = progress or (lambda _name: None)
    keys = _model_keys(models)
    if not math.isfinite(horizon_days) or horizon_days < 1:
        raise ConfigError(
            f"The horizon must be at least one day, got {horizon_days!r}.",
            fix="Give a horizon such as 90d or 13w.",
        )
    horizon = round(horizon_days)
    end = holdout.holdout_end(cutoff, horizon)
    step("checking the data")
    orders = tables["orders"]
    if currency is None:
        currency = kpis.require_single_currency(orders)
    orders = kpis.single_currency(orders, currency)
    refunds = tables["refunds"]
    if currency is not None:
        refunds = refunds.filter(refunds.currency == currency.upper())
    _checked_period(orders, cutoff, end)
    step("calibration and holdout")
    calib = _frame(
        holdout.calibration_holdout(orders, refunds, cutoff=cutoff, horizon_days=horizon)
    )
    calib = calib.sort_values("customer_id", kind="stable").reset_index(drop=True)
    if calib.empty:
        raise InputError(
            f"No known customer (with a customer id) bought on or before {cutoff}.",
            fix="Choose a later cutoff, or import the customer ids of the orders.",
        )
    everyone = customer_summary(orders, refunds, as_of=end).count().to_pyarrow().as_py()
    tracking, first_days, counts, points = _tracking(orders, cutoff, horizon, end)
    result = Evaluation(
        store=store,
        currency=(currency or "").upper(),
        cutoff=cutoff,
        holdout_end=end,
        horizon_days=horizon,
        customers=len(calib),
        new_customers=int(everyone) - len(calib),
        calibration_repeat_purchases=int(calib["frequency"].sum()),
        holdout_purchases=int(calib["holdout_purchases"].sum()),
        tracking=tracking,
    )
    spend = _spend(calib)
    for key in keys:
        step(f"fitting {key}")
        result.candidates.append(
            _count_candidate(key, calib, horizon, spend, (first_days, counts, points))
        )
    if churn_classifier:
        step("churn classifier")
        seen = holdout.tables_as_of({**tables, "orders": orders, "refunds": refunds}, cutoff)
        result.candidates.append(_churn_candidate(seen, calib, cutoff, horizon, currency))
    result.best, result.best_reason = _best(result.candidates)
    return result
