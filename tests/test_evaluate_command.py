"""`regulars evaluate`: the holdout evaluation through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run
from regulars.simulate import simulate_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evaluate") / "data"
    simulate_store(out, customers=500, seed=13, events=False)
    return out


def test_evaluate_writes_the_page_and_the_metrics(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html, js = tmp_path / "e.html", tmp_path / "e.json"
    code, out, err = run(
        ["evaluate", str(store), "--as-of", "2025-06-30", "--horizon", "26w",
         "--out", str(html), "--json", str(js)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    page = html.read_text()
    assert "<svg" in page and "http://" not in page and "https://" not in page
    metrics = json.loads(js.read_text())
    assert metrics["horizon_days"] == 182
    assert "lowest" in " ".join(out.split()) or "tied" in " ".join(out.split())


def test_evaluate_needs_a_cutoff(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["evaluate", str(store), "--as-of", "June"], capsys)
    assert code == 2 and "--as-of 'June' is not a date" in " ".join(err.split())
