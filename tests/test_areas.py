"""GET /api/v1/areas: the administrative areas by name, for pickers."""

from __future__ import annotations

import pytest

from models import Role
from tests.factories import make_small_district


@pytest.fixture
def district(session_factory) -> dict[str, int]:
    with session_factory() as s:
        ids = make_small_district(s)
        s.commit()
    return ids


def test_communities_and_grids_by_name(client, district, login) -> None:
    org_admin = login(Role.ORG_ADMIN)  # picks the communities their workers serve
    r = client.get("/api/v1/areas", params={"kind": "community"}, headers=org_admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"]) == 2
    assert {a["id"] for a in body["items"]} == {district["c1"], district["c2"]}
    assert all(a["kind"] == "community" and a["name"] and a["code"] for a in body["items"])
    grids = client.get("/api/v1/areas", params={"parent_id": district["c2"]}, headers=org_admin).json()
    assert [(a["id"], a["kind"], a["name"]) for a in grids["items"]] == [
        (district["g2"], "grid", "文新第1网格")
    ]
    everything = client.get("/api/v1/areas", headers=login(Role.OPERATOR)).json()
    assert {a["kind"] for a in everything["items"]} == {"district", "street", "community", "grid"}
    codes = [a["code"] for a in everything["items"]]
    assert codes == sorted(codes)


def test_who_may_list_areas(client, district, login) -> None:
    assert client.get("/api/v1/areas").status_code == 401
    assert client.get("/api/v1/areas", headers=login(Role.WORKER)).status_code == 403
    r = client.get("/api/v1/areas", params={"kind": "county"}, headers=login(Role.ADMIN))
    assert r.status_code in (400, 422) and set(r.json()) >= {"error", "detail"}
