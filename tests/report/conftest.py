"""Fixtures of the report tests: analyses to render, and a headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from report_support import empty_analysis, sample_analysis

from regulars.analysis import StoreAnalysis


@pytest.fixture()
def analysis() -> StoreAnalysis:
    """Return a small store's analysis with every field filled."""
    return sample_analysis()


@pytest.fixture()
def blank_analysis() -> StoreAnalysis:
    """Return the analysis of a store with no orders: every frame empty."""
    return empty_analysis()


@pytest.fixture(scope="session")
def screenshot_analysis(tmp_path_factory: pytest.TempPathFactory) -> StoreAnalysis:
    """Return the analysis the browser test renders: a real one, of a simulated store."""
    from regulars import Workspace
    from regulars.analysis import analyze
    from regulars.engines import open_engine
    from regulars.simulate import simulate_store

    folder = tmp_path_factory.mktemp("screenshot-store")
    simulate_store(folder / "data", customers=1500, seed=3)
    ws = Workspace.of_source(folder / "data", folder)
    with open_engine(ws, "duckdb") as engine:
        return analyze(engine.tables(), store="simulated store")


def _install_chromium() -> str:
    """Install Debian's chromium with apt-get; return what went wrong, or "" on success."""
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "apt-get is not available, or not running as root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update"], [apt, "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Return Chromium's path, installing Debian's package when it is missing.

    Fails under CI when it cannot be installed; skips otherwise.
    """
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    problem = ""
    if found is None and not Path("/usr/bin/chromium").exists():
        problem = _install_chromium()
        found = shutil.which("chromium")
    found = found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        message = f"headless Chromium is needed for the report screenshot test: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message + " (required in CI: apt-get install -y chromium)")
        pytest.skip(message)
    return Path(found)
