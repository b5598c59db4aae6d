"""Churn risk: the classifier's contract, its calibration and fallbacks, and honest AUCs.

Measured AUCs of "buys again in the horizon" (1 - churn_risk against what happened),
training only on data up to the cutoff:

- CDNOW sample, cutoff 1997-09-30, 273 days: 0.783 (label horizon 90 days, carried to 273
  by BG/NBD); BG/NBD alone: 0.757 by P(no purchase), 0.773 by expected purchases.
- Online Retail, cutoff 2011-09-09, 91 days: 0.746 (with the order lines' basket
  features); BG/NBD alone: 0.734 by P(no purchase), 0.730 by expected purchases.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import brier_score_loss, roc_auc_score

from regulars import ConfigError, ImportOptions, InputError, Workspace, content_hash, read_source
from regulars.analytics.summary import as_of_bounds, sales
from regulars.churn_scoring import BTYD_COLUMNS, ChurnScores, churn_scores
from regulars.errors import NotFittedError
from regulars.models.churn import ChurnClassifier
from regulars.simulate import simulate_store

Tables = dict[str, ir.Table]


# -- helpers ----------------------------------------------------------------------------------
def _import(source: Path, path: Path, format: str) -> Workspace:
    ws = Workspace(path)
    with read_source(source, format=format) as data:
        ws.write(data, content_hash=content_hash(source, data.format, ImportOptions()))
    return ws


def _simulated(tmp: Path, customers: int, seed: int) -> Tables:
    simulate_store(tmp / "data", customers=customers, seed=seed)
    ws = _import(tmp / "data", tmp / "store.duckdb", "canonical")
    con = ws.connect()
    names = ("orders", "refunds", "events", "order_lines")
    return {name: ws.table(name, con) for name in names}


def _tables(ws: Workspace) -> Tables:
    con = ws.connect()
    return {name: ws.table(name, con) for name in ("orders", "refunds", "events", "order_lines")}


def _bought_again(tables: Mapping[str, ir.Table], as_of: date, horizon: int) -> set[str]:
    sold = sales(tables["orders"], as_of + timedelta(days=horizon))
    sold = sold.filter(sold.ordered_at >= as_of_bounds(as_of))
    return set(sold.customer_id.to_pandas().dropna())


def _judge(scores: ChurnScores, buyers: set[str]) -> dict[str, float]:
    frame = scores.frame
    bought = frame.customer_id.isin(buyers).to_numpy()
    return {
        "auc": roc_auc_score(bought, 1 - frame.churn_risk),
        "brier": brier_score_loss(~bought, frame.churn_risk),
        "btyd_auc": roc_auc_score(bought, 1 - frame.btyd_p_no_purchase),
        "btyd_expected_auc": roc_auc_score(bought, frame.btyd_expected_purchases),
        "btyd_brier": brier_score_loss(~bought, frame.btyd_p_no_purchase),
    }


def _worst_bin(risk: np.ndarray, outcome: np.ndarray, bins: int = 5) -> float:
    """Reliability: the largest gap between mean risk and churn share over risk quantiles."""
    frame = pd.DataFrame({"risk": risk, "churned": outcome.astype(float)})
    frame["bin"] = pd.qcut(frame.risk.rank(method="first"), bins, labels=False)
    means = frame.groupby("bin").mean()
    return float((means.risk - means.churned).abs().max())


def _synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    p = expit(1.5 * x.a - x.b + 0.8)
    return x, p.to_numpy(), (rng.random(n) < p).astype(int)


# -- the classifier's contract -----------------------------------------------------------------
def test_predict_before_fit_raises() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        ChurnClassifier().predict_risk(pd.DataFrame({"a": [1.0]}))


def test_bad_features_are_named() -> None:
    x, _, y = _synthetic(50, 0)
    with pytest.raises(InputError, match="must be numeric") as error:
        ChurnClassifier().fit(x.assign(customer_id="c"), y)
    assert error.value.column == "customer_id"
    with pytest.raises(InputError, match="finite numbers or NaN"):
        ChurnClassifier().fit(x.assign(b=np.inf), y)
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        ChurnClassifier().fit(x.to_numpy(), y)  # type: ignore[arg-type]


def test_bad_labels_are_named() -> None:
    x, _, y = _synthetic(50, 0)
    with pytest.raises(InputError, match="only 0 and 1") as error:
        ChurnClassifier().fit(x, np.where(np.arange(50) == 7, 2, y))
    assert error.value.row == 7
    with pytest.raises(InputError, match="one value per customer"):
        ChurnClassifier().fit(x, y[:-1])
    with pytest.raises(InputError, match="no training customers"):
        ChurnClassifier().fit(x.iloc[:0], y[:0])
    with pytest.raises(InputError, match="calibration must be"):
        ChurnClassifier(calibration="beta").fit(x, y)  # type: ignore[arg-type]


def test_prediction_needs_the_columns_of_fit() -> None:
    x, _, y = _synthetic(600, 1)
    model = ChurnClassifier().fit(x, y)
    assert model.method_ == "gradient-boosting"
    with pytest.raises(InputError, match="seen in fit are missing"):
        model.predict_risk(x.drop(columns="b"))
    # Extra columns are ignored and the order does not matter.
    same = model.predict_risk(x[["c", "b", "a"]].assign(customer_id="c"))
    assert np.array_equal(same, model.predict_risk(x))


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_boosting_is_calibrated(calibration: str) -> None:
    x, _, y = _synthetic(3000, 2)
    test_x, p, outcome = _synthetic(3000, 3)
    model = ChurnClassifier(calibration=calibration).fit(x, y)  # type: ignore[arg-type]
    risk = model.predict_risk(test_x)
    assert risk.min() >= 0 and risk.max() <= 1
    # Nearly as good as the true probabilities, far better than the churn share alone.
    assert brier_score_loss(outcome, risk) <= brier_score_loss(outcome, p) + 0.005
    assert (
        brier_score_loss(outcome, risk) < brier_score_loss(outcome, np.full(3000, y.mean())) - 0.05
    )
    assert np.abs(risk - p).mean() < 0.06
    assert _worst_bin(risk, outcome) < 0.06


def test_the_linear_companion_is_optional_and_checked() -> None:
    x, _, y = _synthetic(3000, 6)
    blended = ChurnClassifier().fit(x, y)
    alone = ChurnClassifier(linear_weight=0).fit(x, y)
    linear = ChurnClassifier(linear_weight=1).fit(x, y)
    assert "logistic regression (weight 0.5)" in blended.reason_
    assert "logistic" not in alone.reason_
    risks = [m.predict_risk(x) for m in (alone, linear, blended)]
    assert not np.allclose(risks[0], risks[1]) and not np.allclose(risks[0], risks[2])
    # On a logistic truth (with negative features: the signed log keeps them), the linear
    # model alone does at least as well as the booster, and the blend is in between.
    test_x, _, outcome = _synthetic(3000, 7)
    brier = [brier_score_loss(outcome, m.predict_risk(test_x)) for m in (alone, linear, blended)]
    assert brier[1] <= brier[0] + 0.002
    assert min(brier[:2]) - 0.002 <= brier[2] <= max(brier[:2]) + 0.002
    for bad in ({"linear_weight": 1.5}, {"linear_weight": -0.1}, {"linear_c": 0.0}):
        with pytest.raises(InputError, match="linear_weight must lie in"):
            ChurnClassifier(**bad).fit(x, y)  # type: ignore[arg-type]


# -- fallbacks -------------------------------------------------------------------------------
def test_few_customers_fall_back_to_btyd() -> None:
    x, _, y = _synthetic(200, 4)
    x["btyd_p_no_purchase"] = np.linspace(0, 1, 200)
    model = ChurnClassifier().fit(x, y)
    assert model.method_ == "btyd"
    assert "fewer than min_customers=500" in model.reason_
    assert np.allclose(model.predict_risk(x), x.btyd_p_no_purchase)


def test_one_outcome_falls_back() -> None:
    x, _, _ = _synthetic(800, 5)
    x["btyd_p_no_purchase"] = 0.5
    model = ChurnClassifier().fit(x, np.ones(800, dtype=int))
    assert model.method_ == "btyd"
    assert "bought again" in model.reason_
    empirical = ChurnClassifier().fit(
        pd.DataFrame({"order_days": [1] * 800, "days_since_last_order": range(800)}),
        np.ones(800, dtype=int),
    )
    assert empirical.method_ == "empirical"


def test_empirical_model_by_hand() -> None:
    # 20 one-time buyers waiting 0..19 days: those who waited 10+ days all churned, and
    # half of the others. Groups below 20 customers (here: 2 purchase days) use everyone.
    waits = np.arange(20.0)
    churned = np.where(waits >= 10, 1, waits % 2)
    one_time = pd.DataFrame({"order_days": 1, "days_since_last_order": waits})
    two = pd.DataFrame({"order_days": [2, 2], "days_since_last_order": [5.0, 50.0]})
    model = ChurnClassifier().fit(pd.concat([one_time, two]), np.r_[churned, [0, 0]])
    assert model.method_ == "empirical"
    risk = model.predict_risk(
        pd.DataFrame({"order_days": [1, 1, 1, 2], "days_since_last_order": [10.0, 0.0, 99.0, 60]})
    )
    share = 15 / 20
    # Waited 10 days: of the 10 who waited 10+, 10 churned; shrunk with weight 5 to 15/20.
    assert risk[0] == pytest.approx((10 + 5 * share) / (10 + 5))
    assert risk[1] == pytest.approx((15 + 5 * share) / (20 + 5))
    # Longer than anyone: read at the longest wait in the group (19 days, 1 churned of 1).
    assert risk[2] == pytest.approx((1 + 5 * share) / (1 + 5))
    # Two purchase days: the pooled table (22 customers, 15 churned), waited 50 (the longest).
    pooled = 15 / 22
    assert risk[3] == pytest.approx((0 + 5 * pooled) / (1 + 5))


def test_empirical_model_needs_its_columns() -> None:
    x, _, y = _synthetic(100, 6)
    with pytest.raises(InputError, match="empirical churn model needs"):
        ChurnClassifier().fit(x, y)


# -- scoring a store ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    return _simulated(tmp_path_factory.mktemp("churn_sim"), 3000, 3)


SIM_AS_OF = date(2025, 9, 30)


def test_simulated_store_is_ranked_and_calibrated(simulated: Tables) -> None:
    scores = churn_scores(simulated, as_of=SIM_AS_OF, horizon_days=91)
    assert scores.method == "gradient-boosting"
    assert scores.label_horizon_days == 91
    assert scores.training_cutoff == date(2025, 7, 1)
    assert scores.training_customers > 1500
    frame = scores.frame
    assert list(frame.columns) == ["customer_id", "churn_risk", *BTYD_COLUMNS]
    assert frame.customer_id.is_unique and frame.churn_risk.between(0, 1).all()
    bought = frame.customer_id.isin(_bought_again(simulated, SIM_AS_OF, 91)).to_numpy()
    got = _judge(scores, set(frame.customer_id[bought]))
    # Measured: AUC 0.834 (BG/NBD 0.806), Brier 0.121 (BG/NBD 0.125). The worst fifth by
    # risk is off by 0.083 (the booster alone: 0.074; BG/NBD 0.040): the fifth least
    # likely to churn is given 0.52 and 0.44 churned. Both models read that off the
    # training period, whose best customers churned more; a fifth of ~480 customers has a
    # standard error of about 0.02.
    assert got["auc"] >= 0.82
    assert got["auc"] > got["btyd_auc"] + 0.01
    assert got["brier"] < got["btyd_brier"]
    assert _worst_bin(frame.churn_risk.to_numpy(), ~bought) < 0.09


def test_order_lines_add_basket_features(simulated: Tables) -> None:
    with_lines = churn_scores(simulated, as_of=SIM_AS_OF, horizon_days=91)
    assert {"distinct_products", "lines_per_order", "btyd_p_alive"} <= set(with_lines.features)
    without = {k: v for k, v in simulated.items() if k != "order_lines"}
    scores = churn_scores(without, as_of=SIM_AS_OF, horizon_days=91)
    assert {"recency_days", "btyd_p_alive"} <= set(scores.features)
    assert "distinct_products" not in scores.features


def test_nothing_after_as_of_is_read(simulated: Tables) -> None:
    end = as_of_bounds(SIM_AS_OF)
    cut = {
        "orders": simulated["orders"].filter(simulated["orders"].ordered_at < end),
        "refunds": simulated["refunds"].filter(simulated["refunds"].refunded_at < end),
        "events": simulated["events"].filter(simulated["events"].occurred_at < end),
    }
    lines = simulated["order_lines"]
    cut["order_lines"] = lines.filter(lines.order_id.isin(cut["orders"].order_id))
    full = churn_scores(simulated, as_of=SIM_AS_OF, horizon_days=91)
    seen = churn_scores(cut, as_of=SIM_AS_OF, horizon_days=91)
    pd.testing.assert_frame_equal(full.frame, seen.frame)


def test_small_store_falls_back_to_btyd(tmp_path: Path) -> None:
    tables = _simulated(tmp_path, 200, 1)
    scores = churn_scores(tables, as_of=SIM_AS_OF, horizon_days=91)
    assert scores.method == "btyd"
    assert 0 < scores.training_customers < 500
    assert "fewer than min_customers=500" in scores.reason
    assert np.allclose(scores.frame.churn_risk, scores.frame.btyd_p_no_purchase)


def test_short_history_scores_with_btyd_alone(simulated: Tables) -> None:
    scores = churn_scores(simulated, as_of=date(2024, 1, 31), horizon_days=91)
    assert (scores.method, scores.training_customers) == ("btyd", 0)
    assert "too short to train" in scores.reason
    assert np.allclose(scores.frame.churn_risk, scores.frame.btyd_p_no_purchase)


def test_options_are_checked(simulated: Tables) -> None:
    for horizon in (0, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="horizon_days must be a whole number"):
            churn_scores(simulated, as_of=SIM_AS_OF, horizon_days=horizon)
    with pytest.raises(ConfigError, match="Unknown model 'pareto'"):
        churn_scores(simulated, as_of=SIM_AS_OF, horizon_days=91, btyd_model="pareto")
    with pytest.raises(InputError, match="no sales on or before 2023-12-31"):
        churn_scores(simulated, as_of=date(2023, 12, 31), horizon_days=91)


# -- real data (slow): the accuracy targets, measured honestly ----------------------------------
@pytest.mark.slow
def test_cdnow_39_weeks(cdnow_workspace: Workspace) -> None:
    tables, as_of = _tables(cdnow_workspace), date(1997, 9, 30)
    scores = churn_scores(tables, as_of=as_of, horizon_days=273)
    # 272 days of history: a 273-day label is impossible, so a 90-day one is learned.
    assert (scores.label_horizon_days, scores.training_cutoff) == (90, date(1997, 7, 2))
    assert scores.method == "gradient-boosting" and scores.training_customers == 2357
    assert "too short to learn a 273-day horizon" in scores.reason
    got = _judge(scores, _bought_again(tables, as_of, 273))
    # Measured 0.783 (target 0.79 not reached); BG/NBD: 0.757 by P(no purchase), 0.773 by
    # expected purchases. Brier 0.157 against BG/NBD's 0.161.
    assert got["auc"] >= 0.778
    assert got["btyd_auc"] == pytest.approx(0.757, abs=0.002)
    assert got["btyd_expected_auc"] == pytest.approx(0.7725, abs=0.002)
    assert got["brier"] < got["btyd_brier"]


@pytest.fixture(scope="module")
def online_retail(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    source = shared_data / "online_retail" / "online_retail.csv.gz"
    return _import(source, tmp_path_factory.mktemp("retail") / "retail.duckdb", "online-retail")


@pytest.mark.slow
def test_online_retail_13_weeks(online_retail: Workspace) -> None:
    tables, as_of = _tables(online_retail), date(2011, 9, 9)
    scores = churn_scores(tables, as_of=as_of, horizon_days=91)
    assert (scores.label_horizon_days, scores.training_cutoff) == (91, date(2011, 6, 10))
    assert scores.method == "gradient-boosting"
    got = _judge(scores, _bought_again(tables, as_of, 91))
    # The order lines add the basket features.
    assert {"distinct_products", "lines_per_order"} <= set(scores.features)
    # Measured 0.746 (target 0.75 not reached; 0.739 before the linear companion and the
    # basket features); BG/NBD: 0.734 by P(no purchase), 0.730 by expected purchases.
    # Brier 0.208 against BG/NBD's 0.217.
    assert got["auc"] >= 0.742
    assert got["auc"] > got["btyd_expected_auc"]
    assert got["brier"] < got["btyd_brier"] - 0.004


def test_a_big_training_set_is_sampled_and_said() -> None:
    rng = np.random.default_rng(3)
    n = 3_000
    features = pd.DataFrame({"days_since_last_order": rng.integers(0, 400, n).astype(float)})
    churned = (features["days_since_last_order"] + rng.normal(0, 80, n) > 200).astype(int)
    model = ChurnClassifier(max_train_customers=1_000).fit(features, churned)
    assert model.method_ == "gradient-boosting"
    assert "a random 1,000 of them" in model.reason_
    risk = model.predict_risk(features)
    assert risk.shape == (n,) and ((risk >= 0) & (risk <= 1)).all()
