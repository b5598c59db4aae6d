"""Validation shared by every importer: encodings, columns, values, with exact locations.

Sources are first loaded as text into a *raw* staging table (every column ``VARCHAR``,
plus ``_row``: the row number a spreadsheet shows, the header being row 1). Each check
then looks for the first row that breaks a rule and raises an :class:`InputError` that
names the file, the row, the column, the value, what was expected and how to fix it.
Typed values are produced by the SQL expressions of this module (``decimal_sql``, ...),
so that what is checked is exactly what is converted.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from regulars.errors import ConfigError, ImportFormatError, InputError
from regulars.importers.base import CanonicalData, ImportOptions

__all__ = [
    "check_encoding",
    "check_timezone",
    "decimal_sql",
    "first_bad_row",
    "integer_sql",
    "iso_timestamp_sql",
    "load_csv_raw",
    "normalize_header",
    "open_binary",
    "quote",
    "require_columns",
    "require_values",
    "session_timezone",
    "timestamp_sql",
]

_CHUNK = 1 << 20
# A time of day followed by a UTC offset: "10:00Z", "10:00:00.5+01:00", "10:00 +0100".
_OFFSET_RE = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def quote(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def normalize_header(name: str) -> str:
    """Return a column name folded for matching: lower case, ``_`` for spaces and hyphens."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, decompressing ``.gz`` transparently."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def check_timezone(name: str) -> str:
    """Return ``name`` if it is a valid IANA time zone, else raise :class:`ConfigError`."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"Unknown time zone {name!r}.",
            fix="Pass an IANA name such as UTC, Europe/London or America/New_York with --timezone.",
        ) from exc
    return name


def check_encoding(path: Path, encoding: str) -> None:
    """Read ``path`` once and raise :class:`InputError` at the first undecodable byte.

    The message gives the row (line) and byte offset, and how to fix it.
    """
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as exc:
        raise ConfigError(
            f"Unknown text encoding {encoding!r}.",
            fix="Pass a Python codec name such as utf-8, latin-1 or cp1252 with --encoding.",
        ) from exc
    line = 1
    offset = 0
    with open_binary(path) as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = exc.start
                line += chunk.count(b"\n", 0, bad)
                raise InputError(
                    f"The file is not valid {encoding} text.",
                    file=path,
                    row=line,
                    value=chunk[max(0, bad - 20) : bad + 10].decode(encoding, "replace"),
                    expected=f"{encoding} text (byte {offset + bad} is {chunk[bad : bad + 1]!r})",
                    fix=(
                        "Save the file as UTF-8, or tell regulars its encoding with "
                        "--encoding latin-1 (or cp1252, the usual Excel export on Windows)."
                    ),
                ) from exc
            line += chunk.count(b"\n")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"The file ends in the middle of a {encoding} character.",
                file=path,
                row=line,
                expected=f"complete {encoding} text",
                fix="The file may be truncated: export it again.",
            ) from exc


def _as_utf8(data: CanonicalData, path: Path, encoding: str) -> Path:
    """Return a UTF-8 copy of ``path`` in the staging folder when it is in another encoding."""
    if codecs.lookup(encoding).name == "utf-8":
        return path
    target = Path(data._tmp.name) / (path.name.removesuffix(".gz") + ".utf8")
    with open_binary(path) as raw, target.open("w", encoding="utf-8", newline="") as out:
        reader = codecs.getreader(encoding)(raw)
        shutil.copyfileobj(reader, out, _CHUNK)
    return target


def load_csv_raw(
    data: CanonicalData,
    path: Path,
    raw: str,
    options: ImportOptions,
    *,
    delimiter: str = ",",
    header: bool = True,
    names: Sequence[str] | None = None,
) -> list[str]:
    """Load a delimited text file into staging table ``raw``, every column as text.

    Adds ``_row``: the row number as a spreadsheet shows it (header = row 1). Applies
    ``options.column_map``. Sets ``data.rows_read``. Returns the column names (without
    ``_row``).

    Raises
    ------
    InputError
        On undecodable text or a row that cannot be parsed (wrong number of fields,
        unterminated quote), naming the file and, where DuckDB reports it, the line.
    """
    check_encoding(path, options.encoding)
    source = _as_utf8(data, path, options.encoding)
    if names is None:
        names = _read_header(source, delimiter)
    cols = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for n in names)
    args = [
        f"header = {'true' if header else 'false'}",
        f"delim = '{delimiter}'",
        "quote = '\"'",
        "escape = '\"'",
        "strict_mode = true",
        "auto_detect = false",
        "columns = {" + cols + "}",
    ]
    first = 2 if header else 1
    try:
        data.con.execute(
            f"CREATE TABLE {raw} AS SELECT * FROM read_csv(?, {', '.join(args)})",
            [str(source)],
        )
    except duckdb.Error as exc:
        raise _csv_error(str(exc), path, len(names)) from exc
    columns = [r[0] for r in data.con.execute(f"DESCRIBE {raw}").fetchall()]
    mapped = _apply_map(columns, options, path)
    renames = [(c, m) for c, m in zip(columns, mapped, strict=True) if c != m]
    for i, (col, _) in enumerate(renames):  # two steps, so that swapping names works
        data.con.execute(f"ALTER TABLE {raw} RENAME COLUMN {quote(col)} TO {quote(f'__m{i}')}")
    for i, (_, new) in enumerate(renames):
        data.con.execute(f"ALTER TABLE {raw} RENAME COLUMN {quote(f'__m{i}')} TO {quote(new)}")
    # rowid follows the file's order (insertion order is preserved); far cheaper than a copy.
    data.con.execute(f"ALTER TABLE {raw} ADD COLUMN _row BIGINT")
    data.con.execute(f"UPDATE {raw} SET _row = rowid + {first}")
    data.rows_read += data.count(raw)
    return mapped


def _read_header(path: Path, delimiter: str) -> list[str]:
    """Return the column names of the header line (BOM stripped)."""
    with open_binary(path) as fh:
        first = fh.readline().decode("utf-8", errors="replace").lstrip("\ufeff")
    names = next(csv.reader([first], delimiter=delimiter), [])
    names = [n.strip() for n in names]
    if not names or not any(names):
        raise ImportFormatError(
            "The file is empty or its first line is blank.",
            file=path,
            row=1,
            expected="a header line naming the columns",
            fix="Export the file again with its header line.",
        )
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ImportFormatError(
            f"Column {dup!r} appears twice in the header.",
            file=path,
            row=1,
            column=dup,
            expected="distinct column names",
            fix="Rename or remove one of the two columns.",
        )
    return names


def _apply_map(columns: list[str], options: ImportOptions, path: Path) -> list[str]:
    mapping = dict(options.column_map)
    unknown = [src for src in mapping if src not in columns]
    if unknown:
        raise ImportFormatError(
            f"--map names column {unknown[0]!r}, which the file does not have.",
            file=path,
            column=unknown[0],
            expected="one of: " + ", ".join(columns),
            fix="Spell the source column exactly as in the header line.",
        )
    renamed = [mapping.get(c, c) for c in columns]
    seen: set[str] = set()
    for name in renamed:
        if name in seen:
            raise ImportFormatError(
                f"Two columns would be called {name!r} after --map.",
                file=path,
                column=name,
                fix="Map only one source column to each canonical field.",
            )
        seen.add(name)
    return renamed


def _csv_error(text: str, path: Path, n_columns: int) -> InputError:
    """Turn DuckDB's CSV reader error into a message for people."""
    line = re.search(r"CSV Error on Line: (\d+)", text)
    original = re.search(r"Original Line: (.*)", text)
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if found:
        what = f"This row has {found.group(2)} fields; the header has {found.group(1)}."
        fix = (
            'Quote values that contain the delimiter ("1,5"), or remove the extra field. '
            "A decimal comma is a common cause: write 1.5."
        )
    elif "unterminated quote" in text:
        what = "A quoted value is not closed on this row."
        fix = 'Close the quote, or double a quote inside a value ("").'
    else:
        what = "The file could not be read as CSV: " + (text.strip().splitlines() or [text])[0]
        fix = "Check the row named above (a stray quote or delimiter is the usual cause)."
    return InputError(
        what,
        file=path,
        row=int(line.group(1)) if line else None,
        value=original.group(1) if original else None,
        expected=f"{n_columns} comma-separated fields on every row, as in the header",
        fix=fix,
    )


