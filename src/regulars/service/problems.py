"""Errors as JSON problem details (RFC 9457), one handler per kind of error.

Every error the API returns is ``application/problem+json``::

    {"type": "https://regulars.dev/problems/invalid-request", "title": "Invalid request",
     "status": 422, "detail": "properties.total: must be a number",
     "errors": [{"field": "properties.total", "message": "must be a number"}]}

``errors`` (validation only) names each field at fault with a dotted path, list items as
``products[2]``; a message of a batch starts with ``batch[i]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from regulars.errors import InputError, RegularsError
from regulars.store.errors import ConflictError, NotFoundError

__all__ = ["PROBLEM_JSON", "field_path", "install_problem_handlers", "problem", "refusal"]

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://regulars.dev/problems/"

log = logging.getLogger("regulars.service")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_SLUGS = {422: "invalid-request", 413: "too-large", 429: "rate-limited"}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """Return a problem-details response."""
    title = title or _TITLES.get(status, "Error")
    slug = _SLUGS.get(status, title.lower().replace(" ", "-"))
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def field_path(location: Iterable[str | int]) -> str:
    """Return a location as a dotted path.

    ``("body", "properties", "products", 2, "price")`` is ``properties.products[2].price``.
    """
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("body", "query", "path", "header") and not path:
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in error.errors():
        location = list(item.get("loc", ()))
        # pydantic names the member of a tagged union after the index ("batch", 3,
        # "track", "event"): that tag is the message's type, not a field.
        location = [
            part
            for i, part in enumerate(location)
            if not (i and isinstance(location[i - 1], int) and part in _MESSAGE_TYPES)
        ]
        found.append({"field": field_path(location), "message": str(item.get("msg", "invalid"))})
    return found


_MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})


def _input_error_detail(error: InputError) -> tuple[str, list[dict[str, Any]]]:
    field = error.column or "body"
    message = error.message
    if error.expected:
        message += f" Expected: {error.expected}."
    if error.fix:
        message += f" How to fix: {error.fix}"
    detail = message if message.startswith(field) else f"{field}: {message}"
    return detail, [{"field": field, "message": message}]


def refusal(error: RegularsError, path: str) -> JSONResponse:
    """Return the problem the library's ``error`` makes: 422 for bad input, 404, 409, 400."""
    if isinstance(error, InputError):
        detail, errors = _input_error_detail(error)
        return problem(422, detail, errors=errors, instance=path)
    if isinstance(error, NotFoundError):
        return problem(404, error.message, instance=path)
    if isinstance(error, ConflictError):
        return problem(409, str(error), instance=path)
    return problem(400, str(error), instance=path)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem-details response."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(error)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, detail, errors=errors, instance=request.url.path)

    @app.exception_handler(RegularsError)
    async def _refused(request: Request, error: RegularsError) -> JSONResponse:
        return refusal(error, request.url.path)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        return problem(
            error.status_code,
            str(error.detail),
            headers=getattr(error, "headers", None),
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "The server failed to handle the request; it has been logged. Retrying an event "
            "with the same messageId is safe.",
            instance=request.url.path,
        )
