"""Scoring the operational store: one complete version, equal to the workspace analysis."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from live_shop import fill_store

from cli_support import run
from regulars.analysis import analyze
from regulars.engines import open_engine
from regulars.errors import InputError
from regulars.live import scoring
from regulars.live.scoring import score_store, store_tables
from regulars.live.sync import sync_to_workspace
from regulars.predict import PredictionOptions
from regulars.store import CustomerScore, Database, Order, OrderLine, open_database
from regulars.store.tables import CUSTOMER_SCORES, ORDERS
from regulars.workspace import Workspace

HORIZON = 180.0


def _buyers(database: Database) -> int:
    with database.engine.connect() as conn:
        query = sa.select(sa.func.count(sa.distinct(ORDERS.c.customer_id))).where(
            ORDERS.c.customer_id.is_not(None), ORDERS.c.status != "cancelled"
        )
        return int(conn.execute(query).scalar_one())


def _reference(database: Database, folder: Path) -> pd.DataFrame:
    """Return the customer table that `analyze` gives on a workspace of the same data."""
    sync_to_workspace(database, folder / "ws.duckdb")
    with open_engine(Workspace(folder / "ws.duckdb")) as engine:
        analysis = analyze(
            engine.tables(),
            store="reference",
            include_customers=True,
            predictions=PredictionOptions(HORIZON, "auto", 0.1),
        )
    return analysis.customers.set_index("customer_id")


def test_score_store_writes_what_the_analysis_gives(shop_store: Database, tmp_path: Path) -> None:
    version = score_store(shop_store, horizon_days=HORIZON, recommendations=5)
    assert version.status == "complete" and version.completed_at is not None
    assert version.customers == _buyers(shop_store) > 100
    assert version.currency == "USD" and version.meta["predictions"] == "ok"
    assert version.meta["recommendations"] == "ok"
    with shop_store.unit_of_work(read_only=True) as uow:
        assert uow.scores.latest_complete_version() == version
        rows = {s.customer_id: s for s in uow.scores.scores()}
        served = uow.scores.segments()
        champions = uow.scores.segment_customers("Champions", limit=1000)
    reference = _reference(shop_store, tmp_path)
    assert set(rows) == set(reference.index)
    for customer, row in rows.items():
        want = reference.loc[customer]
        assert row.segment == want["rfm_segment"]
        for name in ("p_alive", "expected_orders", "churn_risk", "clv", "value_at_risk"):
            assert getattr(row, name) == pytest.approx(float(want[name]), rel=1e-9, abs=1e-12)
        assert row.at_risk == bool(want["at_risk"])
        assert row.extra["segments"] == list(want["segments"])
        assert row.extra["revenue"] == pytest.approx(float(want["revenue"]))
        assert row.extra["orders"] == int(want["orders"])
        assert 1 <= len(row.extra["recommendations"]) <= 5
        assert set(row.extra["recommendations"][0]) == {"product_id", "score", "reason"}
    expected: Counter[str] = Counter(reference["rfm_segment"])
    for names in reference["segments"]:
        expected.update(set(names) - {None})
    assert dict(served) == dict(expected)
    assert [s for s, _ in served] == sorted(expected)
    assert [c.customer_id for c in champions] == sorted(
        reference.index[reference["rfm_segment"] == "Champions"]
    )


def test_a_failure_mid_scoring_leaves_the_previous_version_served(
    shop_store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = score_store(shop_store, model="mbgnbd", recommendations=0)
    real = scoring.customer_scores

    def failing(*args: Any, **kwargs: Any) -> Iterator[CustomerScore]:
        for n, row in enumerate(real(*args, **kwargs)):
            if n == 60:
                raise RuntimeError("the scoring run died")
            yield row

    monkeypatch.setattr(scoring, "customer_scores", failing)
    with pytest.raises(RuntimeError, match="died"):
        score_store(shop_store, model="mbgnbd", recommendations=0)
    with shop_store.unit_of_work(read_only=True) as uow:
        assert uow.scores.latest_complete_version() == first
        assert [v.id for v in uow.scores.versions()] == [first.id]  # no building row left
    with shop_store.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(CUSTOMER_SCORES)
        assert conn.execute(count).scalar_one() == first.customers


def test_an_empty_store_says_to_send_orders_first(database: Database) -> None:
    with pytest.raises(InputError, match="holds no orders") as info:
        score_store(database)
    assert "Send the store's orders first" in str(info.value)
    with database.unit_of_work(read_only=True) as uow:
        assert uow.scores.versions() == []


def test_a_tiny_store_is_scored_without_crashing(database: Database) -> None:
    with database.unit_of_work() as uow:
        ann = uow.customers.resolve(email="ann@example.com").customer.id
        bob = uow.customers.resolve(email="bob@example.com").customer.id
        for n, (who, day) in enumerate([(ann, 1), (ann, 20), (bob, 5)]):
            uow.orders.upsert(
                Order(
                    f"o{n}",
                    who,
                    datetime(2024, 3, day, tzinfo=UTC),
                    "EUR",
                    subtotal=1999,
                    total=1999,
                    lines=(OrderLine(1, "mug", 1, 1999, 1999),),
                )
            )
    version = score_store(database, recommendations=3)
    assert version.status == "complete" and version.customers == 2
    assert version.meta["predictions"] == "ok" or version.meta["predictions"].startswith(
        "unavailable"
    )
    with database.unit_of_work(read_only=True) as uow:
        rows = uow.scores.scores()
        assert {r.customer_id for r in rows} == {ann, bob}
        assert all(r.segment for r in rows)
        assert sum(n for _, n in uow.scores.segments()) >= 2


def test_store_tables_convert_minor_units_exactly(shop_store: Database) -> None:
    tables = store_tables(shop_store)
    with shop_store.unit_of_work(read_only=True) as uow:
        totals = uow.orders.totals()
    orders = tables["orders"].to_pandas()
    assert len(orders) == totals["USD"]["orders"]
    assert sum(orders["total"]) * 100 == totals["USD"]["total"]
    assert tables["events"].num_rows > 0 and tables["products"].num_rows > 0


def test_the_score_command(
    simulated_shop: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REGULARS_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["score"], capsys)  # ./regulars.db, created empty
    assert code == 2 and "holds no orders" in err
    database = open_database(path=tmp_path / "regulars.db")
    fill_store(database, simulated_shop)
    database.dispose()
    url = f"sqlite:///{tmp_path / 'regulars.db'}"
    argv = ["score", "--database", url, "--horizon", "26w", "--model", "mbgnbd"]
    code, out, err = run([*argv, "--as-of", "2025-03-31", "--recommendations", "2"], capsys)
    assert code == 0, err
    assert "Score version 1:" in out and "as of 2025-03-31" in out
    with open_database(url) as database, database.unit_of_work(read_only=True) as uow:
        version = uow.scores.latest_complete_version()
        assert version is not None and version.meta["horizon_days"] == 182.0
        assert version.as_of == datetime(2025, 3, 31, tzinfo=UTC)
