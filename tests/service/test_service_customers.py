"""GET a customer's profile and recommendations; PUT consents; GDPR export and erase."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from api_support import Api, identify, order_completed, viewed

from regulars.store import CustomerScore
from regulars.store.tables import metadata


def _shop(api: Api) -> str:
    """Send Ann's identify, two orders and an anonymous view; return her customer id."""
    headers = api.headers("write")
    batch = [
        viewed("v-1", "anon-ann"),
        identify("i-1", "shop-1", "ann@example.com", anonymous_id="anon-ann"),
        order_completed("o-1", "shop-1", "1001", timestamp="2026-10-01T10:00:00Z"),
        order_completed(
            "o-2",
            "shop-1",
            "1002",
            total=12.5,
            products=[("tea", 12.5, 1)],
            timestamp="2026-11-01T10:00:00Z",
        ),
        order_completed("o-3", "shop-2", "2001", email="bo@example.com"),
    ]
    response = api.client.post("/v1/batch", headers=headers, json={"batch": batch})
    assert response.status_code == 200, response.text
    return str(response.json()["results"][1]["customer_id"])


def _score(api: Api, ann: str) -> None:
    with api.database.unit_of_work() as uow:
        uow.scores.write_version(
            datetime(2026, 11, 30, tzinfo=UTC),
            [
                CustomerScore(
                    ann,
                    segment="champions",
                    p_alive=0.93,
                    expected_orders=2.4,
                    churn_risk=0.12,
                    clv=88.5,
                    at_risk=False,
                    extra={
                        "segments": ["champions", "repeat_buyers"],
                        "expected_next_order_at": "2026-12-20",
                        "recommendations": [
                            {"product_id": "tea", "score": 0.9, "reason": "buy_again"},
                            {"product_id": "cup", "score": 0.4, "reason": "cross_sell"},
                        ],
                    },
                )
            ],
            currency="EUR",
        )


def test_a_profile_shows_identity_orders_and_no_scores_before_scoring(api: Api) -> None:
    ann = _shop(api)
    for reference in (ann, "shop-1", "ann@example.com"):
        response = api.client.get(f"/v1/customers/{reference}", headers=api.headers("read"))
        assert response.status_code == 200, response.text
        profile = response.json()
        assert profile["id"] == ann
    assert profile["email"] == "ann@example.com" and profile["first_name"] == "Ann"
    assert {"kind": "anonymous_id", "value": "anon-ann"} in profile["identities"]
    assert profile["scores"] is None
    orders = profile["orders"]
    assert orders["orders"] == 2
    assert orders["first_order_at"].startswith("2026-10-01")
    assert orders["last_order_at"].startswith("2026-11-01")
    assert orders["by_currency"] == [
        {
            "currency": "EUR",
            "orders": 2,
            "revenue_minor": 4250,
            "revenue": "42.50",
            "refunded_minor": 0,
            "refunded": "0.00",
            "average_order_value": "21.25",
        }
    ]


def test_a_profile_serves_the_latest_complete_scores_only(api: Api) -> None:
    ann = _shop(api)
    _score(api, ann)
    with api.database.unit_of_work() as uow:  # a newer version still being written
        building = uow.scores.begin_version(datetime(2026, 12, 1, tzinfo=UTC))
        uow.scores.add_scores(building.id, [CustomerScore(ann, segment="at_risk", clv=1.0)])
    scores = api.client.get(f"/v1/customers/{ann}", headers=api.headers("read")).json()["scores"]
    assert scores["as_of"].startswith("2026-11-30")
    assert (scores["segment"], scores["clv"], scores["churn_risk"]) == ("champions", 88.5, 0.12)
    assert scores["p_alive"] == 0.93 and scores["expected_next_order_at"] == "2026-12-20"
    assert scores["segments"] == ["champions", "repeat_buyers"]


def test_recommendations_come_from_the_scores_else_the_best_sellers(api: Api) -> None:
    ann = _shop(api)
    bo = api.client.get("/v1/customers/shop-2", headers=api.headers("read")).json()["id"]
    popular = api.client.get(
        f"/v1/customers/{ann}/recommendations", headers=api.headers("read")
    ).json()
    assert popular["source"] == "popular"
    assert [i["product_id"] for i in popular["items"]] == ["tea", "mug"]  # 3 and 2 orders
    _score(api, ann)
    mine = api.client.get(
        f"/v1/customers/{ann}/recommendations?k=1", headers=api.headers("read")
    ).json()
    assert mine["source"] == "scores"
    assert mine["items"] == [{"rank": 1, "product_id": "tea", "score": 0.9, "reason": "buy_again"}]
    theirs = api.client.get(
        f"/v1/customers/{bo}/recommendations", headers=api.headers("read")
    ).json()
    assert theirs["source"] == "popular"


