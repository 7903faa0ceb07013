"""Provider registration, editing, listing, validation and who may manage whom."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Provider, ProviderKind, Role
from tests.factories import load_catalogue, make_provider, make_small_district


@pytest.fixture
def world(session_factory) -> dict[str, int]:
    with session_factory() as s:
        load_catalogue(s)
        ids = make_small_district(s)
        s.commit()
    return ids


def org_body(**kw) -> dict:
    body = {
        "kind": "organisation",
        "name": "安心家政服务有限公司",
        "phone": "0571-88881234",
        "categories": ["HOME"],
        "lat": 30.29,
        "lon": 120.12,
        "radius_km": 6,
        "capacity": 10,
        "working_hours": {"mon": [["08:30", "17:30"]], "sat": [["09:00", "12:00"]]},
    }
    body.update(kw)
    return body


def test_register_and_read_organisation_and_worker(client, world, login) -> None:
    admin = login(Role.ADMIN)
    r = client.post("/api/v1/providers", json=org_body(), headers=admin)
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["phone"] == "+8657188881234" and org["categories"] == ["HOME"] and org["items"] == []
    worker = client.post(
        "/api/v1/providers",
        json={
            "kind": "worker",
            "name": "李师傅",
            "phone": "13812345678",
            "items": ["HOME-01", "HOME-02"],
            "lat": 30.291,
            "lon": 120.121,
            "radius_km": 3,
            "capacity": 3,
            "organisation_id": org["id"],
        },
        headers=admin,
    ).json()
    assert worker["organisation_id"] == org["id"] and worker["items"] == ["HOME-01", "HOME-02"]
    got = client.get(f"/api/v1/providers/{worker['id']}", headers=login(Role.OPERATOR)).json()
    assert got["name"] == "李师傅" and got["open_count"] == 0 and got["status"] == "active"
    listing = client.get("/api/v1/providers", params={"kind": "worker"}, headers=admin).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == worker["id"]


def test_gcj02_base_is_converted(client, world, login) -> None:
    r = client.post(
        "/api/v1/providers",
        json=org_body(lat=30.2880, lon=120.1252, coord_system="gcj02"),
        headers=login(Role.ADMIN),
    )
    assert r.status_code == 201
    assert r.json()["lat"] != pytest.approx(30.2880, abs=1e-4)


def test_community_service_area(client, world, login) -> None:
    r = client.post("/api/v1/providers", json=org_body(communities=[world["c1"]]), headers=login(Role.ADMIN))
    assert r.status_code == 201 and r.json()["communities"] == [world["c1"]]
    bad = client.post(
        "/api/v1/providers", json=org_body(communities=[world["g1"]]), headers=login(Role.ADMIN)
    )
    assert bad.status_code == 400 and "community" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"kind": "robot"}, 422, "kind"),
        ({"name": ""}, 422, "name"),
        ({"lat": 95}, 422, "lat"),
        ({"radius_km": 0}, 422, "radius_km"),
        ({"capacity": -1}, 422, "capacity"),
        ({"categories": [], "items": []}, 422, "items"),
        ({"items": ["NOPE-1"]}, 400, "items"),
        ({"categories": ["NOPE"]}, 400, "categories"),
        ({"phone": "123"}, 400, "phone"),
        ({"working_hours": {"funday": [["08:00", "09:00"]]}}, 422, "working_hours"),
        ({"working_hours": {"mon": [["18:00", "08:00"]]}}, 422, "working_hours"),
        ({"working_hours": {"mon": [["8am", "9am"]]}}, 422, "working_hours"),
        ({"organisation_id": 5}, 422, "organisation_id"),
        ({"open_count": 3}, 422, "open_count"),
    ],
)
def test_bad_registrations_write_nothing(
    client, world, login, session_factory, change, status, field
) -> None:
    r = client.post("/api/v1/providers", json=org_body(**change), headers=login(Role.ADMIN))
    assert r.status_code == status, r.text
    assert field in r.json()["detail"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Provider)) == 0


def test_edit_items_capacity_and_suspend(client, world, login) -> None:
    admin = login(Role.ADMIN)
    org = client.post("/api/v1/providers", json=org_body(), headers=admin).json()
    r = client.patch(
        f"/api/v1/providers/{org['id']}",
        json={"items": ["HOME-04"], "categories": [], "capacity": 2, "status": "suspended"},
        headers=login(Role.SUPERVISOR),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["items"] == ["HOME-04"] and body["categories"] == [] and body["capacity"] == 2
    assert body["status"] == "suspended"
    r = client.patch(f"/api/v1/providers/{org['id']}", json={"items": [], "categories": []}, headers=admin)
    assert r.status_code == 400
    assert (
        client.patch(f"/api/v1/providers/{org['id']}", json={"lat": 30.3}, headers=admin).status_code == 422
    )
    assert client.patch("/api/v1/providers/99999", json={"capacity": 1}, headers=admin).status_code == 404


def test_org_admin_manages_own_workers_only(client, world, login, session_factory) -> None:
    with session_factory() as s:
        mine = make_provider(s, kind=ProviderKind.ORGANISATION, name="我的机构", category_ids=())
        other = make_provider(s, kind=ProviderKind.ORGANISATION, name="别人的机构")
        their_worker = make_provider(s, name="别人的社工", organisation_id=other.id)
        s.commit()
        mine_id, other_id, their_worker_id = mine.id, other.id, their_worker.id
    org_admin = login(Role.ORG_ADMIN, provider_id=mine_id)
    body = {"kind": "worker", "name": "新社工", "items": ["HOME-01"], "lat": 30.29, "lon": 120.12}
    r = client.post("/api/v1/providers", json=body, headers=org_admin)
    assert r.status_code == 201 and r.json()["organisation_id"] == mine_id  # placed in their own organisation
    new_worker = r.json()["id"]
    assert (
        client.post(
            "/api/v1/providers", json={**body, "organisation_id": other_id}, headers=org_admin
        ).status_code
        == 403
    )
    assert client.post("/api/v1/providers", json=org_body(), headers=org_admin).status_code == 403
    assert (
        client.patch(f"/api/v1/providers/{new_worker}", json={"capacity": 4}, headers=org_admin).status_code
        == 200
    )
    assert (
        client.patch(
            f"/api/v1/providers/{their_worker_id}", json={"capacity": 4}, headers=org_admin
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/providers/{mine_id}", json={"status": "suspended"}, headers=org_admin
        ).status_code
        == 403
    )
    seen = {p["id"] for p in client.get("/api/v1/providers", headers=org_admin).json()["items"]}
    assert seen == {mine_id, new_worker}
    assert client.get(f"/api/v1/providers/{their_worker_id}", headers=org_admin).status_code == 404


def test_roles_that_cannot_register(client, world, login) -> None:
    for role in (Role.OPERATOR, Role.WORKER):
        assert client.post("/api/v1/providers", json=org_body(), headers=login(role)).status_code == 403
    assert client.get("/api/v1/providers", headers=login(Role.WORKER)).status_code == 403
