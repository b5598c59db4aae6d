"""`regulars predict` and the predicted columns of `regulars customers`, end to end."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cli_support import run
from regulars import Workspace
from regulars.cli import main
from regulars.predict import predict
from regulars.simulate import simulate_store

PREDICTED = [
    "model", "expected_orders", "p_alive", "churn_risk", "expected_next_order_at",
    "expected_spend", "clv", "clv_low", "clv_high", "at_risk",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("predict")
    simulate_store(folder / "data", customers=900, seed=5, events=True)
    code = None
    try:
        main(["import", str(folder / "data"), "--workspace", str(folder / "store.duckdb")])
    except SystemExit as exit_:
        code = exit_.code
    assert code in (0, None)
    return folder / "store.duckdb"


def test_predict_writes_every_customer(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, js = tmp_path / "p.parquet", tmp_path / "p.json"
    code, printed, err = run(
        ["predict", str(store), "--horizon", "90d", "--model", "mbgnbd", "--out", str(out),
         "--json", str(js)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    frame = pd.read_parquet(out)
    assert set(PREDICTED) <= set(frame.columns)
    assert (frame["model"] == "MBG/NBD").all()
    assert frame["churn_risk"].between(0, 1).all() and frame["p_alive"].between(0, 1).all()
    assert frame["at_risk"].sum() == frame["at_risk_rank"].notna().sum()
    how = json.loads(js.read_text())
    assert how["horizon_days"] == 90 and how["model"] == "MBG/NBD"
    assert "Model: mbgnbd" in " ".join(printed.split())


def test_auto_choice_says_why(store: Path) -> None:
    ws = Workspace(store)
    tables = {n: ws.table(n) for n in ("orders", "refunds", "order_lines", "customers", "events")}
    result = predict(tables, horizon_days=91, churn=False, n_draws=10)
    assert "lowest mean absolute error" in result.model_reason
    scored = [c for c in result.selection if c["mae"] is not None]
    assert len(scored) >= 2
    best = min(c["mae"] for c in scored)
    assert result.model_reason.startswith(next(c["model"] for c in scored if c["mae"] == best))


def test_predictions_see_nothing_after_as_of(store: Path) -> None:
    ws = Workspace(store)
    tables = {n: ws.table(n) for n in ("orders", "refunds", "order_lines", "customers", "events")}
    early = predict(tables, as_of=date(2024, 12, 31), model="bgnbd", churn=False, n_draws=0).frame
    first = ws.table("orders").group_by("customer_id").aggregate(f=lambda t: t.ordered_at.min())
    seen = first.to_pandas()
    known = seen[seen["f"] < pd.Timestamp("2025-01-01", tz="UTC")]["customer_id"]
    assert set(early["customer_id"]) == set(known.dropna())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--horizon", "12"], "not a horizon with a unit"),
        (["--model", "weibull"], "Unknown model"),
        (["--out", "p.xlsx"], "unknown file type"),
        (["--discount-rate", "-1"], "discount rate"),
    ],
)
def test_mistakes_are_explained(
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    argv = ["predict", str(store), "--out", str(tmp_path / "p.csv"), *args]
    if "--out" in args:
        argv = ["predict", str(store), *args]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_customers_table_carries_the_predictions(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.csv"
    code, _, err = run(["customers", str(store), "--out", str(out), "--horizon", "13w"], capsys)
    assert code == 0, err
    frame = pd.read_csv(out)
    assert set(PREDICTED) <= set(frame.columns)
    assert frame["clv"].notna().all()


def test_predictions_can_be_left_out(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.parquet"
    code, _, err = run(["customers", str(store), "--out", str(out), "--no-predictions"], capsys)
    assert code == 0, err
    frame = pd.read_parquet(out)
    assert "clv" not in frame.columns and "historic_clv" in frame.columns


def test_a_short_history_says_why_it_picks_mbgnbd(store: Path) -> None:
    ws = Workspace(store)
    tables = {n: ws.table(n) for n in ("orders", "refunds", "order_lines", "customers", "events")}
    result = predict(tables, as_of=date(2024, 9, 30), horizon_days=365, churn=False, n_draws=0)
    assert result.model == "MBG/NBD"
    assert "too short to hold out 365 days" in result.model_reason


def test_at_risk_are_valuable_risky_and_ranked_by_value_lost(store: Path) -> None:
    ws = Workspace(store)
    tables = {n: ws.table(n) for n in ("orders", "refunds", "order_lines", "customers", "events")}
    frame = predict(tables, horizon_days=91, model="bgnbd", n_draws=0).frame
    risky = frame[frame["at_risk"]].sort_values("at_risk_rank")
    assert len(risky) > 0
    assert list(risky["at_risk_rank"]) == list(range(1, len(risky) + 1))
    assert risky["value_at_risk"].is_monotonic_decreasing
    assert ((risky["churn_risk"] >= 0.5) | (risky["p_alive"] <= 0.5)).all()
