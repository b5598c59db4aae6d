"""Time units of the models: horizons written ``90d``, ``13w``, ``12m``, ``1y``; all in days.

Every model API takes time in days (``as_of`` minus the first purchase day, and so on);
a horizon is parsed once, here, so that no part of regulars guesses what "12" means.

- ``d``: days; ``w``: weeks of 7 days;
- ``m``: months of 365.25 / 12 = 30.4375 days; ``y``: years of 365.25 days.

A bare number is refused: the unit is what users of other libraries get wrong most.
"""

from __future__ import annotations

import re

from regulars.errors import ConfigError

__all__ = ["DAYS_PER_MONTH", "DAYS_PER_YEAR", "horizon_label", "parse_horizon"]

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
_UNITS = {"d": 1.0, "w": 7.0, "m": DAYS_PER_MONTH, "y": DAYS_PER_YEAR}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*$", re.IGNORECASE)


def parse_horizon(text: str | float | int, *, option: str = "--horizon") -> float:
    """Return a horizon in days from text such as ``90d``, ``13w``, ``12m`` or ``1y``.

    Parameters
    ----------
    text
        The horizon with its unit; a number is taken as days only when it is not a string.
    option
        The option's name, for the error message.

    Returns
    -------
    float
        The horizon in days (a month is 30.4375 days).

    Raises
    ------
    ConfigError
        When the text has no unit, an unknown unit, or is not positive.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        days = float(text)
    else:
        match = _PATTERN.match(str(text))
        if match is None:
            raise ConfigError(
                f"{option} {text!r} is not a horizon with a unit.",
                fix=f"Write {option} as a number and a unit: 90d (days), 13w (weeks), "
                "12m (months of 30.4 days) or 1y.",
            )
        days = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if not days > 0:
        raise ConfigError(
            f"{option} {text!r} is not positive.", fix=f"Give {option} a horizon above zero."
        )
    return days


def horizon_label(days: float) -> str:
    """Return a short label for a horizon in days: ``90 days``, ``13 weeks``, ``12 months``."""
    for unit, size in (("years", DAYS_PER_YEAR), ("months", DAYS_PER_MONTH), ("weeks", 7.0)):
        count = days / size
        if count >= 1 and abs(count - round(count)) < 1e-9:
            n = round(count)
            return f"{n} {unit[:-1] if n == 1 else unit}"
    return f"{days:g} days" if days != 1 else "1 day"
