"""Simulate a whole store, chunk by chunk, in bounded memory.

Each chunk of customers has its own random streams (derived from the seed and the chunk
number), so a run is reproducible: the same arguments give byte-identical files. The flags
``events`` and ``lines_csv`` only add files; they do not change the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from regulars.errors import ConfigError
from regulars.schema import TIMESTAMP
from regulars.simulate.catalogue import CATEGORIES, Catalogue, build_catalogue
from regulars.simulate.columns import timestamps
from regulars.simulate.customers import CustomerBatch, arrival_quantiles, draw_customers
from regulars.simulate.events import plan_sessions
from regulars.simulate.orders import build_orders
from regulars.simulate.parameters import MAX_CUSTOMERS, Period, StoreParameters
from regulars.simulate.purchases import Purchases, simulate_purchases
from regulars.simulate.seasonality import Seasonality
from regulars.simulate.segment import OrderTexts, ProductTexts, identify_events, session_events
from regulars.simulate.writer import StoreWriter

__all__ = ["SimulationSummary", "simulate_store"]

_SESSIONS_PER_SLICE = 10_000
_MAX_CHUNK = 1_000_000
_CATALOGUE_STREAM, _CHUNK_STREAM = 0, 1


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote.

    Parameters
    ----------
    out
        The output directory.
    customers, orders, order_lines, refunds, events
        Rows written to each table.
    seed
        The seed used.
    """

    out: Path
    customers: int
    orders: int
    order_lines: int
    refunds: int
    events: int
    seed: int