def require_columns(
    columns: Iterable[str], required: Iterable[str], *, file: Path | str, fix: str | None = None
) -> None:
    """Raise :class:`ImportFormatError` naming the first required column that is missing."""
    have = list(columns)
    for col in required:
        if col not in have:
            raise ImportFormatError(
                f"Required column {col} missing.",
                file=file,
                row=1,
                column=col,
                expected="columns " + ", ".join(required),
                fix=fix
                or (
                    f"Add a {col!r} column, or map yours to it with --map your_column={col}. "
                    f"The file has: {', '.join(have)}."
                ),
            )


def first_bad_row(
    data: CanonicalData, raw: str, column: str, condition: str
) -> tuple[int, str | None] | None:
    """Return ``(row, value)`` of the first row of ``raw`` where ``condition`` holds, or None."""
    found = data.con.execute(
        f"SELECT _row, {quote(column)} FROM {raw} WHERE {condition} ORDER BY _row LIMIT 1"
    ).fetchone()
    return (int(found[0]), found[1]) if found else None


def require_values(
    data: CanonicalData,
    raw: str,
    column: str,
    bad_condition: str,
    *,
    file: Path | str,
    message: str,
    expected: str,
    fix: str,
) -> None:
    """Raise :class:`InputError` at the first row where ``bad_condition`` holds."""
    found = first_bad_row(data, raw, column, bad_condition)
    if found:
        raise InputError(
            message,
            file=file,
            row=found[0],
            column=column,
            value=found[1],
            expected=expected,
            fix=fix,
        )


