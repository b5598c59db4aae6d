"""GET /v1/segments and /v1/segments/{name}/customers (cursor paging)."""

from __future__ import annotations

from datetime import UTC, datetime

from api_support import Api

from regulars.store import CustomerScore


def _customers(api: Api, n: int) -> list[str]:
    with api.database.unit_of_work() as uow:
        return [uow.customers.resolve(external_id=f"c{i:03d}").customer.id for i in range(n)]


def _version(api: Api, ids: list[str], day: int, at_risk_every: int = 3) -> int:
    scores = [
        CustomerScore(
            cid,
            segment="loyal" if i % 2 else "new",
            clv=float(i),
            at_risk=i % at_risk_every == 0,
            extra={"segments": ["at_risk"] if i % at_risk_every == 0 else []},
        )
        for i, cid in enumerate(ids)
    ]
    with api.database.unit_of_work() as uow:
        version = uow.scores.write_version(datetime(2026, 11, day, tzinfo=UTC), scores)
    return version.id


def test_no_scores_yet_lists_no_segments(api: Api) -> None:
    body = api.client.get("/v1/segments", headers=api.headers("read")).json()
    assert body == {"version": None, "as_of": None, "segments": []}
    response = api.client.get("/v1/segments/loyal/customers", headers=api.headers("read"))
    assert response.status_code == 404 and "regulars score" in response.json()["detail"]


def test_segments_list_names_and_sizes(api: Api) -> None:
    ids = _customers(api, 30)
    _version(api, ids, 1)
    body = api.client.get("/v1/segments", headers=api.headers("read")).json()
    sizes = {s["name"]: s["customers"] for s in body["segments"]}
    assert sizes == {"new": 15, "loyal": 15, "at_risk": 10}


def test_paging_walks_every_customer_once_on_one_version(api: Api) -> None:
    ids = _customers(api, 45)
    _version(api, ids, 1)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get(
            "/v1/segments/loyal/customers", headers=api.headers("read"), params=params
        ).json()
        pages += 1
        seen += [item["customer_id"] for item in page["items"]]
        assert all(item["segment"] == "loyal" for item in page["items"])
        if pages == 2:  # a new version written mid-walk does not change the walk
            _version(api, ids, 2, at_risk_every=2)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = sorted(cid for i, cid in enumerate(ids) if i % 2)
    assert seen == expected and pages == 4  # 22 customers, 7 a page
    fresh = api.client.get(
        "/v1/segments/at_risk/customers", headers=api.headers("read"), params={"limit": 100}
    ).json()
    assert fresh["customers"] == 23 and fresh["next_cursor"] is None


def test_bad_cursors_and_unknown_segments_are_clear_problems(api: Api) -> None:
    ids = _customers(api, 5)
    _version(api, ids, 1)
    headers = api.headers("read")
    response = api.client.get("/v1/segments/loyal/customers?cursor=bm9wZQ", headers=headers)
    assert response.status_code == 422 and "next_cursor" in response.json()["detail"]
    response = api.client.get("/v1/segments/nope/customers", headers=headers)
    assert response.status_code == 404 and "/v1/segments" in response.json()["detail"]
    page = api.client.get("/v1/segments/new/customers?limit=1", headers=headers).json()
    other = api.client.get(
        f"/v1/segments/loyal/customers?cursor={page['next_cursor']}", headers=headers
    )
    assert other.status_code == 422
