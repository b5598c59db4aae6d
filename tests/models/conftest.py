"""Fixtures of the model tests: the CDNOW sample's calibration summary (FHL 2005)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from regulars import ImportOptions, Workspace, content_hash, read_source
from regulars.analytics.summary import customer_summary

CDNOW_CALIBRATION_END = date(1997, 9, 30)
"""End of week 39 of the CDNOW sample: the calibration period of FHL 2005."""


@pytest.fixture(scope="session")
def cdnow_workspace(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Return the CDNOW sample (2,357 customers) imported into a workspace."""
    source = shared_data / "cdnow" / "CDNOW_sample.txt"
    ws = Workspace(tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb")
    with read_source(source, format="cdnow") as data:
        ws.write(data, content_hash=content_hash(source, data.format, ImportOptions()))
    return ws


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow_workspace: Workspace) -> pd.DataFrame:
    """Return the summary at the end of week 39, with x, t_x, T in weeks as in the paper."""
    frame: pd.DataFrame = customer_summary(
        cdnow_workspace.table("orders"),
        cdnow_workspace.table("refunds"),
        as_of=CDNOW_CALIBRATION_END,
    ).to_pandas()
    frame["x"] = frame["frequency"].astype(float)
    frame["t_x"] = frame["recency_days"] / 7
    frame["T"] = frame["t_days"] / 7
    return frame.sort_values("customer_id").reset_index(drop=True)


def _summary(ws: Workspace, as_of: date) -> pd.DataFrame:
    frame: pd.DataFrame = customer_summary(
        ws.table("orders"), ws.table("refunds"), as_of=as_of
    ).to_pandas()
    return frame.sort_values("customer_id").reset_index(drop=True)


@pytest.fixture(scope="session")
def real_summaries(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, pd.DataFrame]:
    """Return the per-customer summaries (days) of Online Retail and CDNOW master."""
    root = tmp_path_factory.mktemp("real_summaries")
    out = {}
    for name, source, as_of in (
        (
            "online_retail",
            shared_data / "online_retail" / "online_retail.csv.gz",
            date(2011, 12, 9),
        ),
        ("cdnow_master", shared_data / "cdnow" / "CDNOW_master.txt", date(1998, 6, 30)),
    ):
        ws = Workspace(root / f"{name}.duckdb")
        with read_source(source) as data:
            ws.write(data, content_hash=content_hash(source, data.format, ImportOptions()))
        out[name] = _summary(ws, as_of)
    return out
