"""Settings, timeouts, JSON logs, problem details and the serve/keys commands."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from api_support import Api, make_api
from fastapi.testclient import TestClient

from cli_support import run
from regulars.errors import ConfigError
from regulars.service import ServiceSettings, create_app
from regulars.service.logs import JsonFormatter
from regulars.store import Database, open_database


def test_settings_come_from_the_environment_and_bad_ones_are_explained() -> None:
    settings = ServiceSettings.from_env(
        {"REGULARS_RATE_LIMIT_PER_SECOND": "50", "REGULARS_MAX_BATCH_MESSAGES": "10"}
    )
    assert (settings.rate_limit_per_second, settings.max_batch_messages) == (50.0, 10)
    with pytest.raises(ConfigError, match="REGULARS_MAX_BODY_BYTES='big' is not a number"):
        ServiceSettings.from_env({"REGULARS_MAX_BODY_BYTES": "big"})
    with pytest.raises(ConfigError, match="max_batch_messages must be above 0"):
        ServiceSettings(max_batch_messages=0)


def test_a_slow_request_gets_a_503_problem(tmp_path: Path) -> None:
    database = open_database(path=tmp_path / "s.db")
    app = create_app(database, ServiceSettings(request_timeout_seconds=0.05))

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"late": "yes"}

    with TestClient(app) as client:
        response = client.get("/slow")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "messageId" in response.json()["detail"]
        assert client.get("/health").status_code == 200
    database.dispose()


def test_each_request_is_logged_as_one_json_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="regulars.access"):
        response = api.client.get(
            "/v1/segments", headers={**api.headers("read"), "X-Request-ID": "req-42"}
        )
    assert response.headers["x-request-id"] == "req-42"
    record = next(r for r in caplog.records if r.name == "regulars.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "GET" and line["path"] == "/v1/segments"
    assert line["status"] == 200 and line["request_id"] == "req-42"
    assert line["key"] == api.tokens["read"].split("_")[1]
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert api.tokens["read"] not in json.dumps(line)  # never the secret


def test_an_unexpected_error_is_a_500_problem_without_internals(database: Database) -> None:
    for api in make_api(database):

        @api.app.get("/v1/broken")
        def broken() -> None:
            raise RuntimeError("secret internals")

        response = api.client.get("/v1/broken")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert "secret internals" not in response.text


def test_ready_says_when_the_schema_is_not_migrated(tmp_path: Path) -> None:
    database = open_database(path=tmp_path / "new.db")
    with TestClient(create_app(database, migrate=False)) as client:
        response = client.get("/ready")
        assert response.status_code == 503 and "expected" in response.json()["detail"]
    with TestClient(create_app(database)) as client:  # migrates at start-up
        assert client.get("/ready").status_code == 200
    database.dispose()


def test_keys_commands_create_list_and_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "keys.db")
    code, made, _ = run(
        ["keys", "create", "--name", "shop", "--scope", "write", "--database", db], capsys
    )
    assert code == 0, made
    token = made.strip().splitlines()[-1]
    assert token.startswith("rgk_")
    code, listed, _ = run(["keys", "list", "--database", db], capsys)
    assert "shop" in listed and "write" in listed and token not in listed
    code, revoked, _ = run(["keys", "revoke", "1", "--database", db], capsys)
    assert code == 0 and "Revoked key 1" in revoked
    code, _, error = run(["keys", "revoke", "9", "--database", db], capsys)
    assert code != 0 and "no API key with id 9" in error
    code, _, error = run(
        ["keys", "create", "--name", "x", "--scope", "root", "--database", db], capsys
    )
    assert code != 0 and "root" in error
    database = open_database(path=db)
    with database.unit_of_work(read_only=True) as uow:
        assert uow.api_keys.authenticate(token) is None  # revoked
    database.dispose()


def test_fastapi_telemetry_is_on_only_when_opentelemetry_is_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import trace

    from regulars.service.app import _telemetry

    app = create_app(open_database(path=tmp_path / "t.db"))
    assert _telemetry() == {"tracing": False, "metrics": False, "logs": False}
    assert app._telemetry["tracing"] is False  # what FastAPI was given

    class ShopTracerProvider(trace.NoOpTracerProvider):
        """A provider the operator set up (an SDK's, in real life)."""

    monkeypatch.setattr(trace, "get_tracer_provider", ShopTracerProvider)
    assert _telemetry() is None  # FastAPI's own defaults: spans, metrics, logs
    assert create_app(open_database(path=tmp_path / "u.db"))._telemetry["tracing"] is True


def test_a_served_app_freezes_the_heap_it_started_with(tmp_path: Path) -> None:
    import gc

    from regulars.service import serve

    assert gc.get_freeze_count() == 0
    plain = create_app(open_database(path=tmp_path / "plain.db"))
    with TestClient(plain):
        assert gc.get_freeze_count() == 0  # create_app leaves the heap alone by default
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("REGULARS_DATABASE_PATH", str(tmp_path / "served.db"))
            env.setattr(serve, "configure_logging", lambda level: None)  # keep pytest's
            with TestClient(serve.app_from_env()) as client:
                assert gc.get_freeze_count() > 10_000  # the libraries' objects, at least
                assert client.get("/health").status_code == 200
    finally:
        gc.unfreeze()  # this test process goes on with other work
