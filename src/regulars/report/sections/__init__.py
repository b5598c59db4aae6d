"""The report's sections, in reading order; each module has ``render(analysis) -> Section``."""

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
    rfm,
    segments,
    transitions,
)

__all__ = ["SECTIONS"]

SECTIONS: tuple[Callable[[StoreAnalysis], Section], ...] = (
    kpis.render,
    churn.render,
    cohorts.render,
    ltv.render,
    predictions.render,
    rfm.render,
    transitions.render,
    segments.render,
    distributions.render,
    actions.render,
    definitions.render,
)
"""Section renderers in the order they appear."""
