"""Population parameters of the simulated store and the simulated period.

The purchase process follows the BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way", Marketing Science 24(2)): while active, a customer buys at a rate
``lambda ~ Gamma(r, alpha)`` per day; after each repeat purchase they drop out for good with
probability ``p ~ Beta(a, b)``. With ``dropout_at_first_purchase=True`` a customer may also drop
out right after the first purchase (the MBG/NBD variant of Batislam, Denizel & Filiztekin 2007).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from regulars.errors import ConfigError

__all__ = ["MAX_CUSTOMERS", "Period", "StoreParameters"]

MAX_CUSTOMERS = 10_000_000
"""The largest store the simulator builds."""

_SHARES = (
    "cancel_rate",
    "refund_rate",
    "partial_refund_share",
    "welcome_code_share",
    "other_code_share",
    "seasonality",
)
_NON_NEGATIVE = (
    "guest_orders_per_customer",
    "browse_sessions_per_purchase",
    "visitors_per_customer",
)


@dataclass(frozen=True)
class StoreParameters:
    """Population parameters of the simulated store (rates are per day).

    Parameters
    ----------
    r, alpha
        Shape and rate of the Gamma distribution of purchase rates: the mean rate is
        ``r / alpha`` purchases per day. ``alpha`` is in days.
    a, b
        Parameters of the Beta distribution of the dropout probability ``p``: mean ``a / (a + b)``.
    dropout_at_first_purchase
        False (BG/NBD): dropout happens only after repeat purchases. True (MBG/NBD): also after
        the first purchase.
    acquisition_growth
        Yearly growth rate of new-customer arrivals (0.3: arrivals grow by ``e**0.3`` a year).
    seasonality
        Strength of the weekly, daily, yearly and November (Black Friday) patterns, from 0
        (a homogeneous Poisson process) to 1. Patterns are scaled to mean 1, so the mean rate
        stays ``lambda``.
    guest_orders_per_customer
        Guest checkouts (orders without a customer) per simulated customer.
    cancel_rate
        Share of purchases followed by an extra order the customer cancels.
    refund_rate
        Share of purchases refunded (fully or partially) within 30 days.
    partial_refund_share
        Share of refunds that are partial.
    welcome_code_share
        Share of first orders that use the welcome code ``WELCOME10`` (10% off).
    other_code_share
        Share of other orders that use another code (more during Black Friday week).
    browse_sessions_per_purchase
        Storefront sessions ending without an order, per expected purchase while active.
    visitors_per_customer
        Sessions of anonymous visitors who never buy, per simulated customer.
    currency
        The store's ISO 4217 currency code.
    """

    r: float = 0.3
    alpha: float = 20.0
    a: float = 0.8
    b: float = 2.5
    dropout_at_first_purchase: bool = False
    acquisition_growth: float = 0.3
    seasonality: float = 1.0
    guest_orders_per_customer: float = 0.25
    cancel_rate: float = 0.02
    refund_rate: float = 0.04
    partial_refund_share: float = 0.6
    welcome_code_share: float = 0.35
    other_code_share: float = 0.06
    browse_sessions_per_purchase: float = 1.5
    visitors_per_customer: float = 0.5
    currency: str = "USD"

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(
                    f"Population parameter {name} must be a positive number, got {value!r}.",
                    fix=f"Pass StoreParameters({name}=...) with a value above 0.",
                )
        for name in _SHARES:
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ConfigError(
                    f"Store parameter {name} must be a share between 0 and 1, got {value!r}.",
                    fix=f"Pass StoreParameters({name}=...) with a value in [0, 1].",
                )
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 100):
                raise ConfigError(
                    f"Store parameter {name} must be a number from 0 to 100, got {value!r}.",
                    fix=f"Pass StoreParameters({name}=...) with a value in [0, 100].",
                )
        if not (math.isfinite(self.acquisition_growth) and abs(self.acquisition_growth) <= 5):
            raise ConfigError(
                "acquisition_growth must be a yearly rate between -5 and 5, "
                f"got {self.acquisition_growth!r}.",
                fix="Pass StoreParameters(acquisition_growth=0.3) or another modest rate.",
            )
        if not (len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper()):
            raise ConfigError(
                f"currency must be an ISO 4217 code such as 'USD', got {self.currency!r}.",
                fix="Pass StoreParameters(currency='USD') or another three-letter code.",
            )

    @property
    def mean_purchase_rate(self) -> float:
        """Mean purchase rate of the population, per day (``r / alpha``)."""
        return self.r / self.alpha

    @property
    def mean_dropout_probability(self) -> float:
        """Mean dropout probability of the population (``a / (a + b)``)."""
        return self.a / (self.a + self.b)

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a plain dictionary (for the ground-truth JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class Period:
    """The simulated time line: observation period and prediction horizon.

    Times inside the simulator are float days since ``start`` at 00:00 UTC. The observation
    period is ``[0, observed_days)``: the end date is included, up to 23:59:59 UTC. The
    horizon ``[observed_days, observed_days + horizon_days)`` is simulated but not written.

    Parameters
    ----------
    start
        First day of the observation period.
    end
        Last day of the observation period (included).
    horizon_days
        Length of the horizon after ``end`` over which future purchases are counted.
    """

    start: date
    end: date
    horizon_days: int

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, date) or isinstance(value, datetime):
                raise ConfigError(
                    f"{name} must be a datetime.date, got {value!r}.",
                    fix=f"Pass {name}=date(2024, 1, 1) (a date, not a datetime or a string).",
                )
        if self.end <= self.start:
            raise ConfigError(
                f"The end date {self.end} is not after the start date {self.start}.",
                fix="Pass an end date later than the start date.",
            )
        if isinstance(self.horizon_days, bool) or not isinstance(self.horizon_days, int):
            raise ConfigError(
                f"horizon_days must be an integer number of days, got {self.horizon_days!r}.",
                fix="Pass horizon_days=365 or another whole number of days.",
            )
        if not 0 <= self.horizon_days <= 3650:
            raise ConfigError(
                f"horizon_days must be between 0 and 3650, got {self.horizon_days}.",
                fix="Pass horizon_days=365 (one year) or another value in that range.",
            )

    @property
    def observed_days(self) -> int:
        """Length of the observation period in days (the end date included)."""
        return (self.end - self.start).days + 1

    @property
    def total_days(self) -> int:
        """Observation period plus horizon, in days."""
        return self.observed_days + self.horizon_days

    @property
    def start_datetime(self) -> datetime:
        """The start of the period, 00:00 UTC of the start date."""
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def observation_end(self) -> datetime:
        """The end of the observation period (exclusive): 00:00 UTC the day after ``end``."""
        return self.start_datetime + timedelta(days=self.observed_days)

    @property
    def start_epoch_seconds(self) -> int:
        """The start as seconds since the Unix epoch."""
        return int(self.start_datetime.timestamp())
