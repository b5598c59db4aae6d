"""Reproducibility, argument checking and all-or-nothing output of ``simulate_store``."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from regulars.errors import ConfigError
from regulars.simulate import SimulationSummary, StoreParameters, simulate_store


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    args = {"customers": 1200, "seed": 4, "lines_csv": True, "chunk_customers": 500}
    first = simulate_store(tmp_path / "a", **args)  # type: ignore[arg-type]
    second = simulate_store(tmp_path / "b", **args)  # type: ignore[arg-type]
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == [
        "customers.parquet",
        "events.parquet",
        "manifest.json",
        "order_lines.csv",
        "order_lines.parquet",
        "orders.parquet",
        "products.parquet",
        "refunds.parquet",
        "truth/category_affinity.parquet",
        "truth/customers.parquet",
        "truth/params.json",
    ]
    assert a == b
    assert first.orders == second.orders and first.out == tmp_path / "a"

    other = simulate_store(tmp_path / "c", **{**args, "seed": 5})  # type: ignore[arg-type]
    c = _files(tmp_path / "c")
    for name in (
        "orders.parquet",
        "customers.parquet",
        "events.parquet",
        "truth/customers.parquet",
        "truth/category_affinity.parquet",
    ):
        assert c[name] != a[name], name
    assert other.seed == 5


def test_optional_outputs_do_not_change_the_others(tmp_path: Path) -> None:
    simulate_store(tmp_path / "full", customers=600, seed=8, lines_csv=True)
    summary = simulate_store(tmp_path / "lean", customers=600, seed=8, events=False)
    full, lean = _files(tmp_path / "full"), _files(tmp_path / "lean")
    for name in ("orders.parquet", "order_lines.parquet", "customers.parquet", "refunds.parquet"):
        assert full[name] == lean[name], name
    for name in ("truth/customers.parquet", "truth/category_affinity.parquet"):
        assert full[name] == lean[name], name
    assert "order_lines.csv" not in lean
    assert summary.events == 0
    assert json.loads(lean["manifest.json"])["counts"]["events"] == 0


def test_summary_and_progress(tmp_path: Path) -> None:
    seen: list[int] = []
    summary = simulate_store(
        tmp_path / "s", customers=250, seed=1, chunk_customers=100, progress=seen.append
    )
    assert seen == [100, 200, 250]
    assert isinstance(summary, SimulationSummary)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["counts"] == {
        "customers": summary.customers,
        "products": manifest["counts"]["products"],
        "orders": summary.orders,
        "order_lines": summary.order_lines,
        "refunds": summary.refunds,
        "events": summary.events,
    }
    assert summary.customers == 250 and summary.order_lines >= summary.orders > 250


@pytest.mark.parametrize("customers", [1, 2, 100])
def test_tiny_stores(tmp_path: Path, customers: int) -> None:
    summary = simulate_store(tmp_path / "t", customers=customers, seed=2)
    assert summary.customers == customers


def test_previous_output_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "store"
    simulate_store(out, customers=200, seed=1, lines_csv=True)
    simulate_store(out, customers=300, seed=2)
    assert json.loads((out / "manifest.json").read_text())["customers"] == 300
    assert not (out / "order_lines.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no staging left behind


def test_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    def boom(done: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        simulate_store(
            tmp_path / "store", customers=300, seed=1, chunk_customers=100, progress=boom
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"customers": 0}, "customers must be between 1 and 10,000,000"),
        ({"customers": 10_000_001}, "customers must be between 1 and 10,000,000"),
        ({"customers": 12.5}, "customers must be an integer"),
        ({"customers": True}, "customers must be an integer"),
        ({"seed": -1}, "seed must be between"),
        ({"chunk_customers": 0}, "chunk_customers must be between"),
        ({"end": date(2023, 12, 31)}, "is not after the start date"),
        ({"end": date(2024, 1, 1)}, "is not after the start date"),
        ({"start": "2024-01-01"}, "start must be a datetime.date"),
        ({"horizon_days": -1}, "horizon_days must be between 0 and 3650"),
        ({"params": {"r": 1}}, "params must be a StoreParameters"),
    ],
)
def test_bad_arguments_raise_config_error(
    tmp_path: Path, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as error:
        simulate_store(tmp_path / "store", **kwargs)  # type: ignore[arg-type]
    assert error.value.fix  # every message says how to fix it
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"r": 0.0}, "r must be a positive number"),
        ({"alpha": float("nan")}, "alpha must be a positive number"),
        ({"b": -2.0}, "b must be a positive number"),
        ({"refund_rate": 1.5}, "refund_rate must be a share between 0 and 1"),
        ({"seasonality": -0.1}, "seasonality must be a share between 0 and 1"),
        ({"visitors_per_customer": -1.0}, "visitors_per_customer must be a number from 0"),
        ({"acquisition_growth": 50.0}, "acquisition_growth must be a yearly rate"),
        ({"currency": "usd"}, "currency must be an ISO 4217 code"),
    ],
)
def test_bad_parameters_raise_config_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        StoreParameters(**kwargs)  # type: ignore[arg-type]


def test_output_must_be_new_empty_or_a_previous_output(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is not empty and is not a previous simulator output"):
        simulate_store(occupied, customers=100)
    assert (occupied / "notes.txt").read_text() == "mine"

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        simulate_store(a_file, customers=100)

    previous = tmp_path / "previous"
    simulate_store(previous, customers=100)
    (previous / "extra.txt").write_text("added by hand")
    with pytest.raises(ConfigError, match=r"extra\.txt"):
        simulate_store(previous, customers=100)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert simulate_store(empty, customers=100).customers == 100


def test_other_currency(tmp_path: Path) -> None:
    simulate_store(tmp_path / "eur", customers=200, params=StoreParameters(currency="EUR"))
    for name in ("orders", "products", "refunds"):
        currencies = pq.read_table(tmp_path / "eur" / f"{name}.parquet").column("currency")
        assert set(currencies.to_pylist()) <= {"EUR"}


@pytest.mark.slow
def test_memory_is_bounded(tmp_path: Path) -> None:
    """200,000 customers (four chunks, events and CSV) stay well under 1 GB of RSS."""
    # The child reports its own peak, VmHWM of its own address space: RUSAGE_CHILDREN would
    # be the largest of every child pytest waited for (a Spark JVM), and even the child's
    # RUSAGE_SELF keeps the high-water mark of the forked copy of pytest from before exec.
    code = (
        "import sys; from regulars.simulate import simulate_store; "
        "simulate_store(sys.argv[1], customers=200_000, seed=3, lines_csv=True); "
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "big")],
        check=True,
        capture_output=True,
        text=True,
    )
    peak_mb = int(done.stdout.split()[-1]) / 1024
    assert peak_mb < 1000
