"""The workspace: transactional writes, modes, no-op re-imports, Ibis reads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import ibis.expr.types as ir
import pytest

from regulars import ImportOptions, Workspace, WorkspaceError, content_hash, read_source
from regulars.schema import TABLES

FIRST = """order_id,customer_id,ordered_at,product_id,quantity,unit_price
A1,c1,2024-01-05 10:00,p1,2,3.50
A1,c1,2024-01-05 10:00,p2,1,10
A2,c2,2024-01-06 10:00,p1,1,3.50
"""
# A later export: A2 changed (a second line), A3 is new.
SECOND = """order_id,customer_id,ordered_at,product_id,quantity,unit_price
A2,c2,2024-01-06 10:00,p1,1,3.50
A2,c2,2024-01-06 10:00,p3,4,1.25
A3,c1,2024-02-01 10:00,p1,1,3.50
"""


def import_text(ws: Workspace, tmp_path: Path, name: str, text: str, mode: str = "append") -> bool:
    path = tmp_path / name
    path.write_text(text)
    with read_source(path, format="generic") as data:
        key = content_hash(path, "generic", ImportOptions())
        return ws.write(data, content_hash=key, mode=mode).written  # type: ignore[arg-type]


def test_tables_read_back_through_ibis(tmp_path: Path, workspace_path: Path) -> None:
    ws = Workspace(workspace_path)
    assert import_text(ws, tmp_path, "a.csv", FIRST)
    orders = ws.table("orders")
    assert isinstance(orders, ir.Table)
    assert orders.count().execute() == 2
    assert set(orders.columns) == set(TABLES["orders"].column_names)
    total = orders.total.sum().execute()
    assert Decimal(total) == Decimal("20.50")


def test_same_content_again_is_a_noop(tmp_path: Path, workspace_path: Path) -> None:
    ws = Workspace(workspace_path)
    assert import_text(ws, tmp_path, "a.csv", FIRST)
    before = workspace_path.read_bytes()
    assert not import_text(ws, tmp_path, "a-copy.csv", FIRST)  # same bytes, other name
    assert workspace_path.read_bytes() == before
    assert len(ws.imports()) == 1


def test_append_replaces_orders_with_the_same_id(tmp_path: Path, workspace_path: Path) -> None:
    ws = Workspace(workspace_path)
    import_text(ws, tmp_path, "a.csv", FIRST)
    import_text(ws, tmp_path, "b.csv", SECOND)
    counts = ws.counts()
    assert counts["orders"] == 3  # A1, A2 (updated), A3
    assert counts["order_lines"] == 5  # A1: 2, A2: 2 (not 3), A3: 1
    a2 = ws.table("orders").filter(lambda t: t.order_id == "A2").to_pyarrow().to_pylist()[0]
    assert a2["total"] == Decimal("8.50")
    assert [i["format"] for i in ws.imports()] == ["generic", "generic"]


def test_replace_empties_first(tmp_path: Path, workspace_path: Path) -> None:
    ws = Workspace(workspace_path)
    import_text(ws, tmp_path, "a.csv", FIRST)
    import_text(ws, tmp_path, "b.csv", SECOND, mode="replace")
    assert ws.counts()["orders"] == 2
    assert sorted(ws.table("orders").order_id.execute()) == ["A2", "A3"]


def test_reading_an_empty_workspace_says_to_import_first(workspace_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="Import data first"):
        Workspace(workspace_path).table("orders")


def test_a_file_that_is_not_a_workspace_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("hello")
    src = tmp_path / "a.csv"
    src.write_text(FIRST)
    with read_source(src) as data, pytest.raises(WorkspaceError, match="not a regulars workspace"):
        Workspace(bogus).write(data, content_hash="x")
    assert bogus.read_text() == "hello"
