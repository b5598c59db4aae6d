"""The self-contained HTML report: charts as inline SVG, one module per section.

:func:`render_report` turns a :class:`~regulars.analysis.StoreAnalysis` into one HTML page
that works offline; :mod:`.charts` draws the SVG charts it uses.
"""

from __future__ import annotations

from regulars.report.render import render_report

__all__ = ["render_report"]
