"""Purchase times of each customer under the BG/NBD process, with seasonality.

A customer makes a first purchase at arrival (time 0 of the BG/NBD model). Then, while
active, repeat purchases follow a Poisson process of rate ``lambda`` in operational time
(see :mod:`regulars.simulate.seasonality`). After each repeat purchase the customer drops
out with probability ``p``, so the index of the last repeat purchase is ``K ~ Geometric(p)``
(``K - 1`` under MBG/NBD, where the first purchase may also be the last).

The process runs past the end of the observation period, to the end of the horizon, so that
the ground truth can count future purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from regulars.simulate.seasonality import Seasonality

__all__ = ["Purchases", "simulate_purchases"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Purchases:
    """Repeat purchases of a chunk of customers, up to the end of the horizon.

    Parameters
    ----------
    customer
        Chunk-local customer index of each repeat purchase (grouped by customer, in time
        order within a customer).
    time
        Time of each repeat purchase, days since the start.
    observed_repeats
        Per customer: repeat purchases in the observation period (the BG/NBD frequency).
    future_repeats
        Per customer: purchases in the horizon after the observation period.
    alive
        Per customer: whether the customer has not dropped out by the end of the observation
        period.
    dropout_time
        Per customer: time of the purchase after which the customer dropped out, or NaN if
        still active at the end of the horizon.
    """

    customer: IntArray
    time: FloatArray
    observed_repeats: IntArray
    future_repeats: IntArray
    alive: BoolArray
    dropout_time: FloatArray


def simulate_purchases(
    rng: np.random.Generator,
    *,
    first_time: FloatArray,
    rate: FloatArray,
    dropout: FloatArray,
    season: Seasonality,
    observed_days: float,
    total_days: float,
    dropout_at_first_purchase: bool,
) -> Purchases:
    """Simulate the repeat purchases of a chunk of customers.

    Only the purchases made before dropout are drawn: given ``N`` Poisson events on the
    customer's operational window and ``m = min(K, N)`` purchases made, the first ``m`` order
    statistics of ``N`` uniforms are ``S_i / (S_m + G)`` with ``S_i`` sums of ``i`` unit
    exponentials and ``G ~ Gamma(N - m + 1)``.

    Parameters
    ----------
    rng
        Random generator of the chunk's purchases.
    first_time
        Time of each customer's first purchase, days.
    rate
        Purchase rate of each customer, per day.
    dropout
        Dropout probability of each customer.
    season
        The store's seasonality.
    observed_days
        End of the observation period, days.
    total_days
        End of the horizon, days.
    dropout_at_first_purchase
        Whether a customer may drop out right after the first purchase (MBG/NBD).

    Returns
    -------
    Purchases
        The repeat purchases and the per-customer ground truth.
    """
    n = first_time.size
    last_allowed = rng.geometric(np.clip(dropout, 1e-12, 1.0)).astype(np.int64)
    if dropout_at_first_purchase:
        last_allowed -= 1
    start = season.operational_time(first_time)
    span = season.operational_time(total_days) - start
    possible = rng.poisson(rate * span).astype(np.int64)
    made = np.minimum(last_allowed, possible)

    customer = np.repeat(np.arange(n, dtype=np.int64), made)
    ends = np.cumsum(made)
    sums = np.cumsum(rng.exponential(size=int(ends[-1]) if n else 0))
    base = np.concatenate(([0.0], sums))[ends - made]
    partial = sums - base[customer]
    last = np.where(made > 0, np.concatenate(([0.0], sums))[ends] - base, 0.0)
    scale = last + rng.gamma((possible - made + 1).astype(np.float64))
    quantile = partial / scale[customer]
    time = season.calendar_time(start[customer] + quantile * span[customer])

    dropped = last_allowed <= possible
    last_time = np.where(made > 0, np.concatenate(([0.0], time))[ends], first_time)
    dropout_time = np.where(dropped, last_time, np.nan)
    observed = np.bincount(customer[time < observed_days], minlength=n).astype(np.int64)
    alive = ~(dropped & (last_time < observed_days))
    return Purchases(
        customer=customer,
        time=time,
        observed_repeats=observed,
        future_repeats=made - observed,
        alive=alive,
        dropout_time=dropout_time,
    )
