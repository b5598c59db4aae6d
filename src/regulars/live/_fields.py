"""Reading the fields of a Segment message; every error names the field by its dotted path.

The service turns an :class:`~regulars.errors.InputError` into a 422 whose location is the
error's ``column``: a dotted path into the message such as ``traits.email`` or
``properties.products[2].price`` (``batch[3].properties.total`` inside a batch).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from regulars.errors import InputError
from regulars.store import to_minor

__all__ = [
    "amount",
    "at",
    "json_problem",
    "mapping",
    "minor",
    "quantity",
    "relocated",
    "text",
]

MAX_AMOUNT = Decimal(10) ** 14
"""Amounts are refused from here on (in major units): they would overflow the store."""


def relocated(err: InputError, column: str | None) -> InputError:
    """Return a copy of ``err`` whose ``column`` is ``column``."""
    return InputError(
        err.message, column=column, value=err.value, expected=err.expected, fix=err.fix
    )


@contextmanager
def at(path: str) -> Iterator[None]:
    """Re-raise an :class:`InputError` raised in the block as one about the field ``path``."""
    try:
        yield
    except InputError as err:
        raise relocated(err, path) from None


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    """Return ``value`` as a JSON object (``None`` reads as an empty one).

    Raises
    ------
    InputError
        If the value is not an object.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(
            f"{path} is not a JSON object.", column=path, value=value, expected="a JSON object"
        )
    return value


def text(value: Any, path: str, *, max_length: int = 255) -> str | None:
    """Return a text field stripped, or ``None`` when absent or blank (whole numbers as text).

    Raises
    ------
    InputError
        If the value is not a text (or a whole number), or is longer than ``max_length``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value.strip()) > max_length:
        raise InputError(
            f"{path} is not a valid text.",
            column=path,
            value=value,
            expected=f"a text of at most {max_length} characters",
        )
    return value.strip()


def amount(value: Any, path: str, *, signed: bool = False) -> Decimal | None:
    """Return an amount of money in major units (``19.99``), or ``None`` when absent.

    JSON numbers and numeric texts (``"19.99"``) are accepted; ``true`` is not a number.

    Raises
    ------
    InputError
        If the value is not a finite number, is negative (unless ``signed``) or is too large.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: Decimal | None = None
    if not isinstance(value, bool) and isinstance(value, int | float | str | Decimal):
        try:
            number = Decimal(str(value).strip())  # str(): 19.99 stays 19.99, not its binary
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite() or abs(number) >= MAX_AMOUNT:
        raise InputError(
            f"{path} is not an amount of money.",
            column=path,
            value=value,
            expected="a number such as 19.99 (a JSON number or a numeric text, no currency sign)",
        )
    if number < 0 and not signed:
        raise InputError(
            f"{path} is negative.", column=path, value=value, expected="an amount of 0 or more"
        )
    return number


def quantity(value: Any, path: str) -> int:
    """Return a product quantity: a whole number of at least 1 (default 1 when absent).

    Raises
    ------
    InputError
        If the value is not a whole number, or is less than 1.
    """
    if value is None:
        return 1
    whole: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        whole = value
    elif isinstance(value, float) and value.is_integer():
        whole = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        whole = int(value.strip())
    if whole is None or whole < 1:
        raise InputError(
            f"{path} is not a quantity.",
            column=path,
            value=value,
            expected="a whole number of at least 1",
        )
    return whole


def minor(value: Decimal, currency: str, path: str) -> int:
    """Return an amount in minor units of ``currency``, rounded half-even to the minor unit."""
    with at(path):
        return to_minor(value, currency, round_half_even=True)


def json_problem(value: Any, path: str = "") -> str | None:
    """Return the path of the first value that JSON cannot hold (NaN, a date...), or ``None``."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                return where
            if (found := json_problem(item, where)) is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (found := json_problem(item, f"{path}[{index}]")) is not None:
                return found
        return None
    return path or "message"
