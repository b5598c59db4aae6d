"""The canonical schema: documented columns, exact money, UTC time, conform()."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from regulars.schema import MONEY, TABLES, TIMESTAMP, conform


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_column_has_a_docstring(name: str) -> None:
    schema = TABLES[name].arrow_schema
    for field in schema:
        assert field.metadata and len(field.metadata[b"doc"]) > 5, f"{name}.{field.name}"
    assert TABLES[name].key and set(TABLES[name].key) <= set(schema.names)


def test_money_is_exact_and_time_is_utc() -> None:
    for spec in TABLES.values():
        for col in spec.columns:
            assert not pa.types.is_floating(col.type), f"{spec.name}.{col.name} is a float"
            if pa.types.is_timestamp(col.type):
                assert col.type == TIMESTAMP
    assert TABLES["orders"].column("total").type == MONEY
    # every money column has a currency beside it, or in its order
    assert "currency" in TABLES["orders"].column_names
    assert "currency" in TABLES["refunds"].column_names
    assert "currency" in TABLES["products"].column_names


def test_conform_orders_casts_and_fills() -> None:
    raw = pa.table(
        {
            "extra": ["x"],
            "order_id": ["A1"],
            "ordered_at": pa.array([0], pa.timestamp("s", tz="UTC")),
            "currency": ["EUR"],
            "subtotal": [Decimal("1.5")],
            "discount_total": [Decimal(0)],
            "shipping_total": [Decimal(0)],
            "tax_total": [Decimal(0)],
            "total": [Decimal("1.5")],
            "status": ["paid"],
        }
    )
    table = conform("orders", raw)
    assert table.schema.equals(TABLES["orders"].arrow_schema)
    assert table.column("customer_id").to_pylist() == [None]
    assert table.column("total").to_pylist() == [Decimal("1.5000")]


def test_conform_refuses_a_missing_required_column() -> None:
    with pytest.raises(KeyError, match=r"orders\.order_id"):
        conform("orders", pa.table({"customer_id": ["c1"]}))


def test_docs_schema_page_is_up_to_date() -> None:
    from pathlib import Path

    from regulars.schema import schema_markdown

    page = Path(__file__).resolve().parents[1] / "docs" / "schema.md"
    assert page.read_text() == schema_markdown(), "run: regulars schema > docs/schema.md"