def test_consents_are_recorded_and_shown_in_force(api: Api) -> None:
    ann = _shop(api)
    decisions = {
        "consents": [
            {
                "channel": "email",
                "status": "granted",
                "at": "2026-11-01T00:00:00Z",
                "source": "checkout",
                "address": "ann@example.com",
            },
            {
                "channel": "email",
                "status": "revoked",
                "at": "2026-11-05T00:00:00Z",
                "source": "unsubscribe link",
            },
            {"channel": "sms", "status": "denied"},
        ]
    }
    response = api.client.put(
        f"/v1/customers/{ann}/consents", headers=api.headers("write"), json=decisions
    )
    assert response.status_code == 200, response.text
    assert response.json()["consents"]["email"]["status"] == "revoked"
    profile = api.client.get(f"/v1/customers/{ann}", headers=api.headers("read")).json()
    assert profile["consents"]["email"]["source"] == "unsubscribe link"
    assert profile["consents"]["sms"]["status"] == "denied"
    bad = api.client.put(
        f"/v1/customers/{ann}/consents",
        headers=api.headers("write"),
        json={"consents": [{"channel": "email", "status": "maybe"}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "consents[0].status"


def test_an_unknown_customer_is_a_404_problem(api: Api) -> None:
    for path in ("/v1/customers/nobody", "/v1/customers/nobody/recommendations"):
        response = api.client.get(path, headers=api.headers("read"))
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "nobody" in response.json()["detail"]


def test_the_export_holds_everything(api: Api) -> None:
    ann = _shop(api)
    _score(api, ann)
    api.client.put(
        f"/v1/customers/{ann}/consents",
        headers=api.headers("write"),
        json={"consents": [{"channel": "email", "status": "granted", "source": "form"}]},
    )
    export = api.client.get(f"/v1/customers/{ann}/export", headers=api.headers("read")).json()
    assert export["customer"]["email"] == "ann@example.com"
    assert sorted(o["order_id"] for o in export["orders"]) == ["1001", "1002"]
    assert {e["message_id"] for e in export["events"]} == {"v-1", "i-1", "o-1", "o-2"}
    assert export["consents"][0]["channel"] == "email"
    assert export["scores"][0]["segment"] == "champions"


PERSONAL = ("ann@example.com", "shop-1", "anon-ann", "Ann", "Lee", "+3312345")


def _rows_holding(api: Api, values: tuple[str, ...]) -> list[tuple[str, Any]]:
    """Scan every column of every table for any of ``values``."""
    found = []
    with api.database.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                text = repr(tuple(row))
                for value in values:
                    if value in text:
                        found.append((table.name, value))
    return found


def test_erasure_leaves_no_personal_data_in_any_table_and_keeps_totals(api: Api) -> None:
    ann = _shop(api)
    _score(api, ann)
    api.client.put(
        f"/v1/customers/{ann}/consents",
        headers=api.headers("write"),
        json={
            "consents": [
                {
                    "channel": "email",
                    "status": "granted",
                    "source": "form",
                    "address": "ann@example.com",
                    "evidence": {"ip": "10.0.0.1"},
                }
            ]
        },
    )
    assert _rows_holding(api, PERSONAL)  # the scan sees them before
    with api.database.unit_of_work(read_only=True) as uow:
        totals_before = uow.orders.totals()
    response = api.client.delete(f"/v1/customers/{ann}", headers=api.headers("write"))
    assert response.status_code == 200, response.text
    assert response.json()["orders_kept_anonymously"] == 2
    assert _rows_holding(api, (*PERSONAL, "10.0.0.1")) == []
    with api.database.unit_of_work(read_only=True) as uow:
        assert uow.orders.totals() == totals_before
    for reference in (ann, "shop-1", "ann@example.com"):
        response = api.client.get(f"/v1/customers/{reference}", headers=api.headers("read"))
        assert response.status_code == 404
    bo = api.client.get("/v1/customers/shop-2", headers=api.headers("read"))
    assert bo.status_code == 200  # the other customer is untouched
