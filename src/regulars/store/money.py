"""Money in the operational store: integer minor units of an ISO 4217 currency.

The canonical (analytics) tables hold ``decimal128(18, 4)`` amounts; the store holds
integers in the currency's minor unit (cents for EUR, yen for JPY, fils for KWD).
:func:`to_minor` and :func:`from_minor` convert between the two, exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from regulars.errors import InputError
from regulars.store.types import check_currency

__all__ = ["MINOR_UNIT_DIGITS", "from_minor", "minor_digits", "to_minor"]

MINOR_UNIT_DIGITS: dict[str, int] = {
    **dict.fromkeys(
        (
            *("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"),
            *("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"),
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
"""Currencies whose minor unit is not a hundredth (ISO 4217); every other has 2 digits."""


def minor_digits(currency: str) -> int:
    """Return how many decimal digits the minor unit of ``currency`` has (2 for most)."""
    return MINOR_UNIT_DIGITS.get(check_currency(currency), 2)


def to_minor(amount: Decimal | int | str, currency: str, *, round_half_even: bool = False) -> int:
    """Return ``amount`` (in major units) as an integer number of minor units.

    Parameters
    ----------
    amount
        The amount, e.g. ``Decimal("19.99")``; floats are refused (they are not exact).
    currency
        Its ISO 4217 code.
    round_half_even
        Round a finer amount (``0.001`` EUR) to the minor unit instead of refusing it.

    Raises
    ------
    InputError
        If the amount is not a number, or is finer than the minor unit without rounding.
    """
    if isinstance(amount, float | bool):
        raise InputError("Money must not be a float.", value=amount, expected="a Decimal or text")
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise InputError("Not an amount of money.", value=amount) from None
    if not value.is_finite():
        raise InputError("Not an amount of money.", value=amount)
    scaled = value.scaleb(minor_digits(currency))
    whole = scaled.to_integral_value(rounding=ROUND_HALF_EVEN)
    if whole != scaled and not round_half_even:
        raise InputError(
            f"The amount is finer than the minor unit of {check_currency(currency)}.",
            value=amount,
            fix="Round it first, or pass round_half_even=True.",
        )
    return int(whole)


def from_minor(units: int, currency: str) -> Decimal:
    """Return ``units`` minor units of ``currency`` as a Decimal in major units."""
    return Decimal(units).scaleb(-minor_digits(currency))
