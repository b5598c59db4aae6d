"""Workspaces shared by the analytics tests: a small simulated store and the real data sets.

Fixtures
--------
``import_workspace``
    A function ``(source, path, *, format="auto", options=None) -> Workspace`` that imports a
    file or folder into a new workspace (for hand-made CSV fixtures).
``canonical_workspace``
    A function ``(orders, refunds=(), *, path) -> Workspace`` that writes hand-made orders
    (dicts: order_id, customer_id, ordered_at as "YYYY-MM-DD[ HH:MM]", total, and optionally
    currency="USD", status="paid") and refunds (dicts: refund_id, order_id, refunded_at,
    amount, optionally currency) as a canonical Parquet folder and imports it.
``sim_workspace``
    A small simulated store (600 customers, seed 7, 2024-01-01..2025-12-31, no events),
    imported into a workspace. Session scope.
``cdnow_workspace``
    CDNOW master (23,570 customers) imported into a workspace. Session scope; use it in
    ``slow`` tests only.
``online_retail_workspace``
    UCI Online Retail imported into a workspace. Session scope; ``slow`` tests only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from regulars import ImportOptions, Workspace, content_hash, read_source
from regulars.schema import TABLES, conform
from regulars.simulate import simulate_store

ImportWorkspace = Callable[..., Workspace]


def _import(
    source: Path,
    path: Path,
    *,
    format: str = "auto",
    options: ImportOptions | None = None,
) -> Workspace:
    opts = options or ImportOptions()
    ws = Workspace(path)
    with read_source(source, format=format, options=opts) as data:
        ws.write(data, content_hash=content_hash(source, data.format, opts))
    return ws


@pytest.fixture(scope="session")
def import_workspace() -> ImportWorkspace:
    """Return a function importing a source (file or folder) into a new workspace."""
    return _import


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _write_canonical(
    orders: Iterable[Mapping[str, Any]],
    refunds: Iterable[Mapping[str, Any]] = (),
    *,
    path: Path,
) -> Workspace:
    folder = path.with_suffix("")
    folder.mkdir(parents=True)
    order_rows = []
    for o in orders:
        total = Decimal(str(o["total"]))
        order_rows.append(
            {
                "order_id": str(o["order_id"]),
                "customer_id": o.get("customer_id"),
                "ordered_at": _ts(o["ordered_at"]),
                "currency": o.get("currency", "USD"),
                "subtotal": total,
                "discount_total": Decimal(0),
                "shipping_total": Decimal(0),
                "tax_total": Decimal(0),
                "total": total,
                "status": o.get("status", "paid"),
            }
        )
    refund_rows = [
        {
            "refund_id": str(r["refund_id"]),
            "order_id": str(r["order_id"]),
            "refunded_at": _ts(r["refunded_at"]),
            "amount": Decimal(str(r["amount"])),
            "currency": r.get("currency", "USD"),
        }
        for r in refunds
    ]
    for name, rows in (("orders", order_rows), ("refunds", refund_rows)):
        schema = TABLES[name].arrow_schema
        if rows:
            fields = pa.schema([schema.field(k) for k in rows[0]])
            table = pa.Table.from_pylist(rows, schema=fields)
        else:
            table = schema.empty_table()
        pq.write_table(conform(name, table), folder / f"{name}.parquet")
    return _import(folder, path)


@pytest.fixture(scope="session")
def canonical_workspace() -> Callable[..., Workspace]:
    """Return a function writing hand-made orders and refunds into a new workspace."""
    return _write_canonical


@pytest.fixture(scope="session")
def sim_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Return a workspace holding a small simulated store (600 customers, seed 7)."""
    root = tmp_path_factory.mktemp("analytics_sim")
    simulate_store(root / "store", customers=600, seed=7, events=False)
    return _import(root / "store", root / "sim.duckdb")


@pytest.fixture(scope="session")
def cdnow_workspace(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Return a workspace holding CDNOW master (23,570 customers, USD)."""
    root = tmp_path_factory.mktemp("analytics_cdnow")
    return _import(shared_data / "cdnow" / "CDNOW_master.txt", root / "cdnow.duckdb")


@pytest.fixture(scope="session")
def online_retail_workspace(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    """Return a workspace holding UCI Online Retail (GBP)."""
    root = tmp_path_factory.mktemp("analytics_online_retail")
    return _import(
        shared_data / "online_retail" / "online_retail.csv.gz", root / "online_retail.duckdb"
    )
