"""Scoring the operational store: the customer table, computed and written as a new version.

::

    from regulars.live.scoring import score_store
    from regulars.store import open_database

    version = score_store(open_database(path="regulars.db"), horizon_days=365)

:func:`score_store` reads what the API received (:mod:`regulars.live.canonical`), stages it
in an in-memory DuckDB database, runs the analytics there through Ibis exactly as
``regulars customers`` does on a workspace (:func:`regulars.analysis.analyze` with the
predictions of :mod:`regulars.predict`), adds each customer's top-k products
(:func:`regulars.recommend.recommend`), and writes one :class:`~regulars.store.CustomerScore`
per customer with :meth:`~regulars.store.scores.ScoreRepository.write_version`, in one
transaction: the API serves the previous version until this one is whole.

Row layout: ``segment`` is the RFM named segment; ``p_alive``, ``expected_orders``,
``churn_risk``, ``clv``, ``value_at_risk``, ``at_risk`` the predictions; ``extra`` holds
:data:`EXTRA_COLUMNS` of the customer table (``segments`` is the list of declared segments
the customer is in, times as ISO text) and ``recommendations``, a list of
``{product_id, score, reason}``, best first.

Small stores: what a model cannot fit falls back as :func:`regulars.predict.predict` does
(Gamma-Gamma -> own mean spend, churn classifier -> the BTYD model). When no prediction can
be made at all, the RFM part is written and ``meta["predictions"]`` says why; likewise for
``meta["recommendations"]``.
"""

from __future__ import annotations

import math
import time as clock
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from regulars.errors import InputError, RegularsError
from regulars.live.canonical import stage_store
from regulars.store.records import CustomerScore, ScoreVersion
from regulars.store.tables import CUSTOMERS
from regulars.store.uow import UnitOfWork

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from regulars.analysis import StoreAnalysis
    from regulars.importers.base import CanonicalData
    from regulars.store.engine import Database

__all__ = ["EXTRA_COLUMNS", "customer_scores", "score_store", "store_tables"]

EXTRA_COLUMNS = (
    "segments",
    "expected_next_order_at",
    "expected_spend",
    "clv_low",
    "clv_high",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "recency_days",
    "days_since_last_order",
    "frequency",
    "monetary_value",
    "orders",
    "revenue",
    "aov",
    "historic_clv",
    "first_order_at",
    "last_order_at",
    "top_category",
    "model",
    "churn_method",
    "at_risk_rank",
)
"""The customer table's columns kept in ``CustomerScore.extra`` (when the table has them)."""

_SCORE_FIELDS = ("p_alive", "expected_orders", "churn_risk", "clv", "value_at_risk")

NO_ORDERS_FIX = (
    "Send the store's orders first (Segment 'Order Completed' events to POST /v1/track "
    "or /v1/batch), then score again."
)


def _unit_of_work(source: Database | UnitOfWork) -> tuple[UnitOfWork, bool]:
    if isinstance(source, UnitOfWork):
        return source, False
    return source.unit_of_work(read_only=True), True


def store_tables(
    source: Database | UnitOfWork,
    *,
    as_of: date | datetime | None = None,
    events: bool = True,
) -> dict[str, pa.Table]:
    """Return the store's content as the canonical tables (Arrow), by name.

    Parameters
    ----------
    source
        The open store (read in a read-only unit of work of its own) or a unit of work.
    as_of
        Leave out what happened after this day (the whole day included) or instant.
    events
        Also read the events (else ``events`` is empty).

    Returns
    -------
    dict[str, pyarrow.Table]
        ``customers``, ``products``, ``orders``, ``order_lines``, ``refunds``, ``events``
        with the schemas of :mod:`regulars.schema`; see :mod:`regulars.live.canonical`.
    """
    uow, owned = _unit_of_work(source)
    if owned:
        with uow:
            return store_tables(uow, as_of=as_of, events=events)
    with stage_store(uow, as_of=as_of, events=events) as data:
        return {name: data.table(name) for name in ("customers", "products", *_READ_ORDER)}


_READ_ORDER = ("orders", "order_lines", "refunds", "events")


def _ibis_tables(data: CanonicalData) -> dict[str, ir.Table]:
    import ibis

    backend = ibis.duckdb.from_connection(data.con)
    names = ("customers", "products", "orders", "order_lines", "refunds", "events")
    return {name: backend.table(name) for name in names}


