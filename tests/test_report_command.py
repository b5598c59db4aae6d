"""`regulars report` and `regulars customers`: the main job, end to end through the CLI."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pandas as pd
import pytest

from cli_support import run
from regulars.simulate import simulate_store

REQUIRED_CUSTOMER_COLUMNS = [
    "customer_id", "orders", "revenue", "first_order_at", "last_order_at", "frequency",
    "recency_days", "t_days", "monetary_value", "r_score", "f_score", "m_score",
    "rfm_segment", "segments", "historic_clv",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store") / "data"
    simulate_store(out, customers=800, seed=21, events=True)
    return out


def test_report_from_a_source_writes_html_and_json(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html, js = tmp_path / "report.html", tmp_path / "report.json"
    code, out, err = run(["report", str(store), "--out", str(html), "--json", str(js)], capsys)
    assert code == 0, err
    page = html.read_text()
    for title in ("Headline numbers", "Churn", "Cohorts", "RFM", "What to do", "Definitions"):
        assert title in page
    assert "https://" not in page and "http://" not in page
    numbers = json.loads(js.read_text())
    assert numbers["currency"] == "USD"
    assert numbers["kpis"]["customers"] > 0
    assert sum(s["customers"] for s in numbers["rfm_segments"]) == numbers["kpis"]["customers"]
    assert [r["horizon_days"] for r in numbers["retention"]] == [30, 90, 365]
    assert f"{numbers['kpis']['customers']:,} customers" in " ".join(out.split())
    assert 'id="recommendations"' in page and "What your customers will buy next" in page
    recs = numbers["recommendations"]
    assert recs["unavailable"] is None and recs["k"] == 10
    assert sum(s["customers"] for s in recs["segments"]) == numbers["kpis"]["customers"]
    assert all(0 <= s["repeat_ratio"] <= 1 for s in recs["segments"])
    assert 0 < recs["observed_repeat_ratio"] < 1


def test_report_as_of_sees_nothing_later(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "r.json"
    code, _, err = run(
        ["report", str(store), "--as-of", "2024-12-31", "--out", str(tmp_path / "r.html"),
         "--json", str(js), "--no-recommendations"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    numbers = json.loads(js.read_text())
    assert numbers["as_of"] == "2024-12-31"
    assert max(r["period_start"] for r in numbers["kpis_by_period"]) <= "2024-12-31"
    assert "recommendations" not in numbers  # --no-recommendations leaves the section out
    assert 'id="recommendations"' not in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_customers_export(
    store: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / f"customers{suffix}"
    code, _, err = run(["customers", str(store), "--out", str(target)], capsys)
    assert code == 0, err
    table = pd.read_parquet(target) if suffix == ".parquet" else pd.read_csv(target)
    for column in REQUIRED_CUSTOMER_COLUMNS:
        assert column in table.columns, column
    assert table.customer_id.is_unique
    assert set(table.r_score.unique()) <= {1, 2, 3, 4, 5}


def test_mixed_currencies_need_a_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "lines.csv"
    src.write_text(
        "order_id,customer_id,ordered_at,product_id,quantity,unit_price,currency\n"
        "A1,c1,2024-01-05,p1,1,10,EUR\nA2,c2,2024-01-06,p1,1,12,USD\n"
    )
    code, _, err = run(["report", str(src), "--out", str(tmp_path / "r.html")], capsys)
    assert code == 2 and "--currency" in err
    js = tmp_path / "eur.json"
    code, _, err = run(
        ["report", str(src), "--currency", "eur", "--out", str(tmp_path / "r.html"),
         "--json", str(js)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    numbers = json.loads(js.read_text())
    assert numbers["currency"] == "EUR" and numbers["kpis"]["revenue"] == 10.0
    why = numbers["recommendations"]["unavailable"]  # one product: said, not failed
    assert why.startswith("The order lines name one product only (p1)")
    assert f"No recommendations: {why}".replace("'", "&#x27;") in (tmp_path / "r.html").read_text()


def test_a_store_without_sales_gets_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "lines.csv"
    src.write_text(
        "order_id,customer_id,ordered_at,product_id,quantity,unit_price,status\n"
        "A1,c1,2024-01-05,p1,1,10,cancelled\n"
    )
    code, _, err = run(["report", str(src), "--out", str(tmp_path / "r.html")], capsys)
    assert code == 2 and "no sales" in err
    assert not (tmp_path / "r.html").exists()


def test_bad_options_are_clear(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["customers", str(store), "--out", str(tmp_path / "c.xlsx")], capsys)
    assert code == 2 and ".parquet or .csv" in err
    code, _, err = run(["report", str(store), "--as-of", "yesterday"], capsys)
    assert code == 2 and "YYYY-MM-DD" in err


@pytest.mark.slow
def test_online_retail_report_builds(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_data / "online_retail" / "online_retail.csv.gz"
    html, js = tmp_path / "or.html", tmp_path / "or.json"
    code, _, err = run(["report", str(source), "--out", str(html), "--json", str(js)], capsys)
    assert code == 0, err
    numbers = json.loads(js.read_text())
    assert numbers["currency"] == "GBP" and numbers["as_of"] == "2011-12-09"
    assert numbers["kpis"]["customers"] == 4334
    period0 = [c for c in numbers["cohorts"] if c["period"] == 0]
    assert all(c["active_share"] == 1.0 for c in period0)


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning",  # py4j leaves its sockets to the garbage collector
    "ignore::pytest.PytestUnraisableExceptionWarning",
    "ignore::DeprecationWarning:pyspark.*",
)
def test_report_on_spark_gives_the_same_numbers(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyspark")
    numbers = {}
    for engine in ("duckdb", "spark"):
        js = tmp_path / f"{engine}.json"
        code, _, err = run(
            ["report", str(store), "--engine", engine, "--out", str(tmp_path / "r.html"),
             "--json", str(js)],
            capsys,
        )  # fmt: skip
        assert code == 0, err
        numbers[engine] = json.loads(js.read_text())
    gc.collect()  # py4j's unclosed sockets are collected here, where the warning is ignored
    keys = ("kpis", "retention", "rfm_segments", "cohorts", "historic_clv", "segments")
    for key in (*keys, "recommendations"):
        assert numbers["spark"][key] == numbers["duckdb"][key], key
