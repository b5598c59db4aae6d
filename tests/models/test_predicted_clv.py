"""Predicted CLV: units, discounting per period, intervals, spend rules, model choice."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from btyd_simulation import simulate_bgnbd

from regulars.errors import ConfigError
from regulars.models.btyd import BGNBD
from regulars.models.clv import (
    PREDICTION_COLUMNS,
    discount_schedule,
    discounted_purchases,
    predict_customers,
)
from regulars.models.select import model_class, select_model
from regulars.models.units import horizon_label, parse_horizon

TRUTH = {"r": 0.6, "alpha": 25.0, "a": 0.9, "b": 3.0}


@pytest.mark.parametrize(
    ("text", "days"),
    [("90d", 90), ("13w", 91), ("12m", 365.25), ("1y", 365.25), (" 6 M ", 182.625), (30, 30)],
)
def test_horizons_carry_their_unit(text: str | int, days: float) -> None:
    assert parse_horizon(text) == pytest.approx(days)


@pytest.mark.parametrize("text", ["12", "3 fortnights", "-5d", "0d", "d"])
def test_a_horizon_without_unit_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--horizon"):
        parse_horizon(text)


def test_horizon_labels() -> None:
    assert horizon_label(91) == "13 weeks"
    assert horizon_label(365.25) == "1 year"
    assert horizon_label(90) == "90 days"


def test_discount_schedule_is_monthly_and_yearly_rated() -> None:
    ends, factors = discount_schedule(365.25, 0.1)
    assert len(ends) == 12 and ends[-1] == pytest.approx(365.25)
    assert factors[-1] == pytest.approx(1 / 1.1)  # a full year at 10% a year
    ends, factors = discount_schedule(45, 0.1)
    assert list(ends) == pytest.approx([365.25 / 12, 45])
    assert factors[1] == pytest.approx(1.1 ** (-45 / 365.25))
    with pytest.raises(ConfigError, match="discount rate"):
        discount_schedule(90, -0.1)


def test_discounting_lowers_value_and_zero_rate_keeps_it() -> None:
    x, t_x, T = simulate_bgnbd(TRUTH, 3_000, 1)
    model = BGNBD().fit(x, t_x, T)
    plain = model.expected_purchases(x, t_x, T, horizon=730)
    undiscounted = discounted_purchases(model, x, t_x, T, horizon_days=730, annual_rate=0.0)
    assert undiscounted == pytest.approx(plain, rel=1e-9)
    discounted = discounted_purchases(model, x, t_x, T, horizon_days=730, annual_rate=0.2)
    assert (discounted < plain).all() and (discounted > plain / 1.2**2).all()


def summary_frame(n: int = 2_000, seed: int = 3) -> pd.DataFrame:
    x, t_x, T = simulate_bgnbd(TRUTH, n, seed)
    rng = np.random.default_rng(seed)
    days = x + 1
    gross = days * rng.gamma(4.0, 12.0, size=n)
    refunded = np.where(rng.random(n) < 0.1, gross * 0.5, 0.0)
    refunded[0] = gross[0]  # returned everything
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "frequency": x,
            "recency_days": t_x,
            "t_days": T,
            "order_days": days,
            "gross_revenue": gross,
            "revenue": gross - refunded,
            "monetary_value": np.where(x > 0, gross / days, np.nan),
        }
    )


def test_customer_predictions_have_every_column_and_sane_values() -> None:
    summary = summary_frame()
    model = BGNBD().fit(summary["frequency"], summary["recency_days"], summary["t_days"])
    out = predict_customers(summary, model, as_of=date(2025, 12, 31), horizon_days=365, n_draws=40)
    assert tuple(out.columns) == PREDICTION_COLUMNS
    assert len(out) == len(summary) and (out["model"] == "BG/NBD").all()
    assert ((out["clv_low"] <= out["clv"]) & (out["clv"] <= out["clv_high"])).all()
    assert (out["clv"] >= 0).all() and out["clv"].notna().all()
    assert out.loc[0, "clv"] == 0  # everything returned: worth nothing
    alive = out["expected_next_order_at"].notna()
    assert (out.loc[alive, "expected_next_order_at"] > date(2025, 12, 31)).all()
    # no date: not even a 50% chance of another purchase within ten years
    quiet = model.probability_no_purchase(
        summary["frequency"], summary["recency_days"], summary["t_days"], horizon=3650
    )
    assert (quiet[~alive.to_numpy()] > 0.5 - 1e-9).all()


def test_model_choice_reports_every_candidate() -> None:
    x, t_x, T = simulate_bgnbd(TRUTH, 3_000, 4)
    calibration = pd.DataFrame({"frequency": x, "recency_days": t_x, "t_days": T})
    actual = np.random.default_rng(0).poisson(0.3, size=len(x))
    chosen = select_model(calibration, actual, horizon_days=90, candidates=("bgnbd", "mbgnbd"))
    assert chosen.chosen in ("bgnbd", "mbgnbd")
    assert {c.name for c in chosen.candidates} == {"bgnbd", "mbgnbd"}
    assert "lowest mean absolute error" in chosen.reason
    with pytest.raises(ConfigError, match="Unknown model 'weibull'"):
        model_class("weibull")
    assert model_class("BG/NBD") is BGNBD
