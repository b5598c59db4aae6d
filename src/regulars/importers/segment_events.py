"""Segment e-commerce events (spec v2) as JSON lines (``.jsonl``, ``.ndjson``, ``.json``, ``.gz``).

Each non-blank line is one Segment message: a ``track`` call (``event`` names it) or an
``identify``, ``page``, ``screen``, ``group`` or ``alias`` call. Errors name the line
(``row`` is the line number) and the field.

Rules
-----
- Every message is an event: ``event_id`` = ``messageId``; ``type`` = the track ``event``, or
  the call type (``identify``, ``page``, ...); ``customer_id`` = ``userId``; ``anonymous_id``;
  ``properties`` = the JSON text of ``properties`` (``traits`` for identify and group).
  ``occurred_at`` is ``timestamp``, else ``originalTimestamp``, else ``receivedAt`` (ISO 8601;
  without an offset, local time in ``--timezone``). A line that is not a JSON object, or a
  message without ``messageId``, ``type`` (``event`` for track) or a valid time, stops the import.
- Deduplication by ``messageId``: the first line wins; repeats are counted in
  ``details["duplicate_events"]``. A repeat whose content (type, ids, time, properties) differs
  is also a reject, rule ``conflicting_duplicate_message``. Only kept messages feed the tables.
- ``Order Completed`` -> an order (``order_id`` required; no ``userId``: a guest order) with a
  line per ``products[]`` item: ``product_id`` (else ``id``, else ``sku``), ``sku``, ``name``,
  ``category``, ``price`` (required), ``quantity`` (whole, > 0, default 1). The spec's
  ``subtotal`` is after discounts, so the canonical ``subtotal`` (before discounts) is the sum
  of the lines, else ``revenue``, else ``subtotal + discount``, else ``total - shipping - tax +
  discount``. ``discount``, ``shipping``, ``tax`` give the other totals (0 when absent);
  ``total`` is ``total``, else subtotal - discount + shipping + tax. ``coupon`` (split on
  commas) gives the discount codes, ``affiliation`` the channel, ``currency`` the currency
  (default ``--currency``, else USD). A second Order Completed for an ``order_id`` (another
  messageId) is skipped, rule ``duplicate_order_completed``.
- ``Order Refunded`` -> a refund: ``refund_id`` = ``messageId``; ``amount`` = ``total``, else
  the sum of its ``products[]``, else the order's total; ``refunded_at`` = the event's time;
  ``lines`` from ``products[]``. A refund of an order not in this import is skipped, rule
  ``refund_for_unknown_order``. Refunds reaching the order's total make it ``refunded``,
  else ``partially_refunded``.
- ``identify`` with a ``userId`` -> a customer: ``email`` (lower-cased), ``firstName`` or
  ``first_name`` (else the first word of ``name``), ``birthday``, ``gender``, ``city`` and
  ``country`` (in ``address`` or top level), ``tags``, consent from ``accepts_email_marketing``
  / ``acceptsMarketing`` / ``email_opt_in`` and ``accepts_sms_marketing`` / ``sms_opt_in``;
  the latest non-empty value of each trait wins. ``created_at`` is the ``createdAt`` trait,
  else the first identify or order. Buyers with no identify get a customer row too.
- Products: every product seen (``products[]`` of any event, or the properties of product
  events such as Product Viewed), with its latest sku, name, category, price and currency.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo

import pyarrow as pa

from regulars import schema
from regulars.errors import InputError
from regulars.importers.base import CanonicalData, ImportOptions
from regulars.importers.validate import check_encoding, check_timezone, open_binary

if TYPE_CHECKING:
    from regulars.importers import SourcePeek

FORMAT = "segment"
DESCRIPTION = "Segment e-commerce events (track/identify) as JSON lines"

CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
BATCH_LINES = 20_000
"""Messages parsed per Arrow batch: memory stays flat whatever the file's size."""


def _staging(*fields: pa.Field) -> pa.Schema:
    return pa.schema([pa.field("_line", pa.int64()), *(f.with_nullable(True) for f in fields)])