def _check_int(name: str, value: object, low: int, high: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(
            f"{name} must be an integer, got {value!r}.", fix=f"Pass {name}={example}."
        )
    if not low <= int(value) <= high:
        raise ConfigError(
            f"{name} must be between {low:,} and {high:,}, got {int(value):,}.",
            fix=f"Pass {name}={example} or another value in that range.",
        )
    return int(value)


def _truth_table(
    customers: CustomerBatch, purchases: Purchases, period: Period, catalogue: Catalogue
) -> pa.Table:
    dropped = ~np.isnan(purchases.dropout_time)
    dropped_seconds = np.floor(np.where(dropped, purchases.dropout_time, 0) * 86400)
    return pa.table(
        {
            "customer_id": customers.customer_id,
            "first_purchase_at": timestamps(
                np.floor(customers.first_time * 86400).astype(np.int64), period.start_epoch_seconds
            ),
            "purchase_rate": pa.array(customers.rate),
            "dropout_probability": pa.array(customers.dropout),
            "alive": pa.array(purchases.alive),
            "dropped_out_at": pa.array(
                (dropped_seconds.astype(np.int64) + period.start_epoch_seconds) * 1_000_000,
                type=TIMESTAMP,
                mask=~dropped,
            ),
            "repeat_purchases": pa.array(purchases.observed_repeats),
            "future_purchases": pa.array(purchases.future_repeats),
            "staple_product_id": pa.array(catalogue.product_id).take(pa.array(customers.staple)),
            "staple_cycle_days": pa.array(catalogue.cycle_days[customers.staple]),
        }
    )


def _affinity_table(customers: CustomerBatch) -> pa.Table:
    """Long format of the customers' category affinities: one row per positive affinity."""
    who, category = np.nonzero(customers.affinity > 0)  # by customer, then category
    return pa.table(
        {
            "customer_id": customers.customer_id.take(pa.array(who)),
            "category": pa.array([c.name for c in CATEGORIES]).take(pa.array(category)),
            "affinity": pa.array(customers.affinity[who, category]),
        }
    )


def simulate_store(
    out: str | Path,
    *,
    customers: int = 2000,
    seed: int = 0,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
    horizon_days: int = 365,
    lines_csv: bool = False,
    events: bool = True,
    chunk_customers: int = 50_000,
    progress: Callable[[int], None] | None = None,
    params: StoreParameters | None = None,
) -> SimulationSummary:
    """Simulate an online store and write it as canonical tables, with the ground truth.

    Parameters
    ----------
    out
        Output directory: missing, empty, or a previous simulator output (replaced).
    customers
        Number of customers, 1 to 10,000,000.
    seed
        Seed of every random draw (a non-negative integer).
    start, end
        The observation period, both days included.
    horizon_days
        Days after ``end`` over which the ground truth counts future purchases.
    lines_csv
        Also write ``order_lines.csv`` in the generic order lines layout.
    events
        Write storefront events (``events.parquet`` is empty otherwise).
    chunk_customers
        Customers generated and written at a time (memory grows with it). Part of the
        arguments that make a run reproducible.
    progress
        Called after each chunk with the number of customers done so far.
    params
        Population parameters; :class:`StoreParameters` defaults when omitted.

    Returns
    -------
    SimulationSummary
        The output directory and the rows written.

    Raises
    ------
    ConfigError
        For invalid arguments or an output directory holding other files.
    """
    total = _check_int("customers", customers, 1, MAX_CUSTOMERS, "2000")
    seed = _check_int("seed", seed, 0, 2**63 - 1, "0")
    chunk = _check_int("chunk_customers", chunk_customers, 1, _MAX_CHUNK, "50000")
    params = StoreParameters() if params is None else params
    if not isinstance(params, StoreParameters):
        raise ConfigError(
            f"params must be a StoreParameters, got {type(params).__name__}.",
            fix="Pass params=StoreParameters(...) or leave it out.",
        )
    period = Period(start, end, horizon_days)
    out = Path(out)
    season = Seasonality(start, period.total_days, params.seasonality)
    catalogue = build_catalogue(
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_CATALOGUE_STREAM,))),
        period.observed_days,
    )
    products = ProductTexts.build(catalogue, params.currency) if events else None

    n_orders = n_refunds = n_events = n_sessions = n_guests = n_visitors = 0
    last_quantile = 0.0
    with StoreWriter(out, lines_csv=lines_csv) as writer:
        writer.write("products", catalogue.to_table(params.currency))
        for k, done in enumerate(range(0, total, chunk)):
            count = min(chunk, total - done)
            streams = np.random.SeedSequence(seed, spawn_key=(_CHUNK_STREAM, k)).spawn(4)
            rng_customers, rng_purchases, rng_orders, rng_events = (
                np.random.default_rng(s) for s in streams
            )
            quantiles, last_quantile = arrival_quantiles(
                rng_customers, total, done, count, last_quantile
            )
            batch = draw_customers(
                rng_customers,
                first_index=done,
                quantiles=quantiles,
                params=params,
                period=period,
                season=season,
                catalogue=catalogue,
            )
            purchases = simulate_purchases(
                rng_purchases,
                first_time=batch.first_time,
                rate=batch.rate,
                dropout=batch.dropout,
                season=season,
                observed_days=period.observed_days,
                total_days=period.total_days,
                dropout_at_first_purchase=params.dropout_at_first_purchase,
            )
            orders = build_orders(
                rng_orders,
                customers=batch,
                purchases=purchases,
                catalogue=catalogue,
                params=params,
                period=period,
                season=season,
                first_number=n_orders + 1,
                first_refund_number=n_refunds + 1,
            )
            writer.write("customers", batch.table)
            for name, table in orders.tables(batch, catalogue, period, params.currency).items():
                writer.write(name, table)
            writer.write_truth(_truth_table(batch, purchases, period, catalogue))
            writer.write_affinity(_affinity_table(batch))
            if lines_csv:
                writer.write_csv(orders.csv_table(batch, catalogue, period, params.currency))
            n_orders += orders.size
            n_refunds += orders.refunds.order.size

            if products is not None:
                plan = plan_sessions(
                    rng_events,
                    customers=batch,
                    purchases=purchases,
                    orders=orders,
                    catalogue=catalogue,
                    params=params,
                    period=period,
                    season=season,
                )
                writer.write("events", identify_events(batch, period, n_events + 1))
                n_events += batch.size
                texts = OrderTexts.build(orders)
                for lo in range(0, plan.size, _SESSIONS_PER_SLICE):
                    table = session_events(
                        plan,
                        range(lo, min(lo + _SESSIONS_PER_SLICE, plan.size)),
                        products=products,
                        orders=texts,
                        customers=batch,
                        catalogue=catalogue,
                        period=period,
                        currency=params.currency,
                        first_session_number=n_sessions + 1,
                        first_guest_number=n_guests + 1,
                        first_visitor_number=n_visitors + 1,
                        first_event_number=n_events + 1,
                    )
                    writer.write("events", table)
                    n_events += table.num_rows
                n_sessions += plan.size
                n_visitors += plan.n_visitors
                del plan, texts
            n_guests += orders.n_guests
            del batch, purchases, orders
            # Hand the chunk's buffers back now: the allocator's own lazy return depends on
            # how busy the machine is, and the memory bound should not.
            pa.default_memory_pool().release_unused()
            if progress is not None:
                progress(done + count)

        writer.finish(
            {"seed": seed, "customers": total},
            {
                "model": "MBG/NBD" if params.dropout_at_first_purchase else "BG/NBD",
                "r": params.r,
                "alpha": params.alpha,
                "a": params.a,
                "b": params.b,
                "rate_unit": "purchases per day",
                "horizon_days": period.horizon_days,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "observation_end": period.observation_end.isoformat().replace("+00:00", "Z"),
                "seed": seed,
                "customers": total,
                "chunk_customers": chunk,
                "parameters": params.to_dict(),
                "notes": (
                    "A customer's purchases are their orders whose status is not 'cancelled' "
                    "(refunded orders count). repeat_purchases counts them minus the first, in "
                    "the observation period [start, end] (end included); future_purchases "
                    "counts purchases in the horizon_days after observation_end. Guest orders "
                    "and cancelled orders are outside the BG/NBD process."
                ),
            },
        )
    return SimulationSummary(
        out=out,
        customers=writer.counts["customers"],
        orders=writer.counts["orders"],
        order_lines=writer.counts["order_lines"],
        refunds=writer.counts["refunds"],
        events=writer.counts["events"],
        seed=seed,
    )
