"""Property-based tests from the OpenAPI spec (schemathesis): no request gets a 5xx.

Every operation gets generated requests, valid and invalid, with an admin key; the store
holds a shop's events and a version of scores, so reads find real rows too. Runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from api_support import Api, identify, order_completed, viewed
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from regulars.store import CustomerScore


@pytest.fixture()
def api_schema(api: Api) -> schemathesis.BaseSchema:
    batch = [viewed("v-1", "anon-1"), identify("i-1", "u1", "a@example.com", anonymous_id="anon-1")]
    batch += [order_completed(f"o-{i}", "u1", f"{1000 + i}") for i in range(3)]
    response = api.client.post("/v1/batch", headers=api.headers("write"), json={"batch": batch})
    assert response.status_code == 200
    customer = response.json()["results"][1]["customer_id"]
    with api.database.unit_of_work() as uow:
        uow.scores.write_version(
            datetime(2026, 11, 30, tzinfo=UTC),
            [CustomerScore(customer, segment="loyal", clv=10.0, extra={"segments": ["x"]})],
        )
    return schemathesis.openapi.from_asgi("/openapi.json", api.app)


def test_no_request_gets_a_server_error(api_schema: schemathesis.BaseSchema, api: Api) -> None:
    headers = api.headers("admin")
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()
    assert operations >= 13
