"""Every model converges on every real data set, without a penalizer (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regulars.models.btyd.gammagamma import GammaGamma
from regulars.models.select import CANDIDATES, model_class

DATA_SETS = ["online_retail", "cdnow_master"]


@pytest.mark.slow
@pytest.mark.parametrize("data_set", DATA_SETS)
@pytest.mark.parametrize("name", CANDIDATES)
def test_count_models_converge_without_a_penalizer(
    real_summaries: dict[str, pd.DataFrame], data_set: str, name: str
) -> None:
    try:
        model_class(name)
    except ImportError:  # pragma: no cover - a model still being written
        pytest.skip(f"{name} is not available")
    s = real_summaries[data_set]
    model = model_class(name)().fit(s["frequency"], s["recency_days"], s["t_days"])
    assert model.gradient_norm_ < 1e-4
    assert np.isfinite(model.loglik_)
    alive = model.probability_alive(s["frequency"], s["recency_days"], s["t_days"])
    expected = model.expected_purchases(s["frequency"], s["recency_days"], s["t_days"], horizon=90)
    assert np.isfinite(alive).all() and np.isfinite(expected).all()
    assert (expected >= 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("data_set", DATA_SETS)
def test_gamma_gamma_converges_and_never_gives_nan(
    real_summaries: dict[str, pd.DataFrame], data_set: str
) -> None:
    s = real_summaries[data_set]
    model = GammaGamma().fit(s["frequency"], s["monetary_value"])
    spend = model.expected_spend(s["frequency"], s["monetary_value"])
    assert np.isfinite(spend).all() and (spend > 0).all()
