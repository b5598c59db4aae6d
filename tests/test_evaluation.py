"""evaluate(): the holdout evaluation glue on a simulated store, and its HTML page.

The real-data checks live beside their fixtures: CDNOW (FHL 2005) in
``tests/models/test_evaluate.py``, Online Retail in ``tests/analytics/test_holdout.py``.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from regulars import ImportOptions, Workspace, content_hash, read_source
from regulars.analytics.holdout import calibration_holdout
from regulars.analytics.summary import customer_summary
from regulars.engines import open_engine
from regulars.errors import ConfigError, InputError, ModelError
from regulars.evaluation import MODELS, Evaluation, evaluate
from regulars.models.btyd import BGNBD
from regulars.report.evaluation import render_evaluation
from regulars.simulate import simulate_store

CUTOFF = date(2025, 6, 30)
HORIZON = 184  # to 2025-12-31, the simulated store's last day


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ir.Table]]:
    root = tmp_path_factory.mktemp("evaluation")
    simulate_store(root / "store", customers=600, seed=7, events=False)
    ws = Workspace(root / "sim.duckdb")
    with read_source(root / "store") as data:
        ws.write(data, content_hash=content_hash(root / "store", data.format, ImportOptions()))
    with open_engine(ws) as engine:
        yield engine.tables()


@pytest.fixture(scope="module")
def result(tables: dict[str, ir.Table]) -> Evaluation:
    return evaluate(tables, cutoff=CUTOFF, horizon_days=HORIZON, store="simulated")


def test_the_split_adds_up(result: Evaluation, tables: dict[str, ir.Table]) -> None:
    everyone = customer_summary(tables["orders"], tables["refunds"], as_of=result.holdout_end)
    assert result.customers + result.new_customers == everyone.count().to_pyarrow().as_py()
    assert result.customers > 300 and result.new_customers > 0
    assert result.holdout_end == date(2025, 12, 31) and result.horizon_days == HORIZON
    track = result.tracking
    assert track.days[-1] == result.holdout_end and CUTOFF in track.days
    assert track.actual == sorted(track.actual)
    cut = track.days.index(CUTOFF)
    assert track.actual[cut] == result.calibration_repeat_purchases
    assert track.actual[-1] == result.calibration_repeat_purchases + result.holdout_purchases


def test_every_count_model_is_scored_and_the_best_named(result: Evaluation) -> None:
    for key in ("bgnbd", "mbgnbd"):
        c = result.candidate(key)
        assert c.status == "ok" and c.metrics is not None
        assert c.metrics.customers == result.customers
        assert c.metrics.actual_purchases == result.holdout_purchases
        assert c.metrics.auc is not None and c.metrics.auc > 0.7
        assert len(c.metrics.conditional_expectation) == 8
        assert len(c.tracking) == len(result.tracking.days)
        assert c.spend_model
    maes = {c.key: c.metrics.mae for c in result.candidates if c.metrics and c.metrics.mae}
    assert result.best == min(maes, key=lambda k: maes[k])
    assert "MAE" in result.best_reason


def test_models_are_fitted_on_the_calibration_period_only(
    result: Evaluation, tables: dict[str, ir.Table]
) -> None:
    calib = customer_summary(tables["orders"], tables["refunds"], as_of=CUTOFF).to_pandas()
    direct = BGNBD().fit(calib["frequency"], calib["recency_days"], calib["t_days"])
    for name, value in direct.params_.items():
        assert result.candidate("bgnbd").params[name] == pytest.approx(value, rel=1e-6)


def test_to_dict_is_json_ready(result: Evaluation) -> None:
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["cutoff"] == "2025-06-30" and data["best"] == result.best
    assert set(data["tracking"]["predicted"]) >= {"bgnbd", "mbgnbd"}
    assert {"mae", "auc", "normalized_gini", "split"} <= set(data["definitions"])


def test_a_fractional_horizon_is_whole_days(tables: dict[str, ir.Table]) -> None:
    got = evaluate(
        tables, cutoff=date(2025, 3, 31), horizon_days=91.3125, models=["BG/NBD"]
    )  # 3 months
    assert got.horizon_days == 91 and got.holdout_end == date(2025, 6, 30)
    assert [c.key for c in got.candidates if c.kind == "count model"] == ["bgnbd"]


def test_wrong_requests_are_refused(tables: dict[str, ir.Table]) -> None:
    with pytest.raises(ConfigError, match="Unknown model"):
        evaluate(tables, cutoff=CUTOFF, horizon_days=30, models=["prophet"])
    with pytest.raises(ConfigError, match="at least one day"):
        evaluate(tables, cutoff=CUTOFF, horizon_days=0.5)
    with pytest.raises(InputError, match="no sale on or before the cutoff"):
        evaluate(tables, cutoff=date(2020, 1, 1), horizon_days=30)
    with pytest.raises(InputError, match="before the end of the holdout"):
        evaluate(tables, cutoff=CUTOFF, horizon_days=HORIZON + 1)


def test_a_missing_model_is_listed_as_unavailable(
    tables: dict[str, ir.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "paretonbd", ("regulars.models.btyd.no_such_model", "X", "X/NBD"))
    got = evaluate(tables, cutoff=CUTOFF, horizon_days=HORIZON, churn_classifier=False)
    pareto = got.candidate("paretonbd")
    assert pareto.status == "unavailable" and "no_such_model" in pareto.reason
    assert pareto.metrics is None and got.best in {"bgnbd", "mbgnbd"}
    assert all(c.key != "churn" for c in got.candidates)


@dataclass
class FakeScores:
    frame: pd.DataFrame
    method: str = "fake"
    reason: str = "A stand-in for the churn classifier."


def test_the_churn_classifier_sees_only_the_calibration_period(
    tables: dict[str, ir.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def churn_scores(
        given: dict[str, ir.Table], *, as_of: date, horizon_days: int, currency: str | None = None
    ) -> Any:
        seen["last_order"] = given["orders"].ordered_at.max().to_pyarrow().as_py()
        seen["as_of"], seen["horizon"] = as_of, horizon_days
        summary = customer_summary(given["orders"], given["refunds"], as_of=as_of).to_pandas()
        risk = 1 / (1 + summary["frequency"])  # fewer repeats, more risk
        return FakeScores(pd.DataFrame({"customer_id": summary["customer_id"], "churn_risk": risk}))

    module = types.ModuleType("regulars.churn_scoring")
    module.churn_scores = churn_scores  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regulars.churn_scoring", module)
    got = evaluate(tables, cutoff=CUTOFF, horizon_days=HORIZON, models=["bgnbd"])
    assert seen["last_order"] < datetime(2025, 7, 1, tzinfo=seen["last_order"].tzinfo)
    assert (seen["as_of"], seen["horizon"]) == (CUTOFF, HORIZON)
    churn = got.candidate("churn")
    assert churn.status == "ok" and churn.name == "Churn classifier (fake)"
    assert churn.metrics is not None and churn.metrics.mae is None
    # the same AUC from the split: P(buys) = 1 - risk = x / (1 + x)
    split = calibration_holdout(
        tables["orders"], tables["refunds"], cutoff=CUTOFF, horizon_days=HORIZON
    ).to_pandas()
    expected = roc_auc_score(split["holdout_purchases"] > 0, 1 - 1 / (1 + split["frequency"]))
    assert churn.metrics.customers == got.customers
    assert churn.metrics.auc == pytest.approx(expected)
    assert got.best == "bgnbd"  # a classifier is never the best count model


def test_a_failing_churn_classifier_does_not_stop_the_evaluation(
    tables: dict[str, ir.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    def churn_scores(*args: Any, **kwargs: Any) -> Any:
        raise ModelError("Too few churned customers to learn from.")

    module = types.ModuleType("regulars.churn_scoring")
    module.churn_scores = churn_scores  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regulars.churn_scoring", module)
    got = evaluate(tables, cutoff=CUTOFF, horizon_days=HORIZON, models=["bgnbd"])
    churn = got.candidate("churn")
    assert churn.status == "failed" and "Too few" in churn.reason
    assert got.best == "bgnbd"


# -------------------------------------------------------------------------------- the page
def test_the_page_is_self_contained(result: Evaluation) -> None:
    page = render_evaluation(result)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:", page)
    for section in ("verdict", "metrics", "conditional", "tracking", "definitions"):
        assert f'<section id="{section}"' in page
    for chart in ("tracking", "conditional-expectation"):
        assert f'data-chart="{chart}"' in page
    assert "BG/NBD" in page and "MBG/NBD" in page and "(best)" in page
    assert "Actual, holdout" in page and "Normalized Gini" in page
    best = result.candidate(result.best or "")
    assert f"Best model: {best.name}" in page


def test_the_page_says_when_nothing_could_be_scored() -> None:
    nothing = Evaluation(
        store="empty",
        currency="EUR",
        cutoff=date(2024, 1, 31),
        holdout_end=date(2024, 3, 1),
        horizon_days=30,
        customers=3,
        new_customers=0,
        calibration_repeat_purchases=0,
        holdout_purchases=0,
        best_reason="No count model converged, so none can be recommended.",
    )
    page = render_evaluation(nothing)
    assert "No candidate could be scored." in page and "No week to track." in page
    assert "none can be recommended" in page
