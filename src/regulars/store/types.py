"""Column types and small value checks shared by the tables and the repositories.

- :class:`UtcDateTime` stores timezone-aware UTC datetimes on every backend (SQLite keeps
  no zone, so values are normalized to UTC on the way in and marked UTC on the way out).
- :func:`new_id` makes the opaque ids of customers (``cus_...``) and pseudonyms
  (``anon_...``): random, so an id says nothing about the person.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from regulars.errors import InputError

__all__ = [
    "BigId",
    "UtcDateTime",
    "check_currency",
    "check_text",
    "new_id",
    "optional_text",
    "utc",
]

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A 64-bit surrogate key (SQLite autoincrements only ``INTEGER PRIMARY KEY``)."""

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    Naive datetimes are refused: the store never guesses a time zone.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert ``value`` to UTC (and drop the zone on SQLite, which keeps none)."""
        if value is None:
            return None
        value = utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc(value: datetime, *, field: str = "timestamp") -> datetime:
    """Return ``value`` in UTC; refuse a naive datetime.

    Raises
    ------
    InputError
        If ``value`` is not a timezone-aware datetime.
    """
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            "A point in time has no time zone.",
            column=field,
            value=value,
            expected="a timezone-aware datetime (e.g. datetime(2024, 1, 2, tzinfo=UTC))",
        )
    return value.astimezone(UTC)


def new_id(prefix: str) -> str:
    """Return a new random id such as ``cus_3f9a0c...`` (96 random bits)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def check_currency(value: Any, *, field: str = "currency") -> str:
    """Return ``value`` as an ISO 4217 code (three capital letters).

    Raises
    ------
    InputError
        If it is not three letters.
    """
    code = str(value).strip().upper() if isinstance(value, str) else ""
    if not _CURRENCY.match(code):
        raise InputError(
            "Not a currency code.",
            column=field,
            value=value,
            expected="an ISO 4217 code of three letters, e.g. 'EUR'",
        )
    return code


def check_text(value: Any, *, field: str, max_length: int) -> str:
    """Return ``value`` stripped; refuse an empty or too long text, or one with a NUL.

    Raises
    ------
    InputError
        If the value is not a non-empty string of at most ``max_length`` characters.
    """
    text = value.strip() if isinstance(value, str) else None
    if not text or len(text) > max_length:
        raise InputError(
            f"Not a valid {field}.",
            column=field,
            value=value,
            expected=f"a non-empty text of at most {max_length} characters",
        )
    if "\x00" in text:  # PostgreSQL cannot store it; no real id or name holds one
        raise InputError(
            f"The {field} holds a NUL character (\\u0000).",
            column=field,
            value=value,
            fix="Remove the NUL character; it is never part of a valid text.",
        )
    return text


def optional_text(value: Any, *, field: str, max_length: int) -> str | None:
    """Return ``value`` as :func:`check_text` does, or ``None`` for ``None`` or blank text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return check_text(value, field=field, max_length=max_length)
