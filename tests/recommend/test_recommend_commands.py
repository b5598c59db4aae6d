"""`regulars recommend`, `regulars offers` and `regulars evaluate-recs`, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli_support import run
from regulars import Workspace


@pytest.fixture(scope="module")
def store(sim_store: tuple[Workspace, Path]) -> str:
    return str(sim_store[0].path)


def test_recommend_writes_the_lists(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, js = tmp_path / "recs.parquet", tmp_path / "recs.json"
    code, printed, err = run(
        ["recommend", store, "--as-of", "2025-12-31", "--k", "5", "--out", str(out),
         "--json", str(js)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    recs = pd.read_parquet(out)
    assert list(recs.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert recs.groupby("customer_id")["rank"].max().max() == 5
    assert recs["customer_id"].nunique() == 4000
    info = json.loads(js.read_text())
    assert info["k"] == 5 and info["rows"] == len(recs) and info["ranker"] == "gradient-boosting"
    assert "recommendations for 4,000 customers" in " ".join(printed.split())


def test_recommend_some_customers_as_csv(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("C00000002\nnobody\n")
    out = tmp_path / "recs.csv"
    code, _, err = run(
        ["recommend", store, "--customers", f"@{ids}", "--mode", "cross_sell", "--k", "3",
         "--max-per-category", "1", "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    recs = pd.read_csv(out, dtype={"customer_id": str, "product_id": str})
    assert set(recs["customer_id"]) == {"C00000002", "nobody"}
    assert (recs[recs["customer_id"] == "nobody"]["reason"] == "popular").all()
    assert (recs["reason"] != "buy_again").all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "recs.xlsx"], "unknown file type"),
        (["--mode", "upsell"], "Unknown --mode"),
        (["--customers", ","], "holds no customer id"),
        (["--customers", "@missing.txt"], "no file"),
        (["--k", "0"], "k must be an integer"),
        (["--as-of", "31/12/2025"], "--as-of"),
    ],
)
def test_recommend_says_what_is_wrong(
    store: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["recommend", store, *args], capsys)
    assert code != 0
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not list(tmp_path.glob("recs*"))  # nothing half-written


def test_offers_writes_one_offer_per_customer(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, js = tmp_path / "offers.csv", tmp_path / "offers.json"
    code, printed, err = run(
        ["offers", store, "--no-predictions", "--out", str(out), "--json", str(js)], capsys
    )
    assert code == 0, err
    offers = pd.read_csv(out)
    assert len(offers) == offers["customer_id"].nunique() == 4000
    assert (offers["basis"] == "heuristic").all()
    info = json.loads(js.read_text())
    assert sum(o["customers"] for o in info["offers"]) == 4000
    assert "asked not to predict" in info["basis"]
    assert "Offers for 4,000 customers" in " ".join(printed.split())


def test_offers_with_a_bad_rules_file(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "x"\nkind = "bogof"\ntext = "t"\nlift = 0.1\n')
    code, _, err = run(
        ["offers", store, "--rules", str(rules), "--out", str(tmp_path / "o.csv")], capsys
    )
    assert code != 0
    assert "rules.toml" in err and "kind" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_evaluate_recs_prints_the_table(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "eval.json"
    code, printed, err = run(["evaluate-recs", store, "--k", "10", "--json", str(js)], capsys)
    assert code == 0, err
    for name in ("regulars", "G-TopFreq", "P-TopFreq", "GP-TopFreq"):
        assert name in printed
    results = {r["method"]: r for r in json.loads(js.read_text())["results"]}
    assert set(results) == {"regulars", "G-TopFreq", "P-TopFreq", "GP-TopFreq"}
    assert results["regulars"]["recall"] > results["GP-TopFreq"]["recall"]


def test_evaluate_recs_cutoff_protocol(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "eval.json"
    code, _, err = run(["evaluate-recs", store, "--as-of", "2025-06-30", "--json", str(js)], capsys)
    assert code == 0, err
    result = json.loads(js.read_text())
    assert result["protocol"] == "cutoff" and result["cutoff"] == "2025-06-30"
    assert result["customers"] > 200
    code, _, err = run(["evaluate-recs", store, "--protocol", "cutoff"], capsys)
    assert code != 0 and "needs a cutoff date" in err and "--as-of" in err
    code, _, err = run(["evaluate-recs", store, "--protocol", "next"], capsys)
    assert code != 0 and "Unknown --protocol" in err
