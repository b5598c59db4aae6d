"""Churn risk of every customer: the time split, the features, the classifier and BTYD.

:func:`churn_scores` runs the analytics expressions (:mod:`regulars.analytics.churn_features`)
on whatever engine holds the tables, fits the models (:mod:`regulars.models`) and returns
one risk per customer: P(no order in the ``horizon_days`` after ``as_of``).

How the model is trained, honestly (nothing after ``as_of`` is read):

1. **Label horizon.** The classifier learns from the store's own past: features as of the
   *training cutoff* ``as_of - L`` and the label "no sale in ``(as_of - L, as_of]``". The
   label horizon ``L`` is ``horizon_days`` when the store's history (its first sale to
   ``as_of``) is at least three times as long; otherwise ``L`` is a third of the history,
   so that the features at the cutoff still describe at least twice ``L`` days of
   history and resemble those at ``as_of``. Below :data:`MIN_LABEL_HORIZON_DAYS` there is
   no training: the BTYD model alone scores. CDNOW, all of whose customers arrived in the
   first quarter of 1997, has 272 days of history at 1997-09-30: a cutoff 39 weeks back
   has no customer at all, so the 39-week risk is learned on a 90-day label. Measured
   there (AUC / Brier at 273 days, by label horizon): 30 days 0.773 / 0.160, 61 days
   0.781 / 0.160, 90 days 0.782 / 0.158, 122 days 0.780 / 0.158, 152 days 0.781 / 0.158,
   182 days 0.778 / 0.161: flat in the middle, worse at the ends (too short a label
   says little about the horizon; too long a one is learned on customers too young to
   resemble those scored).
2. **Features.** The churn features of
   :func:`~regulars.analytics.churn_features.churn_features`, with the basket columns when
   the store's sales up to the training cutoff have order lines and the engagement columns
   when it tracked events by then. A BTYD model (``btyd_model``) is fitted on the
   customer summary at each date (training cutoff and ``as_of``) and adds P(alive), the
   expected purchases and P(no purchase) in ``L`` days.
3. **The classifier** (:class:`~regulars.models.churn.ChurnClassifier`) gives
   P(no sale in the next ``L`` days) for the customers at ``as_of``; with too few training
   customers it falls back to BTYD or to the empirical inter-purchase model.
4. **From L to the horizon.** When ``L < horizon_days``, the risk is carried to the full
   horizon by the BTYD model: no purchase in ``horizon_days`` means no purchase in the
   first ``L`` days *and* none after, so
   ``risk = P(none in L) * P_btyd(none in H) / P_btyd(none in L)``. The second factor is
   exact under the BTYD model (the probability of no purchase in (L, H] given none in the
   first L days). Without a BTYD model the risk stays that of ``L`` days, and ``reason``
   says so.

The BTYD columns of the result (``btyd_p_alive``, ``btyd_expected_purchases``,
``btyd_p_no_purchase``) are those of the model fitted at ``as_of``, for ``horizon_days``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd

from regulars.analytics.churn_features import churn_features
from regulars.analytics.kpis import require_single_currency, single_currency
from regulars.analytics.summary import as_of_bounds, sales
from regulars.errors import ConfigError, InputError, ModelError
from regulars.models.churn import ChurnClassifier
from regulars.models.select import model_class

__all__ = ["BTYD_COLUMNS", "MIN_LABEL_HORIZON_DAYS", "ChurnScores", "churn_scores"]

FloatArray = npt.NDArray[np.float64]

"""The BTYD models :func:`churn_scores` can use, by name: (module, class)."""

BTYD_COLUMNS = ("btyd_p_alive", "btyd_expected_purchases", "btyd_p_no_purchase")
"""The BTYD features (and result columns)."""

MIN_LABEL_HORIZON_DAYS = 14
"""The shortest label horizon worth training on; below it, BTYD alone scores."""


@dataclass(frozen=True)
class ChurnScores:
    """The churn risk of every customer, and how it was obtained.

    Parameters
    ----------
    frame
        One row per customer with a sale on or before ``as_of``: ``customer_id``,
        ``churn_risk`` (P(no order in the horizon)) and the BTYD columns
        (:data:`BTYD_COLUMNS`, for the horizon; NaN when no BTYD model could be fitted).
    method
        ``"gradient-boosting"``, ``"btyd"`` or ``"empirical"``
        (see :class:`~regulars.models.churn.ChurnClassifier`).
    training_cutoff
        The date of the training features (``as_of - label_horizon_days``).
    training_customers
        Customers the classifier was trained on (0 when there were none).
    label_horizon_days
        The horizon of the training label (``horizon_days`` or shorter, see ``reason``).
    reason
        In words: the method, why, and how the label horizon was chosen.
    as_of, horizon_days
        The scoring date and the horizon of the risk.
    features
        The columns the classifier read (churn features; basket and engagement columns
        when the store has order lines and events; BTYD features); empty without one.
    """

    frame: pd.DataFrame
    method: str
    training_cutoff: date
    training_customers: int
    label_horizon_days: float
    reason: str
    as_of: date
    horizon_days: float
    features: tuple[str, ...] = ()


def _label_horizon(history_days: int, horizon: int) -> int:
    """Return the horizon, or a third of the history when that is shorter."""
    return min(horizon, history_days // 3)


@dataclass(frozen=True)
class _Btyd:
    """A BTYD model's outputs on one summary: at the label horizon and at the horizon."""

    p_alive: FloatArray
    expected_label: FloatArray
    none_label: FloatArray
    expected_horizon: FloatArray
    none_horizon: FloatArray

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return ``frame`` with the BTYD features (label horizon) added."""
        return frame.assign(
            btyd_p_alive=self.p_alive,
            btyd_expected_purchases=self.expected_label,
            btyd_p_no_purchase=self.none_label,
        )


def _btyd(frame: pd.DataFrame, model_class: Any, label: int, horizon: int) -> _Btyd | None:
    """Fit the BTYD model on the summary in ``frame``; None when it cannot be fitted."""
    if frame.empty:
        return None
    f, r, t = (frame[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency_days", "t_days"))
    try:
        model = model_class().fit(f, r, t)
        return _Btyd(
            p_alive=model.probability_alive(f, r, t),
            expected_label=model.expected_purchases(f, r, t, horizon=label),
            none_label=model.probability_no_purchase(f, r, t, horizon=label),
            expected_horizon=model.expected_purchases(f, r, t, horizon=horizon),
            none_horizon=model.probability_no_purchase(f, r, t, horizon=horizon),
        )
    except (ModelError, InputError):
        return None


def _buyers(orders: ir.Table, after: date, until: date) -> set[str]:
    """Return the customers with a sale on the days ``(after, until]``."""
    sold = sales(orders, until)
    sold = sold.filter(sold.customer_id.notnull() & (sold.ordered_at >= as_of_bounds(after)))
    ids = sold.select("customer_id").distinct().to_pyarrow().column(0).to_pylist()
    return {str(i) for i in ids}


def _tracks_events(events: ir.Table | None, before: date) -> bool:
    """Whether ``events`` holds any customer's event on or before ``before``."""
    if events is None:
        return False
    cutoff = as_of_bounds(before)
    seen = events.filter(events.customer_id.notnull() & (events.occurred_at < cutoff))
    return bool(seen.count().to_pyarrow().as_py() > 0)


