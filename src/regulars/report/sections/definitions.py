"""The definitions the numbers use, in words."""

from __future__ import annotations

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section, empty
from regulars.report._svg import esc

__all__ = ["render"]


def render(analysis: StoreAnalysis) -> Section:
    """Return the definitions section (a definition list)."""
    title = "Definitions"
    if not analysis.definitions:
        return Section("definitions", title, empty("No definitions were recorded."))
    items = "".join(
        f"<dt>{esc(name.replace('_', ' '))}</dt><dd>{esc(text)}</dd>"
        for name, text in analysis.definitions.items()
    )
    return Section("definitions", title, f'<dl class="definitions">{items}</dl>')
