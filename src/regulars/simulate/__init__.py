"""A synthetic online store, for the demo, the tests and the benchmarks.

:func:`simulate_store` writes a directory of canonical tables (``orders``, ``order_lines``,
``customers``, ``products``, ``refunds``, ``events``) that is itself a valid import source,
together with the ground truth of every customer in ``truth/``: ``customers.parquet`` (latent
purchase rate, dropout probability, alive or not, future purchases, staple product and its
repurchase cycle), ``category_affinity.parquet`` (the true category affinity, one row per
customer and category) and ``params.json`` (the population parameters).

Examples
--------
>>> from regulars.simulate import simulate_store
>>> summary = simulate_store("demo-store/data", customers=2000, seed=7)  # doctest: +SKIP
"""

from regulars.simulate.parameters import Period, StoreParameters
from regulars.simulate.run import SimulationSummary, simulate_store

__all__ = ["Period", "SimulationSummary", "StoreParameters", "simulate_store"]
