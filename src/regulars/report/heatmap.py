"""The heatmap chart, with its colour-scale legend (re-exported by :mod:`.charts`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from regulars.report._svg import (
    AXIS,
    Formatter,
    Values,
    clean_values,
    empty_chart,
    esc,
    heat_colour,
    present_values,
    svg_close,
    svg_open,
    text,
    text_colour_on,
    text_width,
)

__all__ = ["heatmap"]


def heatmap(
    name: str,
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Values],
    *,
    title: str,
    x_label: str,
    y_label: str,
    value_format: Formatter,
    legend_label: str,
    width: float = 820,
    cell_height: float = 24,
    scale_max: float | None = None,
) -> str:
    """Return a heatmap: one cell per (row, column) value, with a colour-scale legend.

    Parameters
    ----------
    name
        The ``data-chart`` name.
    rows, cols
        Labels of the rows (top to bottom) and columns (left to right).
    values
        ``values[r][c]``; missing cells are left blank.
    title, x_label, y_label
        The chart's title and axis labels.
    value_format
        Formats the values written in the cells, in hover titles and on the legend.
    legend_label
        What the colours mean, with the unit.
    width, cell_height
        Total width and the height of a row, in pixels.
    scale_max
        The value given the darkest colour, when a few large values (a cohort's month 0)
        would wash the others out; larger values get the darkest colour too.
    """
    grid = [clean_values(row) for row in values]
    present = [v for row in grid for v in present_values(row)]
    if not present or not rows or not cols:
        return empty_chart(name, width, 120, title)
    low, high = min(0.0, min(present)), max(present)
    capped = scale_max is not None and low < scale_max < high
    if capped and scale_max is not None:
        high = scale_max
    span = (high - low) or 1.0
    left = 40 + max(text_width(r) for r in rows)
    legend_w = max(text_width(legend_label, 11), text_width(value_format(high)) + 36) + 24
    right, top = width - legend_w, 12.0
    cell_w = (right - left) / len(cols)
    bottom = top + cell_height * len(rows)
    widest = max(text_width(c) for c in cols) + 6
    rotate = widest > cell_w and len(cols) <= 24  # long labels, few columns: slant them
    label_h = widest * 0.7 + 6 if rotate else 20.0
    height = max(bottom + label_h + 34, 200)
    parts = [svg_open(name, width, height, title)]
    for r, (row_label, row) in enumerate(zip(rows, grid, strict=False)):
        y = top + r * cell_height
        parts.append(text(left - 6, y + cell_height / 2 + 4, row_label, anchor="end", fill=AXIS))
        for c, (col_label, v) in enumerate(zip(cols, row, strict=False)):
            if v is None:
                continue
            share = (v - low) / span
            shown = value_format(v)
            hover = f"{y_label} {row_label}, {x_label} {col_label}: {shown}"
            x = left + c * cell_w
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{cell_w:.1f}" '
                f'height="{cell_height:.1f}" fill="{heat_colour(share)}" stroke="#ffffff" '
                f'stroke-width="1"><title>{esc(hover)}</title></rect>'
            )
            if text_width(shown, 10) + 4 <= cell_w and cell_height >= 14:
                parts.append(
                    text(
                        x + cell_w / 2,
                        y + cell_height / 2 + 3.5,
                        shown,
                        anchor="middle",
                        size=10,
                        fill=text_colour_on(share),
                    )
                )
    every = 1 if rotate else max(1, math.ceil(widest / cell_w))
    for c, col_label in enumerate(cols):
        cx = left + (c + 0.5) * cell_w
        if rotate:
            parts.append(text(cx + 4, bottom + 12, col_label, anchor="end", fill=AXIS, rotate=-45))
        elif c % every == 0:
            parts.append(text(cx, bottom + 16, col_label, anchor="middle", fill=AXIS))
    x_label_y = bottom + label_h + 20
    parts.append(text((left + right) / 2, x_label_y, x_label, anchor="middle", size=13))
    parts.append(text(16, (top + bottom) / 2, y_label, anchor="middle", size=13, rotate=-90))
    top_label = ("≥ " if capped else "") + value_format(high)
    parts += _colour_legend(
        right + 20, top, min(bottom - top, 200), low, high, legend_label, value_format, top_label
    )
    parts.append(svg_close())
    return "".join(parts)


def _colour_legend(
    x: float,
    top: float,
    length: float,
    low: float,
    high: float,
    label: str,
    fmt: Formatter,
    top_label: str,
) -> list[str]:
    """Return a vertical colour bar, high at the top, with the low, middle and high values."""
    length = max(length, 90.0)
    steps = 20
    step_h = (length - 16) / steps
    parts = [text(x, top + 8, label, size=11, fill=AXIS)]
    bar_top = top + 16
    for i in range(steps):
        share = 1 - (i + 0.5) / steps
        parts.append(
            f'<rect class="legend" x="{x:.1f}" y="{bar_top + i * step_h:.1f}" width="14" '
            f'height="{step_h + 0.5:.1f}" fill="{heat_colour(share)}"/>'
        )
    marks = ((1.0, top_label), (0.5, fmt((low + high) / 2)), (0.0, fmt(low)))
    for share, shown in marks:
        y = bar_top + (1 - share) * (length - 16)
        parts.append(text(x + 20, y + 4, shown, size=11, fill=AXIS))
    return parts
