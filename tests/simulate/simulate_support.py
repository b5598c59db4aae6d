"""Helpers shared by the simulator tests: the simulated period and a store on disk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from regulars.simulate import StoreParameters

START = date(2024, 1, 1)
END = date(2025, 12, 31)
START_TS = pd.Timestamp("2024-01-01", tz="UTC")
OBSERVATION_END = pd.Timestamp("2026-01-01", tz="UTC")


@dataclass
class Store:
    """A simulated store on disk, read back as data frames."""

    path: Path
    params: StoreParameters
    customers: int

    def table(self, name: str) -> pd.DataFrame:
        return pq.read_table(self.path / f"{name}.parquet").to_pandas()

    def truth(self) -> pd.DataFrame:
        return pq.read_table(self.path / "truth" / "customers.parquet").to_pandas()

    def affinity(self) -> pd.DataFrame:
        return pq.read_table(self.path / "truth" / "category_affinity.parquet").to_pandas()

    def repeats_in_data(self) -> pd.Series:
        """Per customer, from the orders: non-cancelled orders minus one."""
        orders = self.table("orders")
        bought = orders[(orders.status != "cancelled") & orders.customer_id.notna()]
        return bought.groupby("customer_id").size() - 1
