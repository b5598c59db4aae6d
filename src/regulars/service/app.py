"""The FastAPI application: routes, limits, problem details, logs.

::

    from regulars.service import create_app
    from regulars.store import open_database

    app = create_app(open_database(path="regulars.db"))   # then: uvicorn, or TestClient(app)

``regulars serve`` does the same and runs it under uvicorn.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from regulars.service.auth import KeyCache
from regulars.service.lane import IngestLane
from regulars.service.limits import BodySizeLimit, RequestTimeout
from regulars.service.logs import AccessLog
from regulars.service.problems import install_problem_handlers
from regulars.service.rate_limit import RateLimiter
from regulars.service.routes import customers, events, health, keys, segments
from regulars.service.settings import ServiceSettings
from regulars.service.writer import IngestWriter
from regulars.store import Database

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

__all__ = ["create_app"]

DESCRIPTION = """\
The live side of regulars: send a store's orders and storefront events as they happen
(Segment spec), and read each customer's scores, segments and recommendations.

Every route but `/health` and `/ready` needs an API key (`Authorization: Bearer <key>`):
`write` to send events, `read` to read, `admin` to manage keys. Create the first with
`regulars keys create --name shop --scope write --scope read`.
Errors are JSON problem details (RFC 9457) naming the field at fault.
"""


def create_app(
    database: Database,
    settings: ServiceSettings | None = None,
    *,
    migrate: bool = True,
    ingest_lane: bool = True,
    freeze_heap: bool = False,
    shared_rate_limit: str | Path | None = None,
) -> FastAPI:
    """Return the HTTP API over ``database``.

    Parameters
    ----------
    database
        The operational store (``regulars.store.open_database``).
    settings
        Limits and timeouts (:class:`ServiceSettings`; defaults otherwise).
    migrate
        Bring the database's schema to the current revision at start-up (safe to run
        from several processes at once).
    ingest_lane
        Serve well-formed single events (``/v1/track``, ``/v1/identify``) by the lean
        path of :mod:`.lane` (the same rules and answers, at less CPU a request); off,
        FastAPI serves them too.
    freeze_heap
        Once started, move every object alive into the garbage collector's permanent
        generation (``gc.freeze``), as a server process should: the full collections that
        followed then scan only what the process made since. Without it, each full
        collection walked the ~190,000 objects of the imported libraries and held the
        GIL for 25-150 ms, the largest part of ``POST /v1/track``'s p99 under load
        (docs/benchmarks.md). ``regulars serve`` turns it on; leave it off where the
        process does other work (tests, notebooks).
    shared_rate_limit
        A bucket file (:func:`regulars.service.rate_limit.create_shared_file`) shared with
        the other processes serving the same API, so that a key's rate holds across them;
        ``regulars serve --workers N`` makes one. Without it, the limit is per process.
    """
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            database.migrate()
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            app.state.writer.stop()
            app.state.rate_limiter.close()

    from regulars import __version__

    app = FastAPI(
        title="regulars",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=_telemetry(),
    )
    app.state.database = database
    app.state.settings = settings
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    app.state.writer = IngestWriter(database, max_group=settings.max_group)
    app.state.rate_limiter = RateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst, shared=shared_rate_limit
    )
    install_problem_handlers(app)
    for module in (events, customers, segments, keys, health):
        app.include_router(module.router)
    # Outermost last: the access log sees every answer, limits answered included.
    if ingest_lane:
        app.add_middleware(IngestLane, state=app.state)
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    return app


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's OpenTelemetry spans, metrics and logs: on only when a provider is set up.

    FastAPI (0.165 and later) asks on every request whether OpenTelemetry has a provider,
    which reads the environment each time: about 15% of the event loop's CPU on
    ``POST /v1/track`` (docs/benchmarks.md). The question is asked once here instead: an
    app created after OpenTelemetry is set up (``opentelemetry-instrument regulars serve``,
    or providers set before ``create_app``) keeps FastAPI's telemetry.
    """
    try:
        from opentelemetry import _logs, metrics, trace
    except ImportError:  # an older FastAPI, without OpenTelemetry
        return None
    providers = (
        trace.get_tracer_provider(),
        metrics.get_meter_provider(),
        _logs.get_logger_provider(),
    )
    if any(type(p).__name__ not in _PLACEHOLDERS for p in providers):
        return None  # FastAPI's defaults
    off: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    return off


_PLACEHOLDERS = frozenset({"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"})
"""OpenTelemetry's stand-ins for a provider not set up yet."""
