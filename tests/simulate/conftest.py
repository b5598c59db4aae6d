"""Simulated stores shared by the simulator tests (built once per test session)."""

from __future__ import annotations

import pytest
from simulate_support import Store

from regulars.simulate import StoreParameters, simulate_store


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """3,000 customers in three chunks, with events and the CSV."""
    out = tmp_path_factory.mktemp("simulate") / "small"
    simulate_store(out, customers=3000, seed=11, lines_csv=True, chunk_customers=1000)
    return Store(out, StoreParameters(), 3000)


@pytest.fixture(scope="session")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """20,000 customers with the default parameters, without events (for statistics)."""
    out = tmp_path_factory.mktemp("simulate") / "large"
    simulate_store(out, customers=20_000, seed=5, events=False, chunk_customers=5000)
    return Store(out, StoreParameters(), 20_000)


@pytest.fixture(scope="session")
def nbd_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """20,000 customers who practically never drop out: purchases are NBD (Gamma-Poisson)."""
    params = StoreParameters(r=0.6, alpha=25.0, a=1.0, b=1e7)
    out = tmp_path_factory.mktemp("simulate") / "nbd"
    simulate_store(out, customers=20_000, seed=9, events=False, params=params)
    return Store(out, params, 20_000)
