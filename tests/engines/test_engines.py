"""The engine adapter: tables, execution, and clear errors when an engine cannot open."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from regulars import (
    ConfigError,
    ImportOptions,
    Workspace,
    WorkspaceError,
    content_hash,
    read_source,
)
from regulars.analytics.summary import customer_summary
from regulars.engines import ENGINES, _check_java, open_engine
from regulars.schema import TABLES

CSV = """order_id,customer_id,ordered_at,product_id,quantity,unit_price
o1,c1,2024-01-05T10:00:00Z,p1,1,10.00
o2,c1,2024-02-05T23:30:00Z,p2,2,5.50
o3,c2,2024-02-06T08:00:00Z,p1,1,10.00
"""


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    path = tmp_path / "lines.csv"
    path.write_text(CSV)
    ws = Workspace(tmp_path / "store.duckdb")
    with read_source(path, format="generic") as data:
        ws.write(data, content_hash=content_hash(path, data.format, ImportOptions()))
    return ws


def test_duckdb_engine_gives_canonical_tables_and_runs_expressions(workspace: Workspace) -> None:
    with open_engine(workspace) as engine:
        assert engine.name == "duckdb"
        assert set(engine.tables()) == set(TABLES)
        orders = engine.table("orders")
        assert engine.execute(orders.count()).iloc[0, 0] == 3
        summary = customer_summary(orders, engine.table("refunds"), as_of=date(2024, 3, 1))
        frame = engine.execute(summary).sort_values("customer_id")
        assert frame["orders"].tolist() == [2, 1]
        assert str(frame["first_order_at"].dt.tz) == "UTC"
        arrow = engine.to_pyarrow(summary)
        assert isinstance(arrow, pa.Table)
        assert arrow.num_rows == 2


def test_unknown_table_engine_and_option_are_config_errors(workspace: Workspace) -> None:
    with open_engine(workspace) as engine, pytest.raises(ConfigError, match="Unknown table"):
        engine.table("nope")
    with pytest.raises(ConfigError, match="Unknown engine 'polars'"):
        open_engine(workspace, "polars")
    with pytest.raises(ConfigError, match="Spark master was given for the DuckDB engine"):
        open_engine(workspace, "duckdb", spark_master="local[1]")
    assert ENGINES == ("duckdb", "spark")


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_workspace_is_a_workspace_error(tmp_path: Path, engine: str) -> None:
    with pytest.raises(WorkspaceError, match="does not exist yet"):
        open_engine(Workspace(tmp_path / "none.duckdb"), engine)


def test_spark_without_pyspark_says_how_to_install(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match=r"pip install 'regulars\[spark\]'"):
        open_engine(workspace, "spark")


def test_spark_without_java_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(ConfigError, match=r"needs Java .* no java was found in JAVA_HOME"):
        _check_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="no java was found on the PATH"):
        _check_java()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_spark_engine_stages_tables_and_cleans_up(
    workspace: Workspace, spark: Any, tmp_path: Path
) -> None:
    engine = open_engine(workspace, "spark", staging_dir=tmp_path / "stage")
    staged = engine._dir  # type: ignore[attr-defined]
    assert staged.parent == tmp_path / "stage"
    assert sorted(p.name for p in staged.iterdir()) == sorted(f"{n}.parquet" for n in TABLES)
    summary = customer_summary(
        engine.table("orders"), engine.table("refunds"), as_of=date(2024, 3, 1)
    )
    frame = engine.execute(summary).sort_values("customer_id")
    assert frame["order_days"].tolist() == [2, 1]
    assert str(frame["first_order_at"].dt.tz) == "UTC"
    assert frame["first_order_at"].iloc[0] == pd.Timestamp("2024-01-05T10:00:00Z")
    views = {t.name for t in spark.catalog.listTables()}
    assert any(v.endswith("_orders") for v in views)
    engine.close()
    assert not staged.exists()
    assert (tmp_path / "stage").is_dir()
    assert not any(t.name.startswith("regulars_") for t in spark.catalog.listTables())
    assert spark.sparkContext._jsc is not None  # the shared session is still running