@contextmanager
def session_timezone(data: CanonicalData, timezone: str) -> Iterator[None]:
    """Within the block, ``CAST(text AS TIMESTAMPTZ)`` reads times without offset in ``timezone``.

    Faster than :func:`timestamp_sql` on large files (no pattern match per value); the
    staging database goes back to UTC afterwards.
    """
    tz = check_timezone(timezone).replace("'", "''")
    data.con.execute(f"SET TimeZone = '{tz}'")
    try:
        yield
    finally:
        data.con.execute("SET TimeZone = 'UTC'")


def decimal_sql(column: str) -> str:
    """Return SQL turning a text column into an exact ``DECIMAL(18,4)`` (NULL if unparsable)."""
    return f"TRY_CAST(trim({quote(column)}) AS DECIMAL(18,4))"


def integer_sql(column: str) -> str:
    """Return SQL turning a text column of whole numbers into ``BIGINT`` (else NULL)."""
    col = quote(column)
    return (
        f"CASE WHEN regexp_full_match(trim({col}), '[+-]?[0-9]+') "
        f"THEN TRY_CAST(trim({col}) AS BIGINT) END"
    )


def iso_timestamp_sql(column: str) -> str:
    """Return SQL reading an ISO 8601 text column as ``TIMESTAMPTZ`` (NULL if it is not one).

    Values must start with ``YYYY-MM-DD`` (so ``01/03/24`` is refused, not read as year 1);
    an offset may follow the time with or without a space (``10:15:00 -0500``, Shopify's
    layout). Values without an offset are read in the session time zone: use it inside
    :func:`session_timezone`.
    """
    col = f"trim({quote(column)})"
    spaced = f"regexp_replace({col}, ' ([+-][0-9]{{2}}:?[0-9]{{2}})$', '\\1')"
    return (
        f"CASE WHEN TRY_CAST(substr({col}, 1, 4) AS INTEGER) IS NOT NULL "
        f"AND substr({col}, 5, 1) = '-' THEN TRY_CAST("
        f"CASE WHEN {col} LIKE '% +%' OR {col} LIKE '% -%' THEN {spaced} ELSE {col} END "
        "AS TIMESTAMPTZ) END"
    )


def timestamp_sql(column: str, timezone: str, fmt: str | None = None) -> str:
    """Return SQL turning a text column into a UTC ``TIMESTAMPTZ``.

    Values with an offset (``Z``, ``+01:00``, `` -0500``) keep it; values without one are
    read as local time in ``timezone``. ``fmt`` is a strptime format for non-ISO layouts
    (``%Y%m%d``). Within :func:`session_timezone`, :func:`iso_timestamp_sql` is faster.
    """
    col = f"trim({quote(column)})"
    tz = check_timezone(timezone).replace("'", "''")
    if fmt:
        return f"timezone('{tz}', try_strptime({col}, '{fmt}'))"
    return (
        f"CASE WHEN regexp_matches({col}, '{_OFFSET_RE}') "
        f"THEN {iso_timestamp_sql(column)} "
        f"ELSE timezone('{tz}', CASE WHEN TRY_CAST(substr({col}, 1, 4) AS INTEGER) IS NOT NULL "
        f"AND substr({col}, 5, 1) = '-' THEN TRY_CAST({col} AS TIMESTAMP) END) END"
    )
