"""Small SVG building blocks shared by the charts: escaping, ticks, colours, text sizes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from regulars.report.format import is_missing

__all__ = [
    "AXIS",
    "FONT",
    "GRID",
    "PALETTE",
    "Formatter",
    "Values",
    "clean_values",
    "empty_chart",
    "esc",
    "heat_colour",
    "legend_rows",
    "nice_ticks",
    "present_values",
    "svg_close",
    "svg_open",
    "text",
    "text_colour_on",
    "text_width",
]

FONT = 12
"""Font size of tick labels, in pixels (titles and axis labels are a little larger)."""

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
"""Categorical colours (Tableau 10), for series."""

_HEAT = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))
"""Sequential blues, from light (low) to dark (high)."""


def esc(value: object) -> str:
    """Escape text for SVG/HTML text and attribute values (``<``, ``&``, ``>``, quotes)."""
    return escape(str(value), quote=True)


def text_width(label: str, size: float = FONT) -> float:
    """Estimate the width of a label in pixels (sans-serif, about 0.6 em per character)."""
    return len(label) * size * 0.6


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return round tick values covering ``[low, high]``: ``0, 250, 500, 750, 1000``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        if high == 0:
            return [0.0, 1.0]
        low, high = min(0.0, low), max(0.0, high)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def heat_colour(share: float) -> str:
    """Return the colour for a position in ``[0, 1]`` on the sequential scale."""
    share = min(max(share, 0.0), 1.0) if math.isfinite(share) else 0.0
    pos = share * (len(_HEAT) - 1)
    i = min(int(pos), len(_HEAT) - 2)
    frac = pos - i
    rgb = [round(a + (b - a) * frac) for a, b in zip(_HEAT[i], _HEAT[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def text_colour_on(share: float) -> str:
    """Return black or white, whichever reads better on ``heat_colour(share)``."""
    return "#ffffff" if share > 0.55 else "#1a1a1a"


def text(
    x: float,
    y: float,
    label: str,
    *,
    anchor: str = "start",
    size: float = FONT,
    weight: str = "normal",
    fill: str = "#333333",
    rotate: float | None = None,
    css: str = "",
) -> str:
    """Return an SVG ``<text>`` element with escaped content."""
    transform = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate is not None else ""
    cls = f' class="{css}"' if css else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size:g}" '
        f'font-weight="{weight}" fill="{fill}"{transform}{cls}>{esc(label)}</text>'
    )


def svg_open(name: str, width: float, height: float, title: str) -> str:
    """Return the root ``<svg>`` tag of a chart (``class="chart"``, ``data-chart=name``).

    No ``xmlns``: the SVG is inline in an HTML5 page, which needs none, and the report
    then holds no ``http://`` address at all.
    """
    return (
        f'<svg class="chart" data-chart="{esc(name)}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{esc(title)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">'
        f"<title>{esc(title)}</title>"
    )


def svg_close() -> str:
    """Return the closing tag of a chart."""
    return "</svg>"


def legend_rows(labels: Sequence[str], colours: Sequence[str], x: float, y: float) -> list[str]:
    """Return a vertical legend: a swatch and a label per series, starting at ``(x, y)``."""
    parts = []
    for i, (label, colour) in enumerate(zip(labels, colours, strict=True)):
        top = y + i * 18
        parts.append(
            f'<rect class="legend" x="{x:.1f}" y="{top:.1f}" width="12" height="12" '
            f'fill="{colour}"/>'
        )
        parts.append(text(x + 18, top + 10, label))
    return parts


Formatter = Callable[[float], str]
"""Turns a number into a label."""
Values = Sequence[float | None]
"""Numbers, some of them possibly missing."""

AXIS = "#555555"
GRID = "#e5e5e5"


def clean_values(values: Values) -> list[float | None]:
    """Return the values as floats, missing ones (None, NaN, NA) as None."""
    return [None if is_missing(v) else float(v) for v in values]  # type: ignore[arg-type]


def present_values(values: Sequence[float | None]) -> list[float]:
    """Return the finite values, dropping missing ones."""
    return [v for v in values if v is not None and math.isfinite(v)]


def empty_chart(name: str, width: float, height: float, title: str) -> str:
    """Return a chart that says "No data"."""
    return (
        svg_open(name, width, height, title)
        + text(width / 2, height / 2, "No data", anchor="middle", fill="#888888")
        + svg_close()
    )