def _fields(spec: schema.TableSpec, *drop: str) -> list[pa.Field]:
    return [c.arrow_field for c in spec if c.name not in drop]


_SEEN = pa.field("occurred_at", schema.TIMESTAMP)
STAGING: dict[str, pa.Schema] = {
    "_seg_events": _staging(*_fields(schema.EVENTS)),
    "_seg_orders": _staging(*_fields(schema.ORDERS, "status", "source_name")),
    "_seg_lines": _staging(*_fields(schema.ORDER_LINES)),
    "_seg_refunds": _staging(*_fields(schema.REFUNDS)),
    "_seg_customers": _staging(_SEEN, *_fields(schema.CUSTOMERS)),
    "_seg_products": _staging(_SEEN, *_fields(schema.PRODUCTS, "active")),
}
"""Staging tables: every parsed message's rows, tagged with its line, before deduplication."""

_EMAIL_OPT_IN = ("accepts_email_marketing", "acceptsEmailMarketing", "accepts_marketing",
                 "acceptsMarketing", "email_opt_in", "emailOptIn")  # fmt: skip
_SMS_OPT_IN = ("accepts_sms_marketing", "acceptsSmsMarketing", "sms_opt_in", "smsOptIn")
_TRAITS = ("email", "first_name", "birthday", "country", "city", "gender",
           "accepts_email_marketing", "accepts_sms_marketing", "tags")  # fmt: skip
_CENT = Decimal("0.0001")
_MAX_MONEY = Decimal(10) ** 14


def detect(peek: SourcePeek) -> bool:
    """Return True when the first non-blank line is a JSON object shaped like a Segment call."""
    if peek.is_dir:
        return False
    line = next((ln.strip() for ln in peek.lines if ln.strip()), "")
    if not line.startswith("{"):
        return False
    try:
        obj = json.loads(line)
    except ValueError:  # a first line longer than the peek
        return '"messageId"' in line
    return isinstance(obj, dict) and ("messageId" in obj or obj.get("type") in CALL_TYPES)


