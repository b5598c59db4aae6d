"""Seasonality of the store: when in the day, week and year customers buy and arrive.

The purchase intensity of a customer with rate ``lambda`` is ``lambda * m(t)``, where ``m`` is
a product of an hour-of-day, a day-of-week and a day-of-year profile (with a Black Friday to
Cyber Monday peak in November). Each profile has mean 1 (the yearly one over every calendar
year), so over a year a customer still buys ``lambda`` times a day on average and the model
parameters stay recoverable.

The nonhomogeneous Poisson process is simulated by a change of time (equivalent to thinning,
and cheaper): with the operational time ``U(t) = integral of m from 0 to t``, purchases are a
homogeneous Poisson process of rate ``lambda`` in ``U``, mapped back with ``U``'s inverse.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

__all__ = ["Seasonality", "black_friday"]

FloatArray = npt.NDArray[np.float64]

# Hour of day (UTC): quiet nights, a lunch bump and an evening peak.
_HOURLY = np.array(
    [
        *(0.35, 0.25, 0.2, 0.2, 0.25, 0.35, 0.55, 0.8, 1.0, 1.1, 1.15, 1.2),
        *(1.25, 1.2, 1.15, 1.15, 1.2, 1.35, 1.55, 1.75, 1.8, 1.6, 1.2, 0.75),
    ]
)
# Day of week, Monday first: busier Sunday evening and Monday, quieter Friday and Saturday.
_WEEKLY = np.array([1.1, 1.02, 1.0, 0.98, 0.92, 0.86, 1.12])


def black_friday(year: int) -> date:
    """Return Black Friday of ``year``: the day after the fourth Thursday of November.

    Parameters
    ----------
    year
        The calendar year.

    Returns
    -------
    datetime.date
        The date of Black Friday.
    """
    november_first = date(year, 11, 1)
    first_thursday = november_first + timedelta(days=(3 - november_first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def _yearly_profile(year: int) -> FloatArray:
    """Day-of-year multipliers of ``year``, with mean exactly 1 over the year."""
    first = date(year, 1, 1)
    n_days = (date(year + 1, 1, 1) - first).days
    day = np.arange(n_days, dtype=np.float64)
    bf = float((black_friday(year) - first).days)
    christmas = float((date(year, 12, 25) - first).days)
    profile = 1.0 + 0.12 * np.cos(2 * np.pi * (day - 15.0) / n_days)  # more coffee in winter
    profile += 0.25 * ((day >= bf - 24) & (day < christmas - 3))  # gift season
    profile += 1.6 * np.exp(-0.5 * ((day - bf - 1.5) / 1.8) ** 2)  # Black Friday - Cyber Monday
    profile -= 0.35 * ((day >= christmas - 2) & (day <= christmas + 1))  # Christmas lull
    normalized: FloatArray = profile / profile.mean()
    return normalized


class Seasonality:
    """Hourly intensity multipliers over the simulated days, and the change of time.

    Parameters
    ----------
    start
        The first simulated day (time 0 is its midnight UTC).
    days
        Number of days covered (observation period plus horizon).
    strength
        0 for no seasonality (a flat profile), 1 for the full profile; in between the
        profiles are blended with the flat one.
    """

    def __init__(self, start: date, days: int, strength: float) -> None:
        self.start = start
        self.days = days
        day_numbers = np.arange(days, dtype=np.int64) + start.toordinal()
        weekday = (day_numbers - 1) % 7  # date.fromordinal(1) is a Monday
        yearly = np.empty(days)
        gift_season = np.zeros(days, dtype=np.bool_)
        cyber_weekend = np.zeros(days, dtype=np.bool_)
        for year in range(start.year, (start + timedelta(days=days)).year + 1):
            first = date(year, 1, 1).toordinal()
            profile = _yearly_profile(year)
            inside = (day_numbers >= first) & (day_numbers < first + profile.size)
            yearly[inside] = profile[day_numbers[inside] - first]
            season_start = black_friday(year).toordinal() - 24
            gift_season |= (day_numbers >= season_start) & (day_numbers < first + 356)
            friday = black_friday(year).toordinal()
            cyber_weekend |= (day_numbers >= friday) & (day_numbers <= friday + 3)
        self.gift_season: npt.NDArray[np.bool_] = gift_season
        """Per day: whether it falls in the gift season (early November to December 22)."""
        self.cyber_weekend: npt.NDArray[np.bool_] = cyber_weekend
        """Per day: whether it is Black Friday to Cyber Monday."""
        hourly = _HOURLY / _HOURLY.mean()
        weekly = _WEEKLY / _WEEKLY.mean()

        def blend(profile: FloatArray) -> FloatArray:
            return 1.0 + strength * (profile - 1.0)

        by_day = blend(weekly)[weekday] * blend(yearly)
        self.hourly_rate: FloatArray = (by_day[:, None] * blend(hourly)[None, :]).reshape(-1)
        self.cumulative: FloatArray = np.concatenate(([0.0], np.cumsum(self.hourly_rate) / 24))
        self._hours: FloatArray = np.arange(self.cumulative.size, dtype=np.float64)

    def operational_time(self, t: FloatArray | float) -> FloatArray:
        """Return the operational time ``U(t)``: the integral of the multiplier up to ``t``.

        Parameters
        ----------
        t
            Days since the start (0 to ``days``).

        Returns
        -------
        numpy.ndarray
            Operational days: a customer with rate ``lambda`` expects ``lambda * U(t)``
            purchases by ``t``.
        """
        return np.interp(np.asarray(t, dtype=np.float64) * 24.0, self._hours, self.cumulative)

    def calendar_time(self, u: FloatArray) -> FloatArray:
        """Return the calendar time ``t`` (days) of operational time ``u``: inverse of ``U``.

        Parameters
        ----------
        u
            Operational days.

        Returns
        -------
        numpy.ndarray
            Days since the start.
        """
        return np.interp(u, self.cumulative, self._hours) / 24.0

    def arrival_times(self, uniforms: FloatArray, until: float, growth: float) -> FloatArray:
        """Map uniforms in [0, 1) to arrival times on ``[0, until)``.

        The arrival density is proportional to ``m(t) * exp(growth * t / 365.25)``: the
        seasonal pattern on top of exponential growth of the customer base.

        Parameters
        ----------
        uniforms
            Uniform numbers (sorted uniforms give sorted times).
        until
            End of the arrival window, in days (at most ``days``).
        growth
            Yearly growth rate of arrivals.

        Returns
        -------
        numpy.ndarray
            Arrival times in days since the start.
        """
        n_hours = round(until * 24)
        hours = self._hours[: n_hours + 1]
        density = self.hourly_rate[:n_hours] * np.exp(growth * (hours[:-1] + 0.5) / (24 * 365.25))
        cdf = np.concatenate(([0.0], np.cumsum(density)))
        cdf /= cdf[-1]
        times = np.interp(uniforms, cdf, hours) / 24.0
        return np.minimum(times, np.nextafter(until, 0.0))