def _history_days(orders: ir.Table, as_of: date) -> int | None:
    """Days from the first sale to a known customer to ``as_of`` (the largest ``t_days``)."""
    sold = sales(orders, as_of)
    first = sold.filter(sold.customer_id.notnull()).order_day.min().to_pyarrow().as_py()
    return None if first is None else (as_of - first).days


def _sells_lines(orders: ir.Table, lines: ir.Table | None, before: date) -> bool:
    """Whether ``lines`` holds any order line of a sale on or before ``before``."""
    if lines is None:
        return False
    sold = sales(orders, before).select("order_id")
    found = lines.select("order_id").join(sold, "order_id").limit(1).count()
    return bool(found.to_pyarrow().as_py() > 0)


def _check_options(horizon_days: float, as_of: Any) -> int:
    if not isinstance(as_of, date):
        raise ConfigError(f"as_of must be a date, got {as_of!r}.", fix="Pass as_of=date(...).")
    h = float(horizon_days)
    if not np.isfinite(h) or h < 1 or h != round(h):
        raise ConfigError(
            f"horizon_days must be a whole number of days, at least 1; got {horizon_days!r}.",
            fix="Pass e.g. horizon_days=91 (13 weeks) or 273 (39 weeks).",
        )
    return int(h)


def _result(app: pd.DataFrame, risk: FloatArray, btyd: _Btyd | None) -> pd.DataFrame:
    nan = np.full(len(app), np.nan)
    return pd.DataFrame(
        {
            "customer_id": app["customer_id"].to_numpy(),
            "churn_risk": risk,
            "btyd_p_alive": btyd.p_alive if btyd else nan,
            "btyd_expected_purchases": btyd.expected_horizon if btyd else nan,
            "btyd_p_no_purchase": btyd.none_horizon if btyd else nan,
        }
    )


def _sentences(notes: list[str]) -> str:
    return " ".join(n[0].upper() + n[1:].rstrip(".") + "." for n in notes)


