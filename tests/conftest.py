"""Shared fixtures: the real data sets beside the repo, and fresh workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The operational store fixtures (`database` on SQLite and PostgreSQL), for store and service tests.
pytest_plugins = ["store_database"]

REPO = Path(__file__).resolve().parents[1]


def _find_shared_data() -> Path | None:
    """Find ``shared/data`` beside the repo root (or in REGULARS_SHARED_DATA)."""
    env = os.environ.get("REGULARS_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
    for path in candidates:
        if (path / "README.md").is_file():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the folder of real public data sets (Online Retail, CDNOW) beside the repository.

    Skips locally when it is absent; fails under CI, where it must be there.
    """
    path = _find_shared_data()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("../shared/data not found beside the repository (required in CI)")
        pytest.skip("../shared/data not found beside the repository")
    return path


@pytest.fixture()
def workspace_path(tmp_path: Path) -> Path:
    """Return a path for a new, empty workspace file."""
    return tmp_path / "store.duckdb"
