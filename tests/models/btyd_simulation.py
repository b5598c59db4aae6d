"""Customers drawn from the BTYD models' own generative processes (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Arrays = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _ages(n: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    return rng.integers(60, 731, size=n).astype(float)


def simulate_bgnbd(
    params: dict[str, float], n: int, seed: int, *, modified: bool = False
) -> Arrays:
    """(x, t_x, T): Poisson purchases at rate lambda, dropout p after each purchase.

    ``modified``: MBG/NBD, where the customer may also drop out at time 0.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], size=n)
    p = rng.beta(params["a"], params["b"], size=n)
    T = _ages(n, rng)
    x, t_x = np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    if modified:
        alive &= rng.random(n) >= p
    now = np.zeros(n)
    while alive.any():
        now = now + rng.exponential(1.0, size=n) / np.maximum(lam, 1e-300)
        bought = alive & (now <= T)
        x[bought] += 1
        t_x[bought] = now[bought]
        alive = bought & (rng.random(n) >= p)
    return x, t_x, T


def simulate_paretonbd(params: dict[str, float], n: int, seed: int) -> Arrays:
    """(x, t_x, T): Poisson purchases at rate lambda until an exponential lifetime mu."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], size=n)
    mu = rng.gamma(params["s"], 1 / params["beta"], size=n)
    T = _ages(n, rng)
    death = np.minimum(rng.exponential(1.0, size=n) / mu, T)
    x, t_x = np.zeros(n), np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        now = now + rng.exponential(1.0, size=n) / np.maximum(lam, 1e-300)
        active = active & (now <= death)
        x[active] += 1
        t_x[active] = now[active]
    return x, t_x, T
