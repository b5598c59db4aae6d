"""Numbers formatted for people: thousands separators, money with cents, percentages."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

__all__ = [
    "CURRENCY_SYMBOLS",
    "fmt_count",
    "fmt_date",
    "fmt_days",
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "fmt_tick",
    "is_missing",
    "tick_formatter",
]

MISSING = "–"

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF "}


def is_missing(value: Any) -> bool:
    """Return whether ``value`` is None, NaN or pandas' NA/NaT."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT and pd.NA are not equal to themselves
    except (TypeError, ValueError):
        return True


def fmt_count(value: Any) -> str:
    """Format a count with thousands separators: ``12,345``."""
    if is_missing(value):
        return MISSING
    return f"{round(float(value)):,}"


def fmt_number(value: Any, decimals: int = 2) -> str:
    """Format a plain number with thousands separators and ``decimals`` decimals."""
    if is_missing(value):
        return MISSING
    return f"{float(value):,.{decimals}f}"


def fmt_money(value: Any, currency: str) -> str:
    """Format an amount with two decimals and its currency: ``€1,234.50`` or ``SEK 1,234.50``."""
    if is_missing(value):
        return MISSING
    amount = float(value)
    sign = "-" if amount < 0 else ""
    code = currency.upper()
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} ")
    return f"{sign}{symbol}{abs(amount):,.2f}"


def fmt_pct(value: Any, decimals: int = 1) -> str:
    """Format a share (0.123) as a percentage with one decimal: ``12.3%``."""
    if is_missing(value):
        return MISSING
    return f"{float(value) * 100:,.{decimals}f}%"


def fmt_days(value: Any) -> str:
    """Format a number of days: ``1 day``, ``12.5 days``."""
    if is_missing(value):
        return MISSING
    days = float(value)
    text = f"{days:,.0f}" if days == round(days) else f"{days:,.1f}"
    return f"{text} day" if text == "1" else f"{text} days"


def fmt_date(value: Any) -> str:
    """Format a date as ``YYYY-MM-DD`` (or a dash when missing)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "date"):  # pandas Timestamp
        return str(value.date().isoformat())
    return str(value)


def fmt_tick(value: float) -> str:
    """Format an axis tick compactly: ``0``, ``0.25``, ``1,500``, ``2.5M``."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else MISSING
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:,.3g}B"
    if magnitude >= 1e6:
        return f"{value / 1e6:,.3g}M"
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10 or value == round(value):
        return f"{value:,.0f}" if value == round(value) else f"{value:,.1f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def tick_formatter(ticks: list[float]) -> Callable[[float], str]:
    """Return a formatter that writes all of an axis's ticks alike (``0.5M, 1M, 1.5M``)."""
    top = max((abs(t) for t in ticks), default=0.0)
    if top < 1e6:
        return fmt_tick
    unit, suffix = (1e9, "B") if top >= 1e9 else (1e6, "M")
    decimals = max((len(f"{t / unit:.6f}".rstrip("0").split(".")[1]) for t in ticks), default=0)
    return lambda v: "0" if v == 0 else f"{v / unit:,.{min(decimals, 3)}f}{suffix}"
