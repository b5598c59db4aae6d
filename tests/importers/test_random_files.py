"""Random files never crash an import: they import, or they fail with a clear RegularsError."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regulars import RegularsError, read_source
from regulars.cli import main
from regulars.importers.generic_csv import OPTIONAL, REQUIRED

CELLS = st.one_of(
    st.sampled_from(["", "A1", "c1", "p1", "1", "0", "-2", "3.50", "1e3", "NaN", "paid", "USD"]),
    st.sampled_from(["2024-01-05", "2024-01-05 10:00", "2024-13-45", "2024-01-05T10:00:00Z"]),
    st.text(min_size=0, max_size=12),
    st.integers(-(10**20), 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)
HEADERS = st.lists(
    st.one_of(st.sampled_from(REQUIRED + OPTIONAL), st.text(min_size=0, max_size=8)),
    min_size=0,
    max_size=12,
)


def _cell(value: str) -> str:
    if any(ch in value for ch in ',"\n\r') and value.count('"') % 2 == 0:
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(HEADERS)
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=max(0, len(header) - 1), max_size=len(header) + 1),
            max_size=8,
        )
    )
    text = "\n".join(",".join(_cell(c) for c in row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(content=csv_files(), format=st.sampled_from(["auto", "generic"]))
def test_random_csv_imports_or_fails_cleanly(content: bytes, format: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_bytes(content)
        try:
            data = read_source(path, format=format)
        except RegularsError as exc:
            assert str(exc).strip()
            return
        with data:
            summary = data.summary()
            assert summary.order_lines <= summary.rows_read
            assert summary.orders <= summary.order_lines


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=csv_files())
def test_random_csv_through_the_cli_never_shows_a_traceback(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        path.write_bytes(content)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["import", str(path), "--workspace", str(Path(tmp) / "ws.duckdb")])
            except SystemExit as exc:
                code = exc.code
            else:
                code = 0
        assert code in (0, 2), stderr.getvalue()
        assert "Traceback" not in stderr.getvalue()
        if code == 2:
            assert "Error:" in stderr.getvalue()