def read(path: Path, options: ImportOptions) -> CanonicalData:
    """Import Segment events from a JSON-lines file.

    Parameters
    ----------
    path
        ``.jsonl``, ``.ndjson`` or ``.json`` file, optionally gzipped.
    options
        Time zone of times without offset, default currency, encoding.

    Returns
    -------
    CanonicalData
        Events, and the orders, order lines, refunds, customers and products they describe.
    """
    with CanonicalData(path, FORMAT).building() as data:
        parser = _Parser(path, options)
        for name, layout in STAGING.items():
            empty = layout.empty_table()  # noqa: F841 - read by DuckDB
            data.con.execute(f"CREATE TABLE {name} AS SELECT * FROM empty")
        for line_no, text in _lines(path, options.encoding):
            parser.parse(line_no, text)
            data.rows_read += 1
            if data.rows_read % BATCH_LINES == 0:
                _flush(data, parser.new_batch())
        _flush(data, parser.new_batch())
        _build(data)
        data.details["unparsable_birthdays"] = parser.bad_birthdays
        return data


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of the non-blank lines (after checking the encoding)."""
    check_encoding(path, encoding)
    with open_binary(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if text := raw.decode(encoding).lstrip("\ufeff").strip():
                yield number, text


def _flush(data: CanonicalData, batch: dict[str, dict[str, list[Any]]]) -> None:
    for name, columns in batch.items():
        if columns["_line"]:
            rows = pa.Table.from_pydict(columns, schema=STAGING[name])  # noqa: F841
            data.con.execute(f"INSERT INTO {name} SELECT * FROM rows")


_JSONL = "one JSON object per line (a Segment message)"
_PROBLEMS: dict[str, tuple[str, str, str]] = {
    "json": ("The line is not valid JSON: {field}.", _JSONL,
             "Write one complete message per line (JSON lines)."),
    "object": ("The line is not a JSON object.", _JSONL,
               "Write one message object per line; unwrap batches first."),
    "messageId": ("The message has no messageId.", "a unique messageId on every message",
                  "Add the messageId Segment assigned to the message."),
    "type": ("The message has no known type.", " | ".join(CALL_TYPES),
             "Send Segment calls: track, identify, page, screen, group or alias."),
    "event": ("The track call has no event name.", "an event name such as 'Order Completed'",
              "Name the tracked event."),
    "time": ("The message has no time.", "timestamp, originalTimestamp or receivedAt",
             "Add the time the message happened."),
    "iso": ("{field} is not an ISO 8601 time.", "e.g. 2024-03-01T10:15:00.000Z",
            "Send times as ISO 8601 strings."),
    "props": ("{field} is not a JSON object.", "a JSON object", "Send it as an object."),
    "list": ("{field} is not a list.", "a list of product objects",
             "Send products as a JSON array."),
    "number": ("{field} is not a number.", "a number, e.g. 19.99",
               "Send amounts as JSON numbers, without currency signs."),
    "quantity": ("{field} is not a whole number > 0.", "e.g. 2",
                 "Send quantities as positive whole numbers."),
    "currency": ("{field} is not an ISO 4217 code.", "a code such as USD, EUR, GBP",
                 "Send three-letter currency codes."),
    "order_id": ("The {event} event has no order_id.", "the order's id in properties.order_id",
                 "Add properties.order_id to the event."),
    "product": ("{field} has no product_id (or sku) or no price.",
                "product_id and price on every ordered product", "Add them to the product."),
}  # fmt: skip
"""Error code -> (message, expected, fix) for :meth:`_Parser.fail`."""


class _Parser:
    """Turns messages into staging rows; raises :class:`InputError` naming line and field."""

    def __init__(self, path: Path, options: ImportOptions) -> None:
        self.path = path
        self.tz: tzinfo = ZoneInfo(check_timezone(options.timezone_or("UTC")))
        self.currency = options.currency_or("USD")
        self.line = 0
        self.at: datetime | None = None
        self.bad_birthdays = 0
        self.batch: dict[str, dict[str, list[Any]]] = {}
        self.new_batch()

    def new_batch(self) -> dict[str, dict[str, list[Any]]]:
        """Start a new batch of staging rows and return the previous one."""
        batch = self.batch
        self.batch = {name: {f.name: [] for f in layout} for name, layout in STAGING.items()}
        return batch

    def fail(self, code: str, field: str | None = None, value: Any = None, **fmt: str) -> NoReturn:
        message, expected, fix = _PROBLEMS[code]
        message = message.format(field=field, **fmt)
        column = None if code in ("json", "object") else field or code
        raise InputError(
            message, file=self.path, row=self.line, column=column, value=value,
            expected=expected, fix=fix,
        )  # fmt: skip

    def add(self, table: str, *values: Any) -> None:
        for column, value in zip(self.batch[table].values(), (self.line, *values), strict=True):
            column.append(value)

    # -- values ------------------------------------------------------------------------
    def time(self, value: Any, field: str, *, strict: bool = True) -> datetime | None:
        try:
            ts = datetime.fromisoformat(str(value).strip())
        except ValueError:
            if strict:
                self.fail("iso", field, value)
            return None
        return (ts if ts.tzinfo else ts.replace(tzinfo=self.tz)).astimezone(UTC)

    def money(
        self, obj: dict[str, Any], key: str, field: str, strict: bool = True
    ) -> Decimal | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise InvalidOperation
            amount = Decimal(str(value).strip())
            if not amount.is_finite() or abs(amount) >= _MAX_MONEY:
                raise InvalidOperation
        except InvalidOperation:
            if strict:
                self.fail("number", f"{field}.{key}", value)
            return None
        return amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)

    def quantity(self, item: dict[str, Any], field: str) -> int:
        value = item.get("quantity", 1)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not (whole or (isinstance(value, float) and value.is_integer())) or value <= 0:
            self.fail("quantity", f"{field}.quantity", value)
        return int(value)

    @staticmethod
    def text(value: Any) -> str | None:
        if value is None or isinstance(value, dict | list):
            return None
        return str(value).strip() or None

    def currency_of(self, props: dict[str, Any], default: str | None) -> str | None:
        code = self.text(props.get("currency"))
        if code is not None and (len(code) != 3 or not code.isalpha()):
            self.fail("currency", "properties.currency", code)
        return code.upper() if code else default

    # -- messages ----------------------------------------------------------------------
    def parse(self, line: int, text: str) -> None:
        """Parse the message on ``line`` into the current batch."""
        self.line = line
        try:
            msg = json.loads(text)
        except ValueError as exc:
            self.fail("json", str(exc), text[:80])
        if not isinstance(msg, dict):
            self.fail("object", None, text[:80])
        event_id, kind = self.text(msg.get("messageId")), msg.get("type")
        if event_id is None:
            self.fail("messageId")
        if kind not in CALL_TYPES:
            self.fail("type", "type", kind)
        name = self.text(msg.get("event")) if kind == "track" else kind
        if name is None:
            self.fail("event", "event", msg.get("event"))
        stamp = [k for k in ("timestamp", "originalTimestamp", "receivedAt") if msg.get(k)]
        if not stamp:
            self.fail("time", "timestamp")
        self.at = self.time(msg[stamp[0]], stamp[0])
        key = "traits" if kind in ("identify", "group") else "properties"
        props = msg.get(key) or {}
        if not isinstance(props, dict):
            self.fail("props", key, props)
        user = self.text(msg.get("userId"))
        text_props = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self.add("_seg_events", event_id, name, user, self.text(msg.get("anonymousId")), self.at,
                 text_props if props else None)  # fmt: skip
        if name == "Order Completed":
            self.order(props, user)
        elif name == "Order Refunded":
            self.refund(props, event_id)
        elif kind == "identify" and user is not None:
            self.customer(props, user)
        if kind == "track":
            self.products(props)

    def items(self, props: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        products = props.get("products")
        if products is not None and not isinstance(products, list):
            self.fail("list", "properties.products", products)
        return [(f"properties.products[{i}]", p) for i, p in enumerate(products or [])
                if isinstance(p, dict)]  # fmt: skip

    def product_id(self, item: dict[str, Any]) -> str | None:
        return next((v for k in ("product_id", "id", "sku") if (v := self.text(item.get(k)))), None)

    def order_id(self, props: dict[str, Any], event: str) -> str:
        order_id = self.text(props.get("order_id"))
        if order_id is None:
            self.fail("order_id", "properties.order_id", event=event)
        return order_id

    def order(self, props: dict[str, Any], user: str | None) -> None:
        order_id = self.order_id(props, "Order Completed")
        items = self.items(props)
        subtotal = Decimal(0)
        for line_no, (field, item) in enumerate(items, start=1):
            product_id, price = self.product_id(item), self.money(item, "price", field)
            if product_id is None or price is None:
                self.fail("product", field, item)
            qty = self.quantity(item, field)
            subtotal += qty * price
            self.add("_seg_lines", order_id, line_no, product_id, self.text(item.get("sku")),
                     self.text(item.get("name")), self.text(item.get("category")), qty, price,
                     qty * price)  # fmt: skip
        keys = ("total", "subtotal", "revenue", "discount", "shipping", "tax")
        amount = {k: self.money(props, k, "properties") for k in keys}
        zero = Decimal(0)
        discount, shipping, tax = (abs(amount[k] or zero) for k in ("discount", "shipping", "tax"))
        total = amount["total"]
        if not items:
            if amount["revenue"] is not None:
                subtotal = amount["revenue"]
            elif amount["subtotal"] is not None:
                subtotal = amount["subtotal"] + discount
            elif total is not None:
                subtotal = total - shipping - tax + discount
        if total is None:
            total = subtotal - discount + shipping + tax
        codes = [c.strip() for c in str(props.get("coupon") or "").split(",") if c.strip()]
        self.add("_seg_orders", order_id, user, self.at, self.currency_of(props, self.currency),
                 subtotal, discount, shipping, tax, total, codes or None,
                 self.text(props.get("affiliation")))  # fmt: skip

    def refund(self, props: dict[str, Any], event_id: str) -> None:
        order_id = self.order_id(props, "Order Refunded")
        lines = []
        for field, item in self.items(props):
            price, qty = self.money(item, "price", field), self.quantity(item, field)
            amount = None if price is None else qty * price
            lines.append({"product_id": self.product_id(item), "quantity": qty, "amount": amount})
        total = self.money(props, "total", "properties")
        if total is None and lines and all(ln["amount"] is not None for ln in lines):
            total = sum((Decimal(str(ln["amount"])) for ln in lines), Decimal(0))
        self.add("_seg_refunds", event_id, order_id, self.at,
                 None if total is None else abs(total), self.currency_of(props, None),
                 self.text(props.get("reason")), lines or None)  # fmt: skip

    def customer(self, traits: dict[str, Any], user: str) -> None:
        address = traits["address"] if isinstance(traits.get("address"), dict) else {}
        first = self.text(traits.get("firstName") or traits.get("first_name"))
        if first is None and (full := self.text(traits.get("name"))):
            first = full.split()[0]
        email = self.text(traits.get("email"))
        created = traits.get("createdAt") or traits.get("created_at")
        tags = traits.get("tags")
        if isinstance(tags, str):
            tags = tags.split(",")
        tags = [t for t in map(self.text, tags) if t] if isinstance(tags, list) else None
        self.add("_seg_customers", self.at, user, email.lower() if email else None, first,
                 self.time(created, "createdAt", strict=False) if created else None,
                 self.birthday(traits.get("birthday")),
                 self.text(address.get("country") or traits.get("country")),
                 self.text(address.get("city") or traits.get("city")),
                 self.text(traits.get("gender")), self.flag(traits, _EMAIL_OPT_IN),
                 self.flag(traits, _SMS_OPT_IN), tags or None)  # fmt: skip

    def birthday(self, value: Any) -> date | None:
        if value in (None, ""):
            return None
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            self.bad_birthdays += 1
            return None

    @staticmethod
    def flag(traits: dict[str, Any], keys: tuple[str, ...]) -> bool | None:
        for key in keys:
            value = traits.get(key)
            if isinstance(value, str) and value.strip().lower() in ("yes", "true", "no", "false"):
                value = value.strip().lower() in ("yes", "true")
            if isinstance(value, bool):
                return value
        return None

    def products(self, props: dict[str, Any]) -> None:
        seen = [item for _, item in self.items(props)]
        if "product_id" in props or "sku" in props:
            seen.append(props)
        currency = self.text(props.get("currency"))
        for item in seen:
            if (product_id := self.product_id(item)) is not None:
                self.add("_seg_products", self.at, product_id, self.text(item.get("sku")),
                         self.text(item.get("name")), self.text(item.get("category")),
                         self.money(item, "price", "price", strict=False),
                         currency.upper() if currency else None)  # fmt: skip


def _build(data: CanonicalData) -> None:
    """Deduplicate by messageId, then fill the canonical tables from the kept messages."""
    con, kept = data.con, "_line IN (SELECT _line FROM _seg_kept)"
    source = f"{FORMAT}:{Path(data.source).name}"
    con.execute("CREATE TABLE _seg_kept AS SELECT min(_line) AS _line, event_id FROM _seg_events "
                "GROUP BY event_id")  # fmt: skip
    data.details["duplicate_events"] = data.count("_seg_events") - data.count("_seg_kept")
    content = "({0}.type, {0}.customer_id, {0}.anonymous_id, {0}.occurred_at, {0}.properties)"
    data.reject_sql(f"""
        SELECT e._line AS row, 'conflicting_duplicate_message' AS rule, 'messageId ' || e.event_id
               || ' was first seen on line ' || k._line || ' with other content; that one was kept'
               AS detail, to_json(e) AS record
        FROM _seg_events e JOIN _seg_kept k USING (event_id) JOIN _seg_events f ON f._line = k._line
        WHERE e._line <> k._line AND {content.format("e")} IS DISTINCT FROM {content.format("f")}
    """)  # fmt: skip
    con.execute(f"INSERT INTO events SELECT * EXCLUDE (_line) FROM _seg_events WHERE {kept} "
                "ORDER BY _line")  # fmt: skip
    con.execute(f"CREATE TABLE _seg_o AS SELECT * FROM _seg_orders WHERE {kept} "
                "QUALIFY _line = min(_line) OVER (PARTITION BY order_id)")  # fmt: skip
    data.reject_sql(f"""
        SELECT o._line AS row, 'duplicate_order_completed' AS rule, 'order ' || o.order_id
               || ' was completed on line ' || f._line || '; that one was kept' AS detail,
               to_json(o) AS record
        FROM _seg_orders o JOIN _seg_o f USING (order_id) WHERE o.{kept} AND o._line <> f._line
    """)  # fmt: skip
    con.execute("INSERT INTO orders SELECT * EXCLUDE (_line, discount_codes, channel), 'paid', "
                "discount_codes, channel, ? FROM _seg_o ORDER BY _line", [source])  # fmt: skip
    con.execute("INSERT INTO order_lines SELECT * EXCLUDE (_line) FROM _seg_lines "
                "WHERE _line IN (SELECT _line FROM _seg_o) ORDER BY _line, line_no")  # fmt: skip
    data.reject_sql(f"""
        SELECT _line AS row, 'refund_for_unknown_order' AS rule, 'order ' || order_id
               || ' is not among the imported orders' AS detail, to_json(r) AS record
        FROM _seg_refunds r WHERE {kept} AND order_id NOT IN (SELECT order_id FROM orders)
    """)  # fmt: skip
    con.execute(f"""
        INSERT INTO refunds
        SELECT r.refund_id, r.order_id, r.refunded_at, coalesce(r.amount, o.total),
               coalesce(r.currency, o.currency), r.reason, r.lines
        FROM _seg_refunds r JOIN orders o USING (order_id) WHERE r.{kept} ORDER BY r._line
    """)  # fmt: skip
    con.execute("""
        UPDATE orders SET status = CASE WHEN r.amount >= orders.total THEN 'refunded'
                                        ELSE 'partially_refunded' END
        FROM (SELECT order_id, sum(amount) AS amount FROM refunds GROUP BY order_id) r
        WHERE orders.order_id = r.order_id
    """)  # fmt: skip
    latest = "arg_max({0}, (occurred_at, _line)) FILTER (WHERE {0} IS NOT NULL)".format
    con.execute(f"""
        INSERT INTO customers
        WITH t AS (SELECT customer_id, min(created_at) AS trait_created, min(occurred_at) AS seen,
                          {", ".join(f"{latest(c)} AS {c}" for c in _TRAITS)}
                   FROM _seg_customers WHERE {kept} GROUP BY customer_id),
             b AS (SELECT customer_id, min(ordered_at) AS first_order FROM orders
                   WHERE customer_id IS NOT NULL GROUP BY customer_id)
        SELECT customer_id, email, first_name, coalesce(trait_created, least(seen, first_order)),
               birthday, country, city, gender, accepts_email_marketing, accepts_sms_marketing, tags
        FROM t FULL OUTER JOIN b USING (customer_id)
    """)  # fmt: skip
    con.execute(f"""
        INSERT INTO products SELECT product_id,
            {", ".join(latest(c) for c in ("sku", "name", "category", "price", "currency"))}, true
        FROM _seg_products WHERE {kept} GROUP BY product_id
    """)  # fmt: skip
    data.details["identifies"] = data.con.execute(
        f"SELECT count(*) FROM _seg_events WHERE type = 'identify' AND {kept}"
    ).fetchall()[0][0]
    for name in (*STAGING, "_seg_kept", "_seg_o"):
        con.execute(f"DROP TABLE {name}")
