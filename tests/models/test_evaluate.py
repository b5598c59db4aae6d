"""Holdout metrics against hand computations, and the CDNOW holdout of FHL 2005."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest
from scipy.stats import spearmanr

from regulars import Workspace
from regulars.errors import InputError
from regulars.models.evaluate import (
    best_by_mae,
    brier_score,
    conditional_expectation,
    expected_cumulative,
    gini,
    holdout_metrics,
    normalized_gini,
    spearman,
)


# ------------------------------------------------------------------------ hand computations
def test_purchase_metrics_by_hand() -> None:
    actual = [0, 1, 3, 0]
    predicted = [0.5, 1.0, 2.0, 0.5]
    m = holdout_metrics(actual, predicted_purchases=predicted)
    assert m.customers == 4 and m.actual_purchases == 4 and m.predicted_purchases == 4.0
    assert m.bias == 0.0
    assert m.mae == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)
    assert m.rmse == pytest.approx(math.sqrt((0.25 + 0 + 1 + 0.25) / 4))
    # Pearson by hand: deviations from the means (1 and 1)
    da, dp = np.array([-1, 0, 2, -1]), np.array([-0.5, 0, 1, -0.5])
    assert m.correlation == pytest.approx(da @ dp / math.sqrt((da @ da) * (dp @ dp)))
    assert m.buyers == 2
    assert m.auc is None and m.spearman is None and m.conditional_expectation == ()


def test_bias_is_a_share_of_the_actual() -> None:
    m = holdout_metrics([2, 2], predicted_purchases=[1.5, 1.5])
    assert m.bias == pytest.approx(-0.25)
    assert holdout_metrics([0, 0], predicted_purchases=[1, 1]).bias is None


def test_conditional_expectation_buckets_seven_and_more() -> None:
    rows = conditional_expectation(
        [0, 0, 1, 7, 12], [0, 1, 2, 5, 9], [0.2, 0.4, 1.0, 6.0, 8.0], max_frequency=7
    )
    assert [r.label for r in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert [r.customers for r in rows] == [2, 1, 0, 0, 0, 0, 0, 2]
    assert rows[0].actual_mean == 0.5 and rows[0].predicted_mean == pytest.approx(0.3)
    assert rows[2].actual_mean is None and rows[2].predicted_mean is None
    assert rows[7].actual_mean == 7.0 and rows[7].predicted_mean == 7.0


def test_auc_and_brier_by_hand() -> None:
    # Pairs (buyer, non-buyer): 0.9 > 0.8, 0.9 > 0.1, 0.3 < 0.8, 0.3 > 0.1: AUC = 3/4.
    m = holdout_metrics([2, 0, 1, 0], probability_buys=[0.9, 0.8, 0.3, 0.1])
    assert m.auc == pytest.approx(0.75)
    assert m.brier == pytest.approx((0.1**2 + 0.8**2 + 0.7**2 + 0.1**2) / 4)
    assert brier_score([1, 0, 1], [0.8, 0.3, 0.4]) == pytest.approx(0.49 / 3)


def test_auc_is_undefined_when_everyone_bought() -> None:
    m = holdout_metrics([1, 2, 1], probability_buys=[0.5, 0.6, 0.7])
    assert m.auc is None and m.brier is not None


def test_gini_by_hand() -> None:
    actual = [3, 0, 1, 0]
    # ordered by the score: 3, 0, 1, 0 -> shares .75 .75 1 1 -> 3.5/4 - 5/8 = 0.25
    assert gini(actual, [4, 3, 2, 1]) == pytest.approx(0.25)
    # the best order: 3, 1, 0, 0 -> .75 1 1 1 -> 3.75/4 - 5/8 = 0.3125
    assert gini(actual, actual) == pytest.approx(0.3125)
    assert normalized_gini(actual, [4, 3, 2, 1]) == pytest.approx(0.8)
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, [-a for a in actual]) < 0


def test_gini_shares_ties_so_input_order_does_not_matter() -> None:
    actual = [5.0, 0.0, 0.0, 1.0]
    assert gini(actual, [1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini(actual, [2, 1, 1, 0]) == pytest.approx(gini(actual[::-1], [0, 1, 1, 2]))
    assert normalized_gini([0, 0], [1, 2]) is None


def test_spearman_by_hand() -> None:
    # ranks 1,2,3 vs 1,3,2: 1 - 6 * 2 / (3 * 8) = 0.5
    assert spearman([1, 2, 3], [10, 30, 20]) == pytest.approx(0.5)
    a, p = [1, 1, 2, 5, 3], [0.1, 0.2, 0.2, 0.9, 0.3]
    assert spearman(a, p) == pytest.approx(spearmanr(a, p).statistic)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_revenue_metrics_need_both_sides() -> None:
    m = holdout_metrics([1, 0, 2], actual_revenue=[10, 0, 30], predicted_revenue=[8, 1, 20])
    assert (m.actual_revenue, m.predicted_revenue) == (40, 29)
    assert m.spearman == pytest.approx(1.0) and m.normalized_gini == pytest.approx(1.0)
    with pytest.raises(InputError, match="both"):
        holdout_metrics([1], actual_revenue=[1.0])


def test_lengths_and_missing_values_are_refused() -> None:
    with pytest.raises(InputError, match="one per customer"):
        holdout_metrics([1, 2], predicted_purchases=[1.0])
    with pytest.raises(InputError, match="finite"):
        holdout_metrics([1, 2], predicted_purchases=[1.0, float("nan")])


def test_to_dict_is_json_ready() -> None:
    m = holdout_metrics(
        [0, 1], frequency=[0, 3], predicted_purchases=[0.2, 0.9], probability_buys=[0.1, 0.7]
    )
    data = m.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["conditional_expectation"][0] == {
        "frequency": 0,
        "label": "0",
        "customers": 1,
        "actual_mean": 0.0,
        "predicted_mean": 0.2,
    }
    assert data["spearman"] is None


def test_expected_cumulative_sums_over_first_purchase_days() -> None:
    # E[X(t)] = t / 10; 2 customers start on day 0, 1 on day 5; evaluated at days 4 and 10.
    got = expected_cumulative([0, 5], [2, 1], [4, 10], lambda t: np.asarray(t) / 10)
    assert got == pytest.approx([2 * 0.4, 2 * 1.0 + 0.5])


def test_best_by_mae_names_the_lowest_and_ties() -> None:
    assert best_by_mae({}) == (None, "No count model converged, so none can be recommended.")
    name, why = best_by_mae({"BG/NBD": 0.8, "MBG/NBD": 0.7})
    assert name == "MBG/NBD" and "lowest" in why and "BG/NBD 0.8" in why
    name, why = best_by_mae({"BG/NBD": 0.5, "MBG/NBD": 0.5 + 1e-9})
    assert name == "BG/NBD" and "tied" in why
    assert best_by_mae({"BG/NBD": 0.5})[0] == "BG/NBD"


# ------------------------------------------------------------- CDNOW: FHL 2005, weeks 40-78
CUTOFF = date(1997, 9, 30)
HORIZON = 273  # weeks 40-78, in days

PUBLISHED = {  # FHL 2005, Fig. 4 (clv-peers.md): x -> (customers, actual, BG/NBD)
    0: (1411, 0.237, 0.225),
    1: (439, 0.697, 0.523),
    2: (214, 1.393, 1.044),
    3: (100, 1.560, 1.520),
    4: (62, 2.532, 2.164),
    5: (38, 2.947, 2.654),
    6: (29, 3.862, 3.504),
    7: (64, 6.359, 6.157),
}


@pytest.fixture(scope="module")
def cdnow_evaluation(cdnow_workspace: Workspace) -> Iterator[object]:
    from regulars.engines import open_engine
    from regulars.evaluation import evaluate

    with open_engine(cdnow_workspace) as engine:
        yield evaluate(engine.tables(), cutoff=CUTOFF, horizon_days=HORIZON, store="CDNOW")


@pytest.mark.slow
def test_cdnow_holdout_has_the_published_purchases(cdnow_evaluation: object) -> None:
    from regulars.evaluation import Evaluation

    assert isinstance(cdnow_evaluation, Evaluation)
    e = cdnow_evaluation
    assert (e.customers, e.new_customers, e.holdout_purchases) == (2357, 0, 1882)
    assert e.holdout_end == date(1998, 6, 30)
    # the tracking plot: 4,339 repeat purchases by the end of week 78, 2,457 by week 39
    assert e.tracking.weeks[39] == 39 and e.tracking.actual[39] == 2457
    assert e.tracking.weeks[-1] == 78 and e.tracking.actual[-1] == 4339


@pytest.mark.slow
def test_cdnow_bgnbd_matches_fhl_2005(cdnow_evaluation: object) -> None:
    from regulars.evaluation import Evaluation

    assert isinstance(cdnow_evaluation, Evaluation)
    bg = cdnow_evaluation.candidate("bgnbd")
    assert bg.status == "ok" and bg.metrics is not None
    weekly = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}  # alpha in days
    for name, value in weekly.items():
        assert bg.params[name] == pytest.approx(value, rel=2e-3), name
    m = bg.metrics
    assert m.actual_purchases == 1882
    assert m.predicted_purchases == pytest.approx(1653, abs=0.5)
    assert m.bias == pytest.approx(-0.12, abs=0.005)
    assert round(m.correlation or 0, 3) == 0.626
    for row in m.conditional_expectation:
        customers, actual, predicted = PUBLISHED[row.frequency]
        assert row.customers == customers
        assert round(row.actual_mean or 0, 3) == actual
        assert round(row.predicted_mean or 0, 3) == predicted
    # the unconditional forecast at week 78 is 4% under the actual 4,339
    assert (bg.tracking[-1] - 4339) / 4339 == pytest.approx(-0.04, abs=0.005)


@pytest.mark.slow
def test_cdnow_paretonbd_matches_fhl_2005_when_installed(cdnow_evaluation: object) -> None:
    from regulars.evaluation import Evaluation

    assert isinstance(cdnow_evaluation, Evaluation)
    pareto = cdnow_evaluation.candidate("paretonbd")
    if pareto.status == "unavailable":
        pytest.skip(pareto.reason)
    assert pareto.status == "ok" and pareto.metrics is not None, pareto.reason
    assert round(pareto.metrics.correlation or 0, 3) == 0.630
    zero = pareto.metrics.conditional_expectation[0]
    assert round(zero.predicted_mean or 0, 3) == 0.138
    assert (pareto.tracking[-1] - 4339) / 4339 == pytest.approx(-0.02, abs=0.005)
