"""Importers: one module per source layout, each turning a source into canonical tables.

Every format module defines:

- ``FORMAT``: its name on the command line (``--format NAME``);
- ``DESCRIPTION``: one line for ``regulars import --help``;
- ``detect(peek: SourcePeek) -> bool``: whether a source looks like this layout;
- ``read(path: Path, options: ImportOptions) -> CanonicalData``: the import itself.

:func:`read_source` picks the module (``format="auto"`` asks each ``detect`` in turn) and
returns validated canonical data; :meth:`regulars.workspace.Workspace.write` stores it.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from regulars.errors import ConfigError, ImportFormatError, InputError
from regulars.importers.base import CanonicalData, ImportOptions, ImportSummary
from regulars.importers.validate import check_timezone, open_binary

__all__ = [
    "FORMATS",
    "CanonicalData",
    "ImportOptions",
    "ImportSummary",
    "SourcePeek",
    "detect_format",
    "format_module",
    "read_source",
]

FORMATS: dict[str, str] = {
    "canonical": "regulars.importers.canonical",
    "segment": "regulars.importers.segment_events",
    "cdnow": "regulars.importers.cdnow",
    "shopify": "regulars.importers.shopify",
    "online-retail": "regulars.importers.online_retail",
    "generic": "regulars.importers.generic_csv",
}
"""Format name -> module, in the order ``--format auto`` tries them (most specific first)."""

_PEEK_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourcePeek:
    """The first few lines of a source, for format detection.

    Attributes
    ----------
    path
        The source.
    is_dir
        Whether the source is a folder (then ``files`` lists its entries).
    lines
        The first lines of a file, decoded leniently (no line when it is a folder).
    files
        Names of the files in a folder.
    """

    path: Path
    is_dir: bool
    lines: tuple[str, ...]
    files: tuple[str, ...]

    @classmethod
    def of(cls, path: Path) -> SourcePeek:
        """Peek at ``path``."""
        if path.is_dir():
            return cls(path, True, (), tuple(sorted(p.name for p in path.iterdir())))
        with open_binary(path) as fh:
            head = fh.read(_PEEK_BYTES)
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
        lines = tuple(text.splitlines()[:20])
        return cls(path, False, lines, ())

    @property
    def header(self) -> list[str]:
        """The first line split on commas, stripped of quotes and spaces."""
        if not self.lines:
            return []
        return [c.strip().strip('"').strip() for c in self.lines[0].split(",")]


def format_module(name: str) -> ModuleType:
    """Return the module implementing format ``name``."""
    if name not in FORMATS:
        raise ConfigError(
            f"Unknown format {name!r}.",
            fix="Use --format auto, or one of: " + ", ".join(FORMATS) + ".",
        )
    return importlib.import_module(FORMATS[name])


def formats_markdown() -> str:
    """Return every format's documentation (its module docstring) as one markdown page."""
    out = [
        "# Importing: formats and their rules",
        "",
        "Generated from the importers' docstrings (`src/regulars/importers/`);",
        "`regulars formats --markdown > docs/importing.md` writes this page again.",
        "",
        "`--format auto` tries the formats in this order and takes the first that recognizes",
        "the source. Rows left out by a rule are counted in the import summary and written,",
        "with the rule's name, by `--report-rejects FILE`.",
    ]
    for name in FORMATS:
        module = format_module(name)
        doc = inspect.cleandoc(module.__doc__ or "")
        title, _, body = doc.partition("\n")
        out += ["", f"## `{name}`: {title.strip()}", "", body.strip()]
    return "\n".join(out) + "\n"


def detect_format(path: Path) -> str:
    """Return the name of the format whose layout ``path`` has.

    Raises
    ------
    ImportFormatError
        When no format recognizes the source.
    """
    peek = SourcePeek.of(path)
    for name in FORMATS:
        if format_module(name).detect(peek):
            return name
    shown = ", ".join(peek.files) if peek.is_dir else (peek.lines[0] if peek.lines else "(empty)")
    raise ImportFormatError(
        "Could not tell which layout this source has.",
        file=path,
        row=None if peek.is_dir else 1,
        value=shown[:200],
        expected=(
            "an order-lines file with columns customer_id, order_id, ordered_at, product_id, "
            "quantity, unit_price; a Shopify orders export; UCI Online Retail; CDNOW; Segment "
            "events as JSON lines; or a folder written by `regulars simulate`"
        ),
        fix="Name the layout with --format, and map your columns with --map their_col=field.",
    )


def read_source(
    path: str | Path, *, format: str = "auto", options: ImportOptions | None = None
) -> CanonicalData:
    """Read a source into validated canonical tables.

    Parameters
    ----------
    path
        A file (CSV, CSV.gz, Parquet, JSON lines, whitespace-separated text) or a folder.
    format
        A name from :data:`FORMATS`, or ``"auto"`` to detect it.
    options
        Column mapping, time zone, currency and encoding.

    Returns
    -------
    CanonicalData
        Staged canonical tables; close it (or use it as a context manager) when done.

    Raises
    ------
    InputError
        When the source is missing or malformed; the message names file, row and column.
    """
    source = Path(path)
    if not source.exists():
        raise InputError(
            "No such file or folder.",
            file=source,
            fix="Check the path; relative paths start from the current folder.",
        )
    opts = options or ImportOptions()
    if opts.timezone is not None:
        check_timezone(opts.timezone)
    name = detect_format(source) if format == "auto" else format
    module = format_module(name)
    data: CanonicalData = module.read(source, opts)
    try:
        data.check()
    except BaseException:
        data.close()
        raise
    return data