def _plain(value: Any) -> Any:
    """Return a JSON-ready value: numbers as Python numbers, times as ISO text, NaN as None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple) or (hasattr(value, "tolist") and hasattr(value, "ndim")):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [_plain(v) for v in items] if isinstance(items, list) else _plain(items)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float | int | bool | str):
        return value
    return str(value)


def _number(value: Any) -> float | None:
    plain = _plain(value)
    return None if plain is None else float(plain)


def customer_scores(
    customers: pd.DataFrame, recommendations: Mapping[str, list[dict[str, Any]]] | None = None
) -> Iterator[CustomerScore]:
    """Turn the customer table (with or without predictions) into rows of a score version."""
    recs = recommendations or {}
    columns = [c for c in EXTRA_COLUMNS if c in customers.columns]
    predicted = "p_alive" in customers.columns
    for row in customers.to_dict(orient="records"):
        customer = str(row["customer_id"])
        extra = {c: _plain(row[c]) for c in columns}
        extra["segments"] = [str(s) for s in extra.get("segments") or []]
        if recommendations is not None:
            extra["recommendations"] = recs.get(customer, [])
        at_risk = _plain(row.get("at_risk")) if predicted else None
        values = {f: _number(row.get(f)) if predicted else None for f in _SCORE_FIELDS}
        yield CustomerScore(
            customer_id=customer,
            segment=_plain(row.get("rfm_segment")),
            p_alive=values["p_alive"],
            expected_orders=values["expected_orders"],
            churn_risk=values["churn_risk"],
            clv=values["clv"],
            value_at_risk=values["value_at_risk"],
            at_risk=None if at_risk is None else bool(at_risk),
            extra=extra,
        )


def _recommendations(
    tables: Mapping[str, ir.Table], *, as_of: date, currency: str, k: int
) -> tuple[dict[str, list[dict[str, Any]]] | None, dict[str, Any]]:
    if k <= 0:
        return None, {"recommendations": "not asked for (k = 0)"}
    from regulars.recommend import recommend

    try:
        result = recommend(tables, as_of=as_of, k=k, currency=currency)
    except RegularsError as exc:
        return {}, {"recommendations": f"unavailable: {exc.message}"}
    lists: dict[str, list[dict[str, Any]]] = {}
    frame = result.frame.sort_values(["customer_id", "rank"], kind="stable")
    for customer, product, score, reason in zip(
        frame["customer_id"], frame["product_id"], frame["score"], frame["reason"], strict=True
    ):
        lists.setdefault(str(customer), []).append(
            {"product_id": str(product), "score": _number(score), "reason": _plain(reason)}
        )
    return lists, {
        "recommendations": "ok",
        "recommendations_k": k,
        "ranker": result.ranker,
        "ranker_reason": result.ranker_reason,
    }


def _analyze(
    tables: Mapping[str, ir.Table],
    *,
    as_of: date | None,
    currency: str | None,
    horizon_days: float,
    model: str,
    discount_rate: float,
) -> tuple[StoreAnalysis, dict[str, Any]]:
    from regulars.analysis import analyze
    from regulars.predict import PredictionOptions

    options = PredictionOptions(horizon_days, model, discount_rate)
    common: dict[str, Any] = {
        "store": "operational store",
        "as_of": as_of,
        "currency": currency,
        "include_customers": True,
    }
    try:
        analysis = analyze(tables, predictions=options, **common)
    except RegularsError as exc:
        if isinstance(exc, InputError) and "no sales" in exc.message.lower():
            raise
        analysis = analyze(tables, predictions=None, **common)
        return analysis, {"predictions": f"unavailable: {exc.message}"}
    assert analysis.predictions is not None
    return analysis, {"predictions": "ok", **analysis.predictions.as_dict()}


def _live_ids(uow: UnitOfWork) -> set[str]:
    rows = uow.connection.execute(
        sa.select(CUSTOMERS.c.id).where(CUSTOMERS.c.merged_into.is_(None))
    )
    return {r.id for r in rows}


def score_store(
    database: Database,
    *,
    as_of: date | None = None,
    horizon_days: float = 365,
    model: str = "auto",
    discount_rate: float = 0.1,
    recommendations: int = 10,
    currency: str | None = None,
) -> ScoreVersion:
    """Compute the customer table of the store and write it as a new, complete score version.

    Parameters
    ----------
    database
        The open, migrated store.
    as_of
        The scoring date (default: the day of the last sale); nothing after it is used.
    horizon_days
        Horizon of expected orders, churn risk and CLV, in days.
    model
        ``auto`` (the lowest holdout error) or ``bgnbd``, ``mbgnbd``, ``paretonbd``.
    discount_rate
        CLV's discount rate per year.
    recommendations
        Products recommended per customer (0: none).
    currency
        The currency to score (needed when the store sells in several).

    Returns
    -------
    ScoreVersion
        The version written, complete; its ``meta`` says how it was made.

    Raises
    ------
    InputError
        When the store holds no order (or no sale by ``as_of``).
    ConfigError
        For a bad model, horizon or discount rate.
    """
    started = clock.perf_counter()
    if isinstance(recommendations, bool) or recommendations < 0:
        raise InputError(
            "The number of recommendations per customer is negative.",
            column="recommendations",
            value=recommendations,
            expected="0 (none) or a positive integer such as 10",
        )
    with database.unit_of_work(read_only=True) as reader:
        data = stage_store(reader, as_of=as_of)
    with data:
        if data.count("orders") == 0:
            raise InputError(
                "The operational store holds no orders" + (f" by {as_of}." if as_of else "."),
                fix=NO_ORDERS_FIX,
            )
        tables = _ibis_tables(data)
        analysis, meta = _analyze(
            tables,
            as_of=as_of,
            currency=currency.upper() if currency else None,
            horizon_days=horizon_days,
            model=model,
            discount_rate=discount_rate,
        )
        lists, rec_meta = _recommendations(
            tables, as_of=analysis.as_of, currency=analysis.currency, k=recommendations
        )
        orders = data.count("orders")
    meta = _plain({**meta, **rec_meta})
    meta.update(
        as_of=analysis.as_of.isoformat(),
        currency=analysis.currency,
        horizon_days=float(horizon_days),
        discount_rate=float(discount_rate),
        model_asked=model,
        orders=orders,
        computed_by="regulars.live.scoring.score_store",
    )
    frame = analysis.customers
    at = datetime.combine(analysis.as_of, time.min, UTC)
    with database.unit_of_work() as uow:
        live = _live_ids(uow)
        rows = (s for s in customer_scores(frame, lists) if s.customer_id in live)
        gone = int((~frame["customer_id"].isin(live)).sum()) if len(frame) else 0
        meta.update(customers_gone=gone, seconds=round(clock.perf_counter() - started, 3))
        return uow.scores.write_version(at, rows, currency=analysis.currency, meta=meta)
