"""A simulated store is itself an import source: as canonical Parquet and as a generic CSV."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from simulate_support import Store

from regulars import ImportOptions, Workspace, content_hash, read_source
from regulars.importers import detect_format


def test_folder_imports_as_canonical_tables(small_store: Store, tmp_path: Path) -> None:
    manifest = json.loads((small_store.path / "manifest.json").read_text())
    assert detect_format(small_store.path) == "canonical"
    with read_source(small_store.path) as data:
        summary = data.summary()
        ws = Workspace(tmp_path / "ws.duckdb")
        key = content_hash(small_store.path, data.format, ImportOptions())
        assert ws.write(data, content_hash=key).written
    counts = ws.counts()
    for name, expected in manifest["counts"].items():
        if name in counts:
            assert counts[name] == expected, name
    assert summary.orders == manifest["counts"]["orders"]
    assert summary.customers == small_store.customers


def test_lines_csv_imports_to_the_same_orders(small_store: Store) -> None:
    csv = small_store.path / "order_lines.csv"
    assert detect_format(csv) == "generic"
    with read_source(small_store.path) as data:
        canonical = {r["order_id"]: r for r in data.table("orders").to_pylist()}
    with read_source(csv) as data:
        generic = {r["order_id"]: r for r in data.table("orders").to_pylist()}
        lines = data.summary().order_lines
    assert set(generic) == set(canonical)
    for order_id, order in generic.items():
        source = canonical[order_id]
        assert order["subtotal"] == source["subtotal"], order_id
        assert order["customer_id"] == source["customer_id"]
        assert order["ordered_at"] == source["ordered_at"]
        assert order["status"] == source["status"]
    assert sum((o["subtotal"] for o in generic.values()), Decimal(0)) > 0
    assert lines == len(small_store.table("order_lines"))
