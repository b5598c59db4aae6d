"""Charts as inline SVG strings: sparkline, line chart, bar chart and heatmap.

Every chart's root is ``<svg class="chart" data-chart="<name>">``; each data point is drawn
as one element with ``class="mark"`` (a circle, a bar or a cell) carrying a ``<title>`` that
browsers show on hover, so the charts need no script. Text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from regulars.report._svg import (
    AXIS,
    GRID,
    PALETTE,
    Formatter,
    Values,
    clean_values,
    empty_chart,
    esc,
    legend_rows,
    nice_ticks,
    present_values,
    svg_close,
    svg_open,
    text,
    text_width,
)
from regulars.report.format import fmt_tick, tick_formatter
from regulars.report.heatmap import heatmap

__all__ = ["Formatter", "bar_chart", "heatmap", "line_chart", "sparkline"]


def sparkline(
    name: str,
    values: Values,
    *,
    title: str = "",
    width: float = 160,
    height: float = 40,
    fmt: Formatter = fmt_tick,
) -> str:
    """Return a small trend line without axes, the last point marked.

    Parameters
    ----------
    name
        The ``data-chart`` name.
    values
        One value per period, oldest first; missing values leave a gap.
    title
        Shown on hover.
    width, height
        Size in pixels.
    fmt
        Formats the first and last values in the hover title.
    """
    clean = clean_values(values)
    present = present_values(clean)
    if not present:
        return empty_chart(name, width, height, title or "No data")
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    pad = 3.0
    step = (width - 2 * pad) / max(len(clean) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        y = height - pad - (v - low) / span * (height - 2 * pad)
        return pad + i * step, y if high > low else height / 2

    commands: list[str] = []
    pen_up = True
    for i, v in enumerate(clean):
        if v is None:
            pen_up = True
            continue
        x, y = xy(i, v)
        commands.append(f"{'M' if pen_up else 'L'}{x:.1f},{y:.1f}")
        pen_up = False
    last = max(i for i, v in enumerate(clean) if v is not None)
    lx, ly = xy(last, clean[last])  # type: ignore[arg-type]
    hover = f"{title}: {fmt(present[0])} → {fmt(present[-1])}" if title else fmt(present[-1])
    return (
        svg_open(name, width, height, hover)
        + f'<path class="mark line" d="{" ".join(commands)}" fill="none" stroke="{PALETTE[0]}" '
        'stroke-width="1.5" stroke-linejoin="round"/>'
        + f'<circle class="mark" cx="{lx:.1f}" cy="{ly:.1f}" r="2.5" fill="{PALETTE[0]}"/>'
        + svg_close()
    )


def _y_axis(
    ticks: list[float], y_of: Callable[[float], float], left: float, right: float, fmt: Formatter
) -> list[str]:
    parts = []
    for t in ticks:
        y = y_of(t)
        parts.append(
            f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(text(left - 6, y + 4, fmt(t), anchor="end", fill=AXIS))
    return parts


def _axis_labels(
    x_label: str, y_label: str, left: float, right: float, top: float, bottom: float, height: float
) -> list[str]:
    mid_y = (top + bottom) / 2
    return [
        f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" '
        f'stroke="{AXIS}"/>',
        text((left + right) / 2, height - 8, x_label, anchor="middle", size=13, css="axis-label"),
        text(16, mid_y, y_label, anchor="middle", size=13, rotate=-90, css="axis-label"),
    ]


def line_chart(
    name: str,
    xs: Sequence[float],
    series: Sequence[tuple[str, Values]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_format: Formatter = fmt_tick,
    y_format: Formatter | None = None,
    value_format: Formatter | None = None,
    highlight: str | None = None,
    width: float = 960,
    height: float = 380,
) -> str:
    """Return a line chart with one line per series, each point a mark.

    Parameters
    ----------
    name
        The ``data-chart`` name.
    xs
        The x positions shared by all series.
    series
        ``(label, y values aligned with xs)``; missing values are skipped.
    title, x_label, y_label
        The chart's title (read by screen readers) and axis labels (give the units).
    x_format, y_format
        Format tick labels (by default alike along an axis: ``0, 500, 1,000`` or
        ``0.5M, 1M``).
    value_format
        Formats values in the hover titles (defaults to ``y_format``).
    highlight
        The label of a series drawn on top, thicker and in near-black (an average, say).
    width, height
        Size in pixels.
    """
    cleaned = [(label, clean_values(values)) for label, values in series]
    ys = [v for _, values in cleaned for v in present_values(values)]
    if not ys or not xs:
        return empty_chart(name, width, height, title)
    y_ticks = nice_ticks(min(0.0, min(ys)), max(ys))
    y_format = y_format or tick_formatter(y_ticks)
    value_format = value_format or y_format
    x_ticks = nice_ticks(min(xs), max(xs), count=min(len(xs), 8))
    x_ticks = [t for t in x_ticks if min(xs) <= t <= max(xs)] or [xs[0]]
    legend_w = max(text_width(label) for label, _ in cleaned) + 30 if len(cleaned) > 1 else 0
    left = 34 + max(text_width(y_format(t)) for t in y_ticks)
    overhang = text_width(x_format(x_ticks[-1])) / 2 + 4 if x_ticks[-1] == max(xs) else 0
    right, top, bottom = width - max(16, overhang) - legend_w, 16.0, height - 48
    x_lo, x_hi = min(xs), max(xs)
    x_span = (x_hi - x_lo) or 1.0

    def x_of(x: float) -> float:
        return left + (x - x_lo) / x_span * (right - left) if x_hi > x_lo else (left + right) / 2

    def y_of(y: float) -> float:
        return bottom - (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top)

    parts = [svg_open(name, width, height, title)]
    parts += _y_axis(y_ticks, y_of, left, right, y_format)
    for t in x_ticks:
        parts.append(text(x_of(t), bottom + 18, x_format(t), anchor="middle", fill=AXIS))
    parts += _axis_labels(x_label, y_label, left, right, top, bottom, height)
    others = iter(PALETTE * (len(cleaned) // len(PALETTE) + 1))
    colours = ["#222222" if label == highlight else next(others) for label, _ in cleaned]
    drawn = sorted(zip(cleaned, colours, strict=True), key=lambda sc: sc[0][0] == highlight)
    for (label, values), colour in drawn:
        stroke = 3 if label == highlight else 2
        points = [(x, v) for x, v in zip(xs, values, strict=False) if v is not None]
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x_of(x):.1f},{y_of(v):.1f}"
            for i, (x, v) in enumerate(points)
        )
        parts.append(
            f'<path class="line" d="{path}" fill="none" stroke="{colour}" stroke-width="{stroke}" '
            'stroke-linejoin="round"/>'
        )
        for x, v in points:
            hover = f"{label}, {x_label} {x_format(x)}: {value_format(v)}"
            parts.append(
                f'<circle class="mark" cx="{x_of(x):.1f}" cy="{y_of(v):.1f}" r="3" '
                f'fill="{colour}"><title>{esc(hover)}</title></circle>'
            )
    if legend_w:
        parts += legend_rows([label for label, _ in cleaned], colours, right + 16, top)
    parts.append(svg_close())
    return "".join(parts)


def bar_chart(
    name: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Values]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    y_format: Formatter | None = None,
    value_format: Formatter | None = None,
    width: float = 960,
    height: float = 340,
) -> str:
    """Return a bar chart: one group per category, one bar per series in each group.

    Parameters
    ----------
    name
        The ``data-chart`` name.
    categories
        Labels along the x axis.
    series
        ``(label, one value per category)``; a legend is drawn when there are several.
    title, x_label, y_label
        The chart's title and axis labels (give the units).
    y_format
        Formats y tick labels (by default alike along the axis).
    value_format
        Formats the values written above the bars and in hover titles (defaults to
        ``y_format``).
    width, height
        Size in pixels.
    """
    cleaned = [(label, clean_values(values)) for label, values in series]
    ys = [v for _, values in cleaned for v in present_values(values)]
    if not ys or not categories:
        return empty_chart(name, width, height, title)
    y_ticks = nice_ticks(min(0.0, min(ys)), max(ys))
    y_format = y_format or tick_formatter(y_ticks)
    value_format = value_format or y_format
    legend_w = max(text_width(label) for label, _ in cleaned) + 30 if len(cleaned) > 1 else 0
    left = 34 + max(text_width(y_format(t)) for t in y_ticks)
    right, top, bottom = width - 16 - legend_w, 20.0, height - 48
    group_w = (right - left) / len(categories)
    bar_w = group_w * 0.8 / len(cleaned)

    def y_of(y: float) -> float:
        return bottom - (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top)

    parts = [svg_open(name, width, height, title)]
    parts += _y_axis(y_ticks, y_of, left, right, y_format)
    widest = max(text_width(c) for c in categories) + 6
    every = max(1, math.ceil(widest / group_w))
    for i, category in enumerate(categories):
        if i % every == 0:
            cx = left + (i + 0.5) * group_w
            parts.append(text(cx, bottom + 18, category, anchor="middle", fill=AXIS))
    parts += _axis_labels(x_label, y_label, left, right, top, bottom, height)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(cleaned))]
    zero = y_of(max(0.0, y_ticks[0]))
    for s, ((label, values), colour) in enumerate(zip(cleaned, colours, strict=True)):
        for i, (category, v) in enumerate(zip(categories, values, strict=False)):
            if v is None:
                continue
            x = left + i * group_w + group_w * 0.1 + s * bar_w
            y0, y1 = sorted((zero, y_of(v)))
            hover = f"{category}: {value_format(v)}" + (f" ({label})" if len(cleaned) > 1 else "")
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{colour}">'
                f"<title>{esc(hover)}</title></rect>"
            )
            shown = value_format(v)
            if text_width(shown, 11) <= bar_w + 4:
                parts.append(text(x + bar_w / 2, y0 - 4, shown, anchor="middle", size=11))
    if legend_w:
        parts += legend_rows([label for label, _ in cleaned], colours, right + 16, top)
    parts.append(svg_close())
    return "".join(parts)
