"""`regulars sync`: the workspace holds what the store holds, replaced atomically."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from cli_support import run
from regulars.analysis import analyze
from regulars.engines import open_engine
from regulars.live.sync import sync_to_workspace
from regulars.store import Database, Order, open_database
from regulars.store.tables import CUSTOMERS
from regulars.workspace import Workspace


def _workspace_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = ("customers", "products", "orders", "order_lines", "refunds", "events")
        return {n: con.execute(f"SELECT * FROM {n} ORDER BY ALL").fetchall() for n in names}
    finally:
        con.close()


def test_sync_copies_the_store_and_a_second_sync_changes_nothing(
    shop_store: Database, tmp_path: Path
) -> None:
    path = tmp_path / "ws.duckdb"
    first = sync_to_workspace(shop_store, path)
    assert first.written
    with shop_store.unit_of_work(read_only=True) as uow:
        totals = uow.orders.totals()["USD"]
        customers = uow.connection.execute(
            sa.select(sa.func.count()).where(CUSTOMERS.c.merged_into.is_(None))
        ).scalar_one()
    assert first.counts["orders"] == totals["orders"]
    with open_engine(Workspace(path)) as engine:
        tables = engine.tables()
        revenue = tables["orders"].total.sum().to_pyarrow().as_py()
        analysis = analyze(tables, store="synced")
    assert revenue * 100 == Decimal(totals["total"])
    sold = [o for o in _workspace_rows(path)["orders"] if o[9] != "cancelled" and o[1]]
    assert analysis.kpis["orders"] == len(sold)
    assert first.counts["customers"] == customers
    before = _workspace_rows(path)
    again = sync_to_workspace(shop_store, path)
    assert not again.written and again.content_hash == first.content_hash
    assert _workspace_rows(path) == before


def test_sync_replaces_the_tables_with_new_data(shop_store: Database, tmp_path: Path) -> None:
    path = tmp_path / "ws.duckdb"
    sync_to_workspace(shop_store, path)
    with shop_store.unit_of_work() as uow:
        order = uow.orders.all()[-1]
        uow.orders.upsert(Order("late-1", order.customer_id, order.ordered_at, "USD", 500, 500))
    result = sync_to_workspace(shop_store, path)
    assert result.written and result.counts["orders"] == len(_workspace_rows(path)["orders"])
    assert any(row[0] == "late-1" for row in _workspace_rows(path)["orders"])
    assert len(Workspace(path).imports()) == 2


def test_the_sync_command_then_summary(
    shop_store: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    url = shop_store.engine.url.render_as_string(hide_password=False)
    path = tmp_path / "live.duckdb"
    code, out, err = run(["sync", "--database", url, "--workspace", str(path)], capsys)
    assert code == 0, err
    assert "Synced" in out and "orders" in out
    code, out, err = run(["sync", "--database", url, "--workspace", str(path)], capsys)
    assert code == 0 and "nothing changed" in out
    code, out, err = run(["summary", "--workspace", str(path)], capsys)
    assert code == 0, err
    with open_database(url) as database, database.unit_of_work(read_only=True) as uow:
        sold = [o for o in uow.orders.all() if o.status != "cancelled"]
        refunded = sum(r.amount for o in sold for r in uow.orders.refunds(o.order_id))
    net = Decimal(sum(o.total for o in sold) - refunded) / 100
    assert re.search(rf"orders \(not cancelled\)\s*│\s*{len(sold):,}\s*│", out)
    assert f"{net:,.2f}" in out
