"""Engine fixtures: one Spark session for the whole test session (it takes seconds to start)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """Return a local Spark session, shared by every test; stopped at the end.

    Skips locally when PySpark is not installed; fails under CI, where it must be.
    """
    if importlib.util.find_spec("pyspark") is None:
        if os.environ.get("CI"):
            pytest.fail("PySpark is not installed (CI installs the extra: pip install .[spark])")
        pytest.skip("PySpark is not installed (pip install 'regulars[spark]')")
    from regulars.engines import spark_session

    session, owned = spark_session()
    yield session
    if owned:
        session.stop()
