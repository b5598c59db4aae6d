import math

import pandas as pd
import pytest

from regulars.report.format import (
    fmt_count,
    fmt_days,
    fmt_money,
    fmt_number,
    fmt_pct,
    fmt_tick,
    is_missing,
    tick_formatter,
)


@pytest.mark.parametrize("value", [None, math.nan, pd.NA, pd.NaT])
def test_missing_values_show_a_dash(value: object) -> None:
    assert is_missing(value)
    assert fmt_count(value) == fmt_money(value, "EUR") == fmt_pct(value) == "–"


def test_numbers_for_people() -> None:
    assert fmt_count(1234567) == "1,234,567"
    assert fmt_money(1234.5, "EUR") == "€1,234.50"
    assert fmt_money(-3.456, "USD") == "-$3.46"
    assert fmt_money(12, "SEK") == "SEK 12.00"
    assert fmt_pct(0.1234) == "12.3%"
    assert fmt_number(1.6) == "1.60"
    assert fmt_days(1) == "1 day"
    assert fmt_days(27.5) == "27.5 days"
    assert fmt_days(1200) == "1,200 days"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.25, "0.25"), (5, "5"), (12.5, "12.5"), (2500, "2,500"), (2_500_000, "2.5M")],
)
def test_ticks_are_short(value: float, text: str) -> None:
    assert fmt_tick(value) == text


def test_an_axis_writes_its_ticks_alike() -> None:
    millions = tick_formatter([0, 250_000, 500_000, 750_000, 1_000_000])
    assert [millions(t) for t in (0, 250_000, 1_000_000)] == ["0", "0.25M", "1.00M"]
    small = tick_formatter([0, 500, 1000])
    assert small(1000) == "1,000"
