"""CDNOW purchase records (Fader, Hardie & Lee 2005): whitespace-separated text.

Two layouts, told apart by the first line:

- **master** (``CDNOW_master.txt``): a header ``customer_id date number_of_cds dollar_value``
  (a file whose first line is already a 4-field record is read the same way);
- **sample** (``CDNOW_sample.txt``): no header, five fields
  ``master_id sample_id date number_of_cds dollar_value``.

Rules
-----
- The customer id is kept as written, leading zeros included. In the sample it is the
  ``master_id`` (the ``sample_id`` is ignored), so sample and master records of one customer
  have the same customer and order ids and never double in a workspace.
- Each record is one order: ``order_id`` = ``{customer}-{YYYYMMDD}-{n}``, ``n`` numbering
  (from 1, in file order) the records of one customer on one day. ``ordered_at`` is the day at
  00:00 in ``--timezone`` (UTC by default); currency is USD unless ``--currency`` says
  otherwise; status is paid.
- Each order has one line: product ``CD``, quantity 1, unit price = line total = order
  total = ``dollar_value``, exactly. (Quantity = number_of_cds would need a rounded unit
  price for about one record in eight, breaking line_total = quantity x unit_price.)
  ``details["cds"]`` keeps the total number of CDs.
- A record of value 0 is kept as an order of value 0 (it is a purchase occasion);
  ``details["zero_value_records"]`` counts them.
- ``number_of_cds`` must be a whole number >= 1, ``dollar_value`` a number >= 0 with at most
  four decimals, and ``date`` a valid YYYYMMDD date; otherwise the import stops and names
  the line and the field. Blank lines are skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pyarrow as pa

from regulars.errors import ImportFormatError, InputError
from regulars.importers.base import CanonicalData, ImportOptions
from regulars.importers.validate import open_binary
from regulars.schema import MONEY, TIMESTAMP

if TYPE_CHECKING:
    from regulars.importers import SourcePeek

FORMAT = "cdnow"
DESCRIPTION = "CDNOW purchase records: customer_id date number_of_cds dollar_value (or the sample)"

MASTER_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
SAMPLE_COLUMNS = ("master_id", "sample_id", "date", "number_of_cds", "dollar_value")
PRODUCT_ID = "CD"

_MASTER_RE = re.compile(r"\d+\s+\d{8}\s+\d+\s+\d+(\.\d+)?")
_SAMPLE_RE = re.compile(r"\d+\s+\d+\s+\d{8}\s+\d+\s+\d+(\.\d+)?")
_AMOUNT_RE = re.compile(r"\d+(\.\d{1,4})?")


def detect(peek: SourcePeek) -> bool:
    """Return True when the first line is the CDNOW header or a CDNOW record."""
    if peek.is_dir or not peek.lines:
        return False
    first = peek.lines[0].strip()
    if tuple(first.lower().split()) == MASTER_COLUMNS:
        return True
    return bool(_MASTER_RE.fullmatch(first) or _SAMPLE_RE.fullmatch(first))


def read(path: Path, options: ImportOptions) -> CanonicalData:
    """Import a CDNOW master or sample file.

    Parameters
    ----------
    path
        ``CDNOW_master.txt`` or ``CDNOW_sample.txt`` (gzipped is fine).
    options
        Time zone of the dates (UTC by default), currency (USD unless set), encoding.

    Returns
    -------
    CanonicalData
        One order and one order line per record, the customers and the one product.
    """
    currency = options.currency_or("USD")
    zone = ZoneInfo(options.timezone_or("UTC"))
    with CanonicalData(path, FORMAT).building() as data:
        records = _parse(path, options.encoding)
        data.rows_read = len(records)
        _stage(data, records, currency, zone)
        return data


_Record = tuple[int, str, str, int, Decimal]
"""(line number, customer id, YYYYMMDD, number of CDs, dollar value)."""


def _parse(path: Path, encoding: str) -> list[_Record]:
    with open_binary(path) as fh:
        raw = fh.read()
    try:
        text = raw.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"The file is not valid {encoding} text.",
            file=path,
            row=raw.count(b"\n", 0, exc.start) + 1,
            fix="CDNOW files are plain ASCII: export the file again, or pass --encoding.",
        ) from exc
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ImportFormatError(
            "The file has no records.",
            file=path,
            expected="lines of: customer_id date number_of_cds dollar_value",
            fix="Check that this is a CDNOW file and that it is not truncated.",
        )
    first = lines[0][1]
    columns: tuple[str, ...]
    if tuple(f.lower() for f in first) == MASTER_COLUMNS:
        columns, lines = MASTER_COLUMNS, lines[1:]
    elif len(first) == len(SAMPLE_COLUMNS) and all(f.replace(".", "").isdigit() for f in first):
        columns = SAMPLE_COLUMNS
    elif len(first) == len(MASTER_COLUMNS) and all(f.replace(".", "").isdigit() for f in first):
        columns = MASTER_COLUMNS
    else:
        raise ImportFormatError(
            "The first line is neither the CDNOW header nor a CDNOW record.",
            file=path,
            row=1,
            value=" ".join(first),
            expected="'customer_id date number_of_cds dollar_value', or a sample record "
            "'master_id sample_id date number_of_cds dollar_value'",
            fix="Check that this is a CDNOW file; name another layout with --format.",
        )
    return [_record(path, n, fields, columns) for n, fields in lines]


def _record(path: Path, line: int, fields: list[str], columns: tuple[str, ...]) -> _Record:
    if len(fields) != len(columns):
        raise InputError(
            f"This line has {len(fields)} fields; a record has {len(columns)}.",
            file=path,
            row=line,
            value=" ".join(fields),
            expected=" ".join(columns) + ", separated by spaces",
            fix="Complete or remove the line.",
        )
    value = dict(zip(columns, fields, strict=True))

    def bad(column: str, expected: str) -> InputError:
        return InputError(
            f"{column} is not {expected}.",
            file=path,
            row=line,
            column=column,
            value=value[column],
            expected=expected,
            fix=f"Correct {column} on this line, or remove the line.",
        )

    customer = value["customer_id" if "customer_id" in value else "master_id"]
    if not customer.isdigit():
        raise bad(columns[0], "a customer number such as 00042")
    day = value["date"]
    try:
        if not day.isdigit() or len(day) != 8:
            raise ValueError(day)
        datetime.strptime(day, "%Y%m%d")
    except ValueError:
        raise bad("date", "a date written YYYYMMDD, e.g. 19970101") from None
    cds = value["number_of_cds"]
    if not cds.isdigit() or int(cds) < 1:
        raise bad("number_of_cds", "a whole number of CDs, 1 or more")
    amount = value["dollar_value"]
    try:
        if not _AMOUNT_RE.fullmatch(amount):
            raise InvalidOperation(amount)
        dollars = Decimal(amount)
    except InvalidOperation:
        raise bad("dollar_value", "an amount >= 0 with a dot for decimals, e.g. 11.77") from None
    return (line, customer, day, int(cds), dollars)


def _stage(data: CanonicalData, records: list[_Record], currency: str, zone: ZoneInfo) -> None:
    seen: Counter[tuple[str, str]] = Counter()
    order_ids: list[str] = []
    for _, customer, day, _, _ in records:
        seen[(customer, day)] += 1
        order_ids.append(f"{customer}-{day}-{seen[(customer, day)]}")
    days = {day for _, _, day, _, _ in records}
    midnight = {d: _midnight(d, zone) for d in days}
    customers = [r[1] for r in records]
    values = pa.array([r[4] for r in records], MONEY)
    n = len(records)
    zero = pa.array([Decimal(0)] * n, MONEY)
    source = f"{FORMAT}:{Path(data.source).name}"
    orders = {
        "order_id": order_ids,
        "customer_id": customers,
        "ordered_at": pa.array([midnight[r[2]] for r in records], TIMESTAMP),
        "currency": [currency] * n,
        "subtotal": values,
        "discount_total": zero,
        "shipping_total": zero,
        "tax_total": zero,
        "total": values,
        "status": ["paid"] * n,
        "source_name": [source] * n,
    }
    data.append("orders", pa.table(orders))
    lines = {
        "order_id": order_ids,
        "line_no": pa.array([1] * n, pa.int32()),
        "product_id": [PRODUCT_ID] * n,
        "name": ["CDs"] * n,
        "quantity": pa.array([1] * n, pa.int64()),
        "unit_price": values,
        "line_total": values,
    }
    data.append("order_lines", pa.table(lines))
    data.append("customers", pa.table({"customer_id": sorted(set(customers))}))
    product = {
        "product_id": [PRODUCT_ID],
        "name": ["CDs"],
        "currency": [currency],
        "active": [True],
    }
    data.append("products", pa.table(product))
    data.details.update(
        records=n,
        customer_ids=len(set(customers)),
        cds=sum(r[3] for r in records),
        zero_value_records=sum(1 for r in records if r[4] == 0),
        same_day_records=sum(c - 1 for c in seen.values()),
    )


def _midnight(day: str, zone: ZoneInfo) -> datetime:
    d = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    return datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC)
