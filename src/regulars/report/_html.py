"""HTML pieces shared by the sections: a section, a table, a sentence for missing data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from regulars.report._svg import esc

__all__ = [
    "Section",
    "complete",
    "empty",
    "figure",
    "paragraph",
    "rows_of",
    "table",
    "usable",
]


@dataclass(frozen=True)
class Section:
    """One section of the report: an anchor id, a heading and its HTML body."""

    id: str
    title: str
    body: str

    def html(self) -> str:
        """Return the section as ``<section id=...><h2>title</h2>body</section>``."""
        return (
            f'<section id="{esc(self.id)}" class="section">'
            f"<h2>{esc(self.title)}</h2>{self.body}</section>"
        )


def usable(frame: pd.DataFrame | None, columns: Iterable[str]) -> bool:
    """Return whether ``frame`` has rows and all of ``columns``."""
    if frame is None or not isinstance(frame, pd.DataFrame) or frame.empty:
        return False
    return all(c in frame.columns for c in columns)


def complete(
    frame: pd.DataFrame | None, columns: Iterable[str], keys: Iterable[str]
) -> pd.DataFrame | None:
    """Return the rows of ``frame`` whose ``keys`` are all present, or None if none is.

    None also when the frame lacks one of ``columns``.
    """
    columns = list(columns)
    if frame is None or not usable(frame, columns):
        return None
    kept = frame.dropna(subset=list(keys))
    return None if kept.empty else kept


def rows_of(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Return the rows of a frame as dictionaries."""
    return list(frame.to_dict(orient="records"))


def empty(sentence: str) -> str:
    """Return a sentence shown where a chart or table would be, when there is no data."""
    return f'<p class="empty">{esc(sentence)}</p>'


def paragraph(sentence: str) -> str:
    """Return an escaped paragraph."""
    return f"<p>{esc(sentence)}</p>"


def figure(svg: str, caption: str) -> str:
    """Return a chart with a caption below it."""
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[bool] | None = None,
    css: str = "",
) -> str:
    """Return a table of already formatted (plain text) cells; numeric columns align right."""
    numeric = list(numeric) if numeric is not None else [i > 0 for i in range(len(headers))]
    align = [' class="num"' if n else "" for n in numeric]
    head = "".join(f"<th{a}>{esc(h)}</th>" for h, a in zip(headers, align, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{a}>{esc(v)}</td>" for v, a in zip(row, align, strict=True)) + "</tr>"
        for row in rows
    )
    cls = f' class="{esc(css)}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
