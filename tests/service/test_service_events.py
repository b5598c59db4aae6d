"""POST /v1/track, /v1/identify and /v1/batch: stored once, validated, limited."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from api_support import Api, identify, make_api, order_completed, viewed

from regulars.service import ServiceSettings
from regulars.store import Database


def test_an_order_completed_event_writes_the_order_and_the_customer(api: Api) -> None:
    sent = order_completed("m-1", "shop-42", "1001", email="ann@example.com")
    response = api.client.post("/v1/track", headers=api.headers("write"), json=sent)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] is True and body["order_id"] == "1001"
    assert body["message_id"] == "m-1" and body["event"] == "Order Completed"
    with api.database.unit_of_work(read_only=True) as uow:
        order = uow.orders.require("1001")
        assert order.customer_id == body["customer_id"]
        assert (order.total, order.currency, len(order.lines)) == (3000, "EUR", 2)
        assert uow.customers.find("external_id", "shop-42").id == body["customer_id"]
        assert uow.events.get("m-1").payload["properties"]["order_id"] == "1001"


def test_a_replay_returns_the_first_result_and_changes_nothing(api: Api) -> None:
    first = api.client.post(
        "/v1/track", headers=api.headers("write"), json=order_completed("m-1", "u1", "1")
    ).json()
    changed = order_completed("m-1", "u2", "2", total=99.0)  # same id, other content
    again = api.client.post("/v1/track", headers=api.headers("write"), json=changed).json()
    assert again == {**first, "created": False}
    with api.database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == 1
        assert uow.orders.get("2") is None
        assert uow.customers.find("external_id", "u2") is None


def test_identify_links_earlier_anonymous_events(api: Api) -> None:
    headers = api.headers("write")
    anonymous = api.client.post("/v1/track", headers=headers, json=viewed("v-1", "anon-7"))
    assert anonymous.json()["customer_id"] is None
    who = api.client.post(
        "/v1/identify",
        headers=headers,
        json=identify("i-1", "shop-7", "bo@example.com", anonymous_id="anon-7"),
    ).json()
    assert who["customer_id"] is not None
    with api.database.unit_of_work(read_only=True) as uow:
        assert uow.events.get("v-1").customer_id == who["customer_id"]
        customer = uow.customers.require(who["customer_id"])
        assert (customer.email, customer.first_name) == ("bo@example.com", "Ann")


def test_a_batch_is_stored_in_order_and_counts_duplicates(api: Api) -> None:
    batch = [
        identify("i-1", "u1", "ann@example.com"),
        order_completed("o-1", "u1", "1001"),
        order_completed("o-1", "u1", "1001"),
        viewed("v-1", "anon-1"),
    ]
    response = api.client.post("/v1/batch", headers=api.headers("write"), json={"batch": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["created"], body["duplicates"]) == (4, 3, 1)
    assert body["results"][1] == {**body["results"][2], "created": True}
    again = api.client.post("/v1/batch", headers=api.headers("write"), json={"batch": batch})
    assert again.json()["created"] == 0


def test_a_message_without_a_message_id_gets_one(api: Api) -> None:
    sent = {"userId": "u1", "event": "Product Viewed", "properties": {"product_id": "mug"}}
    body = api.client.post("/v1/track", headers=api.headers("write"), json=sent).json()
    assert body["message_id"].startswith("regulars-") and body["created"]


def _problem(response: object) -> dict[str, object]:
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"messageId": "m", "userId": "u"}, "event"),
        ({"messageId": "m", "event": "Product Viewed"}, "body"),
        ({"messageId": "", "userId": "u", "event": "X"}, "messageId"),
        ({"messageId": "m", "userId": "u", "event": "X", "timestamp": "yesterday"}, "timestamp"),
        ({"messageId": "m", "userId": "u", "event": "X", "properties": [1]}, "properties"),
    ],
)
def test_an_invalid_envelope_is_a_422_naming_the_field(
    api: Api, message: dict[str, object], field: str
) -> None:
    problem = _problem(api.client.post("/v1/track", headers=api.headers("write"), json=message))
    assert problem["errors"][0]["field"] == field  # type: ignore[index]
    assert field in str(problem["detail"]) or field == "body"


def test_a_bad_order_property_is_a_422_naming_it_and_nothing_is_written(api: Api) -> None:
    bad = order_completed("m-1", "u1", "1001")
    bad["properties"]["products"][1]["price"] = "ten"
    problem = _problem(api.client.post("/v1/track", headers=api.headers("write"), json=bad))
    assert problem["errors"][0]["field"] == "properties.products[1].price"  # type: ignore[index]
    with api.database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == 0 and uow.orders.get("1001") is None


def test_one_bad_message_refuses_the_whole_batch_naming_its_index(api: Api) -> None:
    batch = [identify("i-1", "u1", "ann@example.com"), {"type": "track", "userId": "u1"}]
    problem = _problem(
        api.client.post("/v1/batch", headers=api.headers("write"), json={"batch": batch})
    )
    assert problem["errors"][0]["field"] == "batch[1].event"  # type: ignore[index]
    bad_order = order_completed("o-1", "u1", "1")
    bad_order["properties"]["products"][0]["quantity"] = 0
    batch = [identify("i-1", "u1", "ann@example.com"), bad_order]
    problem = _problem(
        api.client.post("/v1/batch", headers=api.headers("write"), json={"batch": batch})
    )
    field = problem["errors"][0]["field"]  # type: ignore[index]
    assert field == "batch[1].properties.products[0].quantity"
    with api.database.unit_of_work(read_only=True) as uow:
        assert uow.events.count() == 0


def test_invalid_json_is_a_problem(api: Api) -> None:
    response = api.client.post(
        "/v1/track",
        headers={**api.headers("write"), "content-type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture()
def tight(database: Database) -> Iterator[Api]:
    settings = ServiceSettings(
        max_body_bytes=2_000, max_batch_messages=3, rate_limit_per_second=0.01, rate_limit_burst=5
    )
    yield from make_api(database, settings)


def test_limits_body_size_batch_size_and_rate(tight: Api) -> None:
    headers = tight.headers("write")
    big = viewed("v-big", "a1")
    big["properties"]["note"] = "x" * 3_000
    response = tight.client.post("/v1/track", headers=headers, json=big)
    assert response.status_code == 413 and "2,000 bytes" in response.json()["detail"]
    chunked = tight.client.post(
        "/v1/track",
        headers={**headers, "content-type": "application/json"},
        content=iter([json.dumps(big).encode()]),  # no Content-Length: counted while read
    )
    assert chunked.status_code == 413
    batch = [viewed(f"v-{i}", "a1") for i in range(4)]
    response = tight.client.post("/v1/batch", headers=headers, json={"batch": batch})
    assert response.status_code == 413 and "limit is 3" in response.json()["detail"]
    statuses = [
        tight.client.post("/v1/track", headers=headers, json=viewed(f"r-{i}", "a1")).status_code
        for i in range(6)
    ]
    assert 200 in statuses and statuses[-1] == 429
    limited = tight.client.post("/v1/track", headers=headers, json=viewed("r-x", "a1"))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    other = tight.client.get("/v1/segments", headers=tight.headers("read"))
    assert other.status_code == 200  # the limit is per key