def churn_scores(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date,
    horizon_days: float,
    btyd_model: str = "bgnbd",
    currency: str | None = None,
    min_customers: int = 500,
    random_state: int | None = 0,
) -> ChurnScores:
    """Return every customer's P(no order in the ``horizon_days`` after ``as_of``).

    Parameters
    ----------
    tables
        The canonical tables (``orders``, ``refunds``; ``events`` and ``order_lines`` if
        any) as Ibis tables of one backend. Nothing after ``as_of`` is read.
    as_of
        The scoring date.
    horizon_days
        The horizon of the risk, in whole days.
    btyd_model
        The BTYD model of the BTYD features: a name :func:`regulars.models.select.model_class`
        knows (bgnbd, mbgnbd, paretonbd).
    currency
        The currency of the monetary features; required when the store sells in several.
    min_customers, random_state
        Passed to :class:`~regulars.models.churn.ChurnClassifier`.

    Returns
    -------
    ChurnScores
        The scores and how they were obtained (method, training cutoff, label horizon,
        reason); see the module docstring for the procedure.

    Raises
    ------
    ConfigError
        For a wrong option (horizon, BTYD model name).
    InputError
        When there is no sale on or before ``as_of``, or several currencies and none chosen.
    ModelError
        When the history is too short to train and no BTYD model can be fitted.
    """
    horizon = _check_options(horizon_days, as_of)
    btyd_class = model_class(btyd_model)
    orders = tables["orders"]
    currency = require_single_currency(orders) if currency is None else currency
    orders = single_currency(orders, currency)
    refunds, events = tables["refunds"], tables.get("events")

    history_days = _history_days(orders, as_of)
    if history_days is None:
        raise InputError(
            f"There are no sales on or before {as_of.isoformat()} to score.",
            fix="Import the store's orders first, or choose a later as_of.",
        )
    label = _label_horizon(history_days, horizon)
    cutoff = as_of - timedelta(days=label)
    trainable = label >= MIN_LABEL_HORIZON_DAYS
    notes: list[str] = []
    if label < horizon and trainable:
        notes.append(
            f"the store's history up to {as_of.isoformat()} is {history_days:,} days, too "
            f"short to learn a {horizon:,}-day horizon: the classifier learns a {label:,}-day "
            f"label (a third of the history) from the features at {cutoff.isoformat()}"
        )
    seen_events = events if trainable and _tracks_events(events, cutoff) else None
    lines = tables.get("order_lines")
    seen_lines = lines if trainable and _sells_lines(orders, lines, cutoff) else None
    app = churn_features(orders, refunds, seen_events, as_of=as_of, lines=seen_lines).to_pandas()
    btyd_app = _btyd(app, btyd_class, max(label, 1), horizon)

    train = pd.DataFrame()
    if trainable:
        expr = churn_features(orders, refunds, seen_events, as_of=cutoff, lines=seen_lines)
        train = expr.to_pandas()
    if train.empty:
        if btyd_app is None:
            raise ModelError(
                f"Not enough history to score churn at {as_of.isoformat()}: no customer "
                "to learn from, and the BTYD model could not be fitted.",
                fix="Score at a later as_of, or with a shorter horizon_days.",
            )
        notes.append(
            f"the store's history up to {as_of.isoformat()} ({history_days:,} days) leaves "
            "no customer to train a classifier on"
            if trainable
            else f"the store's history up to {as_of.isoformat()} ({history_days:,} days) is "
            "too short to train a classifier"
        )
        notes.append(f"the risk is the {btyd_model} model's P(no purchase in {horizon:,} days)")
        return ChurnScores(
            frame=_result(app, btyd_app.none_horizon, btyd_app),
            method="btyd",
            training_cutoff=cutoff,
            training_customers=0,
            label_horizon_days=float(label),
            reason=_sentences(notes),
            as_of=as_of,
            horizon_days=float(horizon),
        )

    btyd_train = _btyd(train, btyd_class, label, label) if btyd_app is not None else None
    if btyd_app is not None and btyd_train is not None:
        app, train = btyd_app.features(app), btyd_train.features(train)
    churned = ~train["customer_id"].isin(_buyers(orders, cutoff, as_of))
    columns = [c for c in train.columns if c != "customer_id"]
    classifier = ChurnClassifier(min_customers=min_customers, random_state=random_state)
    classifier.fit(train[columns], churned.to_numpy())
    risk = classifier.predict_risk(app[columns])
    notes.append(classifier.reason_)
    if label < horizon and btyd_app is not None:
        # P(none in H) = P(none in L) * P(none in (L, H] | none in L); BTYD gives the second.
        q_label, q_horizon = btyd_app.none_label, btyd_app.none_horizon
        ratio = np.divide(q_horizon, q_label, out=np.ones_like(q_horizon), where=q_label > 0)
        risk = np.clip(risk * np.minimum(ratio, 1.0), 0.0, 1.0)
        notes.append(
            f"the {label:,}-day risk is carried to {horizon:,} days with the {btyd_model} "
            f"model: times its P(no purchase in {horizon:,} days) / P(no purchase in "
            f"{label:,} days)"
        )
    elif label < horizon:
        notes.append(f"no BTYD model could be fitted: the risk is for {label:,} days only")
    return ChurnScores(
        frame=_result(app, risk, btyd_app),
        method=classifier.method_,
        training_cutoff=cutoff,
        training_customers=len(train),
        label_horizon_days=float(label),
        reason=_sentences(notes),
        as_of=as_of,
        horizon_days=float(horizon),
        features=tuple(columns),
    )
