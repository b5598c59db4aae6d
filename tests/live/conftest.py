"""A realistic operational store: a simulated shop sent through the store's repositories."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from live_shop import fill_store

from regulars.simulate import simulate_store
from regulars.store import Database

SIMULATED_CUSTOMERS = 250


@pytest.fixture(scope="session")
def simulated_shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Return the rows of a small simulated shop (250 customers, 18 months), by table."""
    folder = tmp_path_factory.mktemp("shop")
    simulate_store(
        folder, customers=SIMULATED_CUSTOMERS, seed=3, start=date(2024, 1, 1), end=date(2025, 6, 30)
    )
    names = ("customers", "orders", "order_lines", "refunds", "events")
    return {name: pq.read_table(Path(folder) / f"{name}.parquet").to_pylist() for name in names}


@pytest.fixture()
def shop_store(database: Database, simulated_shop: dict[str, list[dict[str, Any]]]) -> Database:
    """Return the store (both backends) holding the simulated shop."""
    fill_store(database, simulated_shop)
    return database
