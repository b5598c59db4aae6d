"""Every route refuses a missing, wrong, revoked or wrongly-scoped key.

The routes are enumerated from the app itself, so a route added later without a key check
fails here. Only ``/health``, ``/ready`` and the API's own docs answer without a key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from api_support import Api
from fastapi.routing import APIRoute

from regulars.service import create_app
from regulars.service.routes.health import PUBLIC_PATHS

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Yield every APIRoute, those of included routers too (FastAPI >= 0.160 nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from _api_routes(nested.routes)


def _routes(api: Api) -> list[tuple[str, str]]:
    found = []
    for route in _api_routes(api.app.routes):
        if route.path not in PUBLIC_PATHS:
            for method in sorted(route.methods):
                path = re.sub(r"\{customer_id\}", "cus_nobody", route.path)
                path = re.sub(r"\{key_id\}", "1", path)
                path = re.sub(r"\{[a-z_]+\}", "x", path)
                found.append((method, path))
    return found


def _scope_of(api: Api, method: str, path: str) -> str:
    for route in _api_routes(api.app.routes):
        if method in route.methods:
            pattern = re.sub(r"\{[a-z_]+\}", "[^/]+", route.path) + "$"
            if re.match(pattern, path):
                scopes = [
                    getattr(d.call, "required_scope", None) for d in route.dependant.dependencies
                ]
                found = [s for s in scopes if s is not None]
                assert len(found) == 1, f"{route.path} has {len(found)} key checks"
                return str(found[0])
    raise AssertionError(f"no scope found for {method} {path}")


def test_the_app_has_the_routes_of_the_issue(api: Api) -> None:
    routes = set(_routes(api))
    for expected in [
        ("POST", "/v1/track"),
        ("POST", "/v1/identify"),
        ("POST", "/v1/batch"),
        ("GET", "/v1/customers/cus_nobody"),
        ("GET", "/v1/customers/cus_nobody/recommendations"),
        ("PUT", "/v1/customers/cus_nobody/consents"),
        ("GET", "/v1/customers/cus_nobody/export"),
        ("DELETE", "/v1/customers/cus_nobody"),
        ("GET", "/v1/segments"),
        ("GET", "/v1/segments/x/customers"),
        ("POST", "/v1/keys"),
    ]:
        assert expected in routes


def test_only_health_and_docs_are_public(api: Api) -> None:
    public = {r.path for r in _api_routes(api.app.routes) if not r.dependant.dependencies}
    public |= {r.path for r in api.app.routes if not isinstance(r, APIRoute) and hasattr(r, "path")}
    assert public <= PUBLIC_PATHS | DOCS
    walked = {(m, r.path) for r in _api_routes(api.app.routes) for m in r.methods}
    spec = api.app.openapi()["paths"]
    documented = {(m.upper(), p) for p, ops in spec.items() for m in ops}
    assert walked == documented  # the walk sees every route the app serves
    for path, operations in spec.items():
        for operation in operations.values():
            assert (path in PUBLIC_PATHS) != bool(operation.get("security")), path
    assert api.client.get("/health").json() == {"status": "ok"}
    ready = api.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_every_route_refuses_a_missing_or_wrong_key(api: Api) -> None:
    wrong_keys = {
        "missing": {},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "unknown": {"Authorization": "Bearer rk_000000000000_" + "x" * 43},
        "tampered": {"Authorization": f"Bearer {api.tokens['admin'][:-2]}zz"},
        "other scheme": {"Authorization": f"Token {api.tokens['admin']}"},
    }
    for method, path in _routes(api):
        for label, headers in wrong_keys.items():
            response = api.client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, label, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["status"] == 401


def test_every_route_refuses_a_key_without_its_scope(api: Api) -> None:
    for method, path in _routes(api):
        scope = _scope_of(api, method, path)
        for held in ("read", "write"):
            if held == scope:
                continue
            response = api.client.request(method, path, headers=api.headers(held), json={})
            assert response.status_code == 403, (method, path, held, response.text)
            assert f"needs the '{scope}' scope" in response.json()["detail"]


def test_a_key_with_its_scope_gets_past_the_check(api: Api) -> None:
    for method, path in _routes(api):
        scope = _scope_of(api, method, path)
        for held in {scope, "admin"}:
            response = api.client.request(method, path, headers=api.headers(held), json={})
            assert response.status_code not in (401, 403), (method, path, held, response.text)


def test_a_revoked_key_is_refused_at_once_on_this_server(api: Api) -> None:
    assert api.client.get("/v1/segments", headers=api.headers("read")).status_code == 200
    keys = api.client.get("/v1/keys", headers=api.headers("admin")).json()["keys"]
    reader = next(k for k in keys if k["name"] == "reader")
    revoked = api.client.delete(f"/v1/keys/{reader['id']}", headers=api.headers("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.client.get("/v1/segments", headers=api.headers("read")).status_code == 401


def test_segment_style_basic_auth_is_accepted(api: Api) -> None:
    basic = base64.b64encode(f"{api.tokens['write']}:".encode()).decode()
    response = api.client.post(
        "/v1/track",
        headers={"Authorization": f"Basic {basic}"},
        json={"messageId": "b-1", "userId": "u1", "event": "Product Viewed"},
    )
    assert response.status_code == 200, response.text


def test_keys_are_created_over_the_api_and_shown_once(api: Api) -> None:
    made = api.client.post(
        "/v1/keys", headers=api.headers("admin"), json={"name": "warehouse", "scopes": ["read"]}
    )
    assert made.status_code == 201
    token = made.json()["token"]
    assert api.client.get("/v1/segments", headers={"Authorization": f"Bearer {token}"}).is_success
    listed = api.client.get("/v1/keys", headers=api.headers("admin")).text
    assert token not in listed and token.split("_")[-1] not in listed


@pytest.mark.parametrize("scopes", [[], ["root"]])
def test_a_key_needs_known_scopes(api: Api, scopes: list[str]) -> None:
    made = api.client.post(
        "/v1/keys", headers=api.headers("admin"), json={"name": "x", "scopes": scopes}
    )
    assert made.status_code == 422
    assert made.json()["errors"][0]["field"].startswith("scopes")


def test_create_app_does_not_need_a_running_server(api: Api) -> None:
    app = create_app(api.database)
    assert app.openapi()["info"]["title"] == "regulars"
    assert "HTTPBearer" in app.openapi()["components"]["securitySchemes"]
