"""The report's sections, in reading order; each module has ``render(analysis) -> Section``.

A section that was not asked for (recommendations) renders ``None`` and is left out.
"""

from __future__ import annotations

from collections.abc import Callable

from regulars.analysis import StoreAnalysis
from regulars.report._html import Section
from regulars.report.sections import (
    actions,
    churn,
    cohorts,
    definitions,
    distributions,
    kpis,
    ltv,
    predictions,
    recommendations,
    rfm,
    segments,
    transitions,
)

__all__ = ["SECTIONS"]

SECTIONS: tuple[Callable[[StoreAnalysis], Section | None], ...] = (
    kpis.render,
    churn.render,
    cohorts.render,
    ltv.render,
    predictions.render,
    rfm.render,
    transitions.render,
    segments.render,
    distributions.render,
    recommendations.render,
    actions.render,
    definitions.render,
)
"""Section renderers in the order they appear."""
