"""The service's settings: limits, timeouts and caches, with their defaults.

Every field can be set by the caller of :func:`regulars.service.create_app` or, for
``regulars serve``, by an environment variable ``REGULARS_<FIELD>`` in capitals
(``REGULARS_RATE_LIMIT_PER_SECOND=200``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from regulars.errors import ConfigError

__all__ = ["ServiceSettings"]


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and timeouts of the HTTP API.

    Attributes
    ----------
    max_body_bytes
        The largest request body accepted (413 above it). Segment's own limit is 32 KB a
        message and 500 KB a batch.
    max_batch_messages
        The most messages one ``POST /v1/batch`` may carry (413 above it).
    rate_limit_per_second
        Requests a key may make per second, on average (429 above it); 0 turns it off.
    rate_limit_burst
        Requests a key may make at once before the average applies.
    request_timeout_seconds
        A request still running after this long gets a 503 (its transaction still ends
        as it would have: an event sent again with the same messageId is never counted
        twice).
    key_cache_seconds
        How long an authenticated key is trusted without asking the database again; a
        revoked key is refused at the latest after this long (0: ask every time).
    page_size_max
        The largest page a paged route returns.
    max_group
        The most single events (``/v1/track``, ``/v1/identify``) one transaction stores
        (see :mod:`regulars.service.writer`); 1 stores each in its own.
    """

    max_body_bytes: int = 512 * 1024
    max_batch_messages: int = 500
    rate_limit_per_second: float = 1000.0
    rate_limit_burst: int = 2000
    request_timeout_seconds: float = 10.0
    key_cache_seconds: float = 5.0
    page_size_max: int = 1000
    max_group: int = 200

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value < 0 or (value == 0 and item.name in _POSITIVE):
                raise ConfigError(
                    f"Service setting {item.name} must be "
                    f"{'above' if item.name in _POSITIVE else 'at least'} 0, not {value}.",
                    fix=f"Set {item.name} (or REGULARS_{item.name.upper()}) to a larger number.",
                )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceSettings:
        """Return the defaults overridden by ``REGULARS_<FIELD>`` environment variables."""
        env = os.environ if environ is None else environ
        settings = cls()
        changes: dict[str, Any] = {}
        for item in fields(cls):
            name = f"REGULARS_{item.name.upper()}"
            if name not in env:
                continue
            convert = int if isinstance(getattr(settings, item.name), int) else float
            try:
                changes[item.name] = convert(env[name])
            except ValueError:
                raise ConfigError(
                    f"Environment variable {name}={env[name]!r} is not a number.",
                    fix=f"Set {name} to a {'whole ' if convert is int else ''}number.",
                ) from None
        return replace(settings, **changes)


_POSITIVE = {
    "max_body_bytes",
    "max_batch_messages",
    "request_timeout_seconds",
    "page_size_max",
    "max_group",
}
