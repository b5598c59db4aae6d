"""The ingestion lane (``service/lane.py``) answers exactly as FastAPI's routes do.

The same script of requests (good events, replays, every kind of refusal) is sent to the
app with the lane and to the app without it, each over an empty store of the same
backend; the answers must be equal, once the random ids (customers, generated
messageIds, key prefixes) are numbered in order of appearance.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, identify, make_api, order_completed, viewed

from regulars.service import ServiceSettings
from regulars.service.routes import events
from regulars.store import Database, open_database
from store_database import empty_tables

Request = tuple[str, str, dict[str, str], Any]
"""(method, path, headers, body: a JSON value, or bytes sent as they are)."""

_RANDOM = re.compile(r"cus_[0-9a-f]{24}|regulars-[0-9a-f-]{36}|'[0-9a-f]{12}'")
_HEADERS = ("content-type", "content-length", "www-authenticate", "retry-after", "location")


def _script(api: Api) -> list[Request]:
    write, read = api.headers("write"), api.headers("read")
    basic = base64.b64encode(f"{api.tokens['write']}:".encode()).decode()
    no_id = viewed("x", "anon-9")
    del no_id["messageId"]
    bad_order = order_completed("o-bad", "u1", "1002")
    bad_order["properties"]["products"][0]["quantity"] = 0
    as_text = {**write, "content-type": "text/plain"}
    vendor = {**write, "content-type": "application/vnd.shop+json; charset=utf-8"}
    return [
        (
            "POST",
            "/v1/identify",
            write,
            identify("i-1", "u1", "ann@example.com", anonymous_id="a1"),
        ),
        ("POST", "/v1/track", write, viewed("v-1", "a1")),
        ("POST", "/v1/track", write, viewed("v-1", "a1", "other")),  # a replay
        ("POST", "/v1/track", write, viewed("v-2", "a2")),
        (
            "POST",
            "/v1/identify",
            write,
            identify("i-2", "u2", "bob@example.com", anonymous_id="a2"),
        ),
        ("POST", "/v1/track", write, {**viewed("v-3", "a1"), "userId": "u1"}),
        ("POST", "/v1/track", write, order_completed("o-1", "u1", "1001")),
        ("POST", "/v1/track", write, order_completed("o-1", "u1", "1001")),  # a replay
        ("POST", "/v1/track", write, bad_order),  # refused by the library: 422
        ("POST", "/v1/track", write, no_id),  # the service names it
        ("POST", "/v1/track", write, {"type": "track", "userId": "u1"}),  # no event
        ("POST", "/v1/track", write, {"type": "track", "event": "Product Viewed"}),  # no one
        ("POST", "/v1/identify", write, {"type": "identify", "traits": {"email": "c@d.e"}}),
        ("POST", "/v1/track", write, [viewed("v-4", "a1")]),  # not an object
        ("POST", "/v1/track", write, b"{not json"),
        ("POST", "/v1/track", write, b""),
        ("POST", "/v1/track", write, b"[" * 100_000 + b"]" * 100_000),  # too deep to parse
        ("POST", "/v1/track", write, b"null"),
        ("POST", "/v1/track", as_text, json.dumps(viewed("v-5", "a1")).encode()),
        ("POST", "/v1/track", vendor, json.dumps(viewed("v-6", "a1")).encode()),
        ("POST", "/v1/track", {"Authorization": f"Basic {basic}"}, viewed("v-7", "a1")),
        ("POST", "/v1/track", {}, viewed("v-8", "a1")),  # no key
        ("POST", "/v1/track", {"Authorization": "Bearer nope"}, viewed("v-9", "a1")),
        ("POST", "/v1/track", read, viewed("v-10", "a1")),  # the wrong scope
        ("POST", "/v1/track", {}, b"{not json"),  # no key and no JSON
        ("GET", "/v1/track", write, None),
        ("POST", "/v1/track/", write, viewed("v-11", "a1")),
        ("POST", "/v1/track", write, {**viewed("v-12", "a1"), "timestamp": "yesterday"}),
        ("POST", "/v1/track", write, {**viewed("v-13", "a1"), "extra": {"kept": True}}),
    ]


def _send(api: Api, request: Request) -> Any:
    method, path, headers, body = request
    if isinstance(body, bytes):
        return api.client.request(method, path, headers=headers, content=body)
    if body is None:
        return api.client.request(method, path, headers=headers)
    return api.client.request(method, path, headers=headers, json=body)


def _normalized(answers: list[tuple[int, dict[str, str], str]]) -> list[Any]:
    names: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"<id{len(names)}>")

    return [(status, headers, _RANDOM.sub(number, text)) for status, headers, text in answers]


def _run(api: Api, script: Callable[[Api], list[Request]]) -> list[Any]:
    answers = []
    for request in script(api):
        response = _send(api, request)
        kept = {name: response.headers[name] for name in _HEADERS if name in response.headers}
        answers.append((response.status_code, kept, response.text))
    return _normalized(answers)


@pytest.fixture()
def emptied(backend: str, database: Database, tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """Return a function giving another empty store of the backend when called.

    PostgreSQL: the same store, emptied then (its ids restart); SQLite: a new file.
    """
    opened: list[Database] = []

    def another() -> Database:
        if backend == "postgresql":
            empty_tables(database)
            return database
        opened.append(open_database(path=tmp_path / f"store-{len(opened)}.db"))
        opened[-1].migrate()
        return opened[-1]

    yield another
    for store in opened:
        store.dispose()


def _answers(
    database: Database,
    lane: bool,
    settings: ServiceSettings,
    script: Callable[[Api], list[Request]],
) -> list[Any]:
    for api in make_api(database, settings, ingest_lane=lane):
        return _run(api, script)
    raise AssertionError("make_api yielded nothing")


def _counting_route(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the single events FastAPI's routes store (the lane's are not counted)."""
    calls: list[int] = []
    original = events._ingest_one

    async def counted(request: Any, message: dict[str, Any]) -> Any:
        calls.append(1)
        return await original(request, message)

    monkeypatch.setattr(events, "_ingest_one", counted)
    return calls


def test_the_lane_answers_every_request_as_fastapi_does(
    database: Database, emptied: Callable[[], Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ServiceSettings()
    through_fastapi = _answers(database, False, settings, _script)
    calls = _counting_route(monkeypatch)
    through_lane = _answers(emptied(), True, settings, _script)
    for i, (expected, got) in enumerate(zip(through_fastapi, through_lane, strict=True)):
        assert got == expected, f"request {i} of the script"
    stored = sum(1 for status, _, _ in through_fastapi if status == 200)
    assert stored >= 12
    # The first request met an uncached key, so FastAPI served it; the lane the others.
    assert len(calls) == 1


def _rate_script(api: Api) -> list[Request]:
    return [("POST", "/v1/track", api.headers("write"), viewed(f"r-{i}", "a1")) for i in range(6)]


def test_the_lane_keeps_the_rate_limit_and_fastapi_answers_the_429(
    database: Database, emptied: Callable[[], Database]
) -> None:
    settings = ServiceSettings(rate_limit_per_second=0.01, rate_limit_burst=3)
    through_fastapi = _answers(database, False, settings, _rate_script)
    through_lane = _answers(emptied(), True, settings, _rate_script)
    statuses = [status for status, _, _ in through_lane]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert [(s, h.get("retry-after")) for s, h, _ in through_lane] == [
        (s, h.get("retry-after")) for s, h, _ in through_fastapi
    ]
