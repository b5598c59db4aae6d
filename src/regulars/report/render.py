"""Render a :class:`~regulars.analysis.StoreAnalysis` as one self-contained HTML page."""

from __future__ import annotations

from string import Template

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section
from regulars.report._svg import esc
from regulars.report.format import fmt_date
from regulars.report.sections import SECTIONS

__all__ = ["CSS", "render_page", "render_report"]

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 0; color: #1a1a1a; background: #ffffff; line-height: 1.45; }
header { background: #0b3d6b; color: #ffffff; padding: 24px 40px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; opacity: 0.9; }
nav { padding: 10px 40px; border-bottom: 1px solid #dddddd; font-size: 14px; display: flex;
  flex-wrap: wrap; gap: 4px 16px; }
nav a { color: #0b3d6b; text-decoration: none; white-space: nowrap; }
main { padding: 8px 40px 40px; max-width: 1180px; }
h2 { font-size: 21px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #0b3d6b; }
h3 { font-size: 16px; margin: 20px 0 6px; }
figure { margin: 12px 0 20px; }
figcaption { font-size: 13px; color: #555555; margin-top: 2px; }
svg.chart { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0 16px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e2e2e2; text-align: left; }
th { background: #f3f6f9; font-weight: 600; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px;
  margin: 12px 0 20px; }
.kpi { border: 1px solid #dde3ea; border-radius: 6px; padding: 10px 12px; }
.kpi-label { font-size: 13px; color: #555555; }
.kpi-value { font-size: 21px; font-weight: 600; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.kpi svg.chart { margin-top: 4px; }
.trend { font-size: 11px; color: #777777; }
.empty { color: #666666; font-style: italic; background: #f7f7f7; padding: 10px 12px;
  border-radius: 4px; }
ul.actions { padding-left: 18px; }
ul.actions li { margin-bottom: 8px; }
.segment { font-weight: 600; }
.size { color: #555555; font-size: 13px; margin-left: 6px; }
dl.definitions dt { font-weight: 600; margin-top: 8px; }
dl.definitions dd { margin-left: 16px; }
footer { padding: 16px 40px; color: #777777; font-size: 12px; border-top: 1px solid #dddddd; }
@media print { nav { display: none; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$css</style>
</head>
<body>
<header><h1>$title</h1><p>$subtitle</p></header>
<nav>$nav</nav>
<main>
$sections
</main>
<footer>$footer</footer>
</body>
</html>
"""
)


def render_page(title: str, subtitle: str, sections: list[Section], footer: str) -> str:
    """Return a self-contained page: the report's styles, a navigation bar, the sections.

    ``title``, ``subtitle`` and ``footer`` are plain text (escaped here).
    """
    return PAGE.substitute(
        title=esc(title),
        css=CSS,
        subtitle=esc(subtitle),
        nav="".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections),
        sections="\n".join(s.html() for s in sections),
        footer=esc(footer),
    )


def render_report(analysis: StoreAnalysis) -> str:
    """Return the report on a store as one HTML page that works offline.

    The page holds its styles and its charts (inline SVG): no scripts, fonts or images are
    fetched, so it can be saved and emailed as a single file.

    Parameters
    ----------
    analysis
        The store's analysis (see :class:`~regulars.analysis.StoreAnalysis`).

    Returns
    -------
    str
        The HTML document.
    """
    sections = [s for s in (render(analysis) for render in SECTIONS) if s is not None]
    period = f"as of {fmt_date(analysis.as_of)}"
    if analysis.first_order_day:
        period = f"orders from {fmt_date(analysis.first_order_day)} to {fmt_date(analysis.as_of)}"
    return render_page(
        f"Retention report: {analysis.store}",
        f"{period} · figures in {analysis.currency}",
        sections,
        f"Made by regulars. Every figure is in {analysis.currency}. Hover a chart's marks "
        "for exact values.",
    )
