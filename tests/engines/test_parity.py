"""DuckDB/Spark parity: every case of the parity suite gives identical results on both engines.

Two stores: a simulated one (3,000 customers, with events) and Online Retail (real data,
cancellations and refunds). Each case runs at the end of the data and mid-way through it.
Counts and other integers must be equal, decimal money equal to the cent, float columns equal
within half a cent (they are means of money or of days), timestamps equal to the microsecond.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from parity_suite import PARITY_SUITE, ParityCase

from regulars import ImportOptions, Workspace, content_hash, read_source
from regulars.analytics.overview import store_overview
from regulars.engines import Engine, open_engine
from regulars.simulate import simulate_store

pytestmark = [
    pytest.mark.slow,
    # PySpark's own pandas conversion and its socket to the JVM, not our code.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]

CENT = Decimal("0.01")


@dataclass
class Pair:
    """One store open on both engines, with the dates to analyse it at."""

    duckdb: Engine
    spark: Engine
    as_of: dict[str, date]


def _import(ws: Workspace, path: Path, format: str) -> None:
    with read_source(path, format=format) as data:
        ws.write(data, content_hash=content_hash(path, data.format, ImportOptions()))


@pytest.fixture(scope="module", params=["simulated", "online_retail"])
def pair(
    request: pytest.FixtureRequest, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp(f"parity-{request.param}")
    ws = Workspace(folder / "store.duckdb")
    if request.param == "simulated":
        store = folder / "store"
        simulate_store(store, customers=3000, seed=21, chunk_customers=1000)
        _import(ws, store, "canonical")
        as_of = {"end": date(2025, 12, 31), "mid": date(2025, 3, 15)}
    else:
        shared_data = request.getfixturevalue("shared_data")
        _import(ws, shared_data / "online_retail" / "online_retail.csv.gz", "online-retail")
        as_of = {"end": date(2011, 12, 9), "mid": date(2011, 6, 30)}
    duck = open_engine(ws, "duckdb")
    spk = open_engine(ws, "spark")
    yield Pair(duck, spk, as_of)
    spk.close()
    duck.close()


def _cell(value: Any) -> Any:
    """Return a value in a form equal across engines (None for every kind of missing)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Decimal):
        return value.quantize(CENT)
    if isinstance(value, pd.Timestamp):  # dates come as naive timestamps
        return (value.tz_convert("UTC") if value.tzinfo else value).as_unit("us")
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_cell(v) for v in value)
    if isinstance(value, dict):
        return {k: _cell(v) for k, v in value.items()}
    return value


def _rows(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    assert not frame.duplicated(list(keys)).any(), f"keys {keys} do not identify a row"
    ordered = frame.sort_values(list(keys), na_position="last", kind="mergesort")
    return ordered.reset_index(drop=True)


def assert_same(expected: pd.DataFrame, got: pd.DataFrame, keys: tuple[str, ...]) -> None:
    """Assert two engines' results are equal: exact, decimals to the cent, floats to 0.005."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    expected, got = _rows(expected, keys), _rows(got, keys)
    for col in expected.columns:
        want = [_cell(v) for v in expected[col].astype(object)]
        have = [_cell(v) for v in got[col].astype(object)]
        if pd.api.types.is_float_dtype(expected[col]):
            bad = [
                i
                for i, (a, b) in enumerate(zip(want, have, strict=True))
                if (a is None) != (b is None)
                or (a is not None and not math.isclose(a, b, rel_tol=1e-9, abs_tol=0.005))
            ]
        else:
            bad = [i for i, (a, b) in enumerate(zip(want, have, strict=True)) if a != b]
        assert not bad, (
            f"column {col!r} differs in {len(bad)} of {len(want)} rows; first: "
            + "; ".join(
                f"{dict(expected.loc[i, list(keys)])}: duckdb={want[i]!r} spark={have[i]!r}"
                for i in bad[:3]
            )
        )


RUNS = [
    pytest.param(case, when, id=f"{case.name}-{when}")
    for case in PARITY_SUITE
    for when in (("end", "mid") if case.mid_history else ("end",))
]


@pytest.mark.parametrize(("case", "when"), RUNS)
def test_engines_agree(pair: Pair, case: ParityCase, when: str) -> None:
    as_of = pair.as_of[when]
    on_duckdb = case.build(pair.duckdb.tables(), as_of)
    on_spark = case.build(pair.spark.tables(), as_of)
    assert on_spark.schema() == on_duckdb.schema()
    expected = pair.duckdb.execute(on_duckdb)
    assert len(expected) > 0 or case.may_be_empty, f"{case.name} is empty: it tests nothing"
    assert_same(expected, pair.spark.execute(on_spark), case.keys)


def test_store_overview_agrees(pair: Pair) -> None:
    on_duckdb = store_overview(**_overview_tables(pair.duckdb))
    on_spark = store_overview(**_overview_tables(pair.spark))
    assert on_spark == on_duckdb
    assert on_duckdb.customers > 0


def _overview_tables(engine: Engine) -> dict[str, Any]:
    return {name: engine.table(name) for name in ("orders", "refunds", "customers", "events")}
