"""Stores for the recommender tests: Online Retail and a simulated store with its truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from regulars import ImportOptions, Workspace, content_hash, read_source
from regulars.simulate import simulate_store


def _import(source: Path, path: Path, format: str) -> Workspace:
    ws = Workspace(path)
    with read_source(source, format=format) as data:
        ws.write(data, content_hash=content_hash(source, data.format, ImportOptions()))
    return ws


@pytest.fixture(scope="session")
def retail_workspace(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Return UCI Online Retail imported into a workspace (slow tests only)."""
    source = shared_data / "online_retail" / "online_retail.csv.gz"
    return _import(
        source, tmp_path_factory.mktemp("recs_retail") / "retail.duckdb", "online-retail"
    )


@pytest.fixture(scope="session")
def sim_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """Return a simulated store of 4,000 customers (seed 11) and its output folder (truth)."""
    root = tmp_path_factory.mktemp("recs_sim")
    simulate_store(root / "data", customers=4000, seed=11, events=False)
    return _import(root / "data", root / "store.duckdb", "canonical"), root / "data"
