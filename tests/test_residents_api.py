"""Resident lookup by phone and by name/address, profile with history, tag edits, roles."""

from __future__ import annotations

import pytest

from models import Resident, ResidentPhone, Role


@pytest.fixture
def residents(session_factory) -> dict[str, int]:
    with session_factory() as s:
        a = Resident(
            name="张秀英", address="文二路168号 翠苑一区 3幢2单元501室", tags=["独居老人"], consent=True
        )
        a.phones.append(ResidentPhone(e164="+8613800138000", is_primary=True))
        b = Resident(name="王建国", address="学院路77号 文新家园 5幢1单元302室")
        b.phones.append(ResidentPhone(e164="+8657188881234"))
        s.add_all([a, b])
        s.commit()
        return {"a": a.id, "b": b.id}


def test_lookup_by_phone_any_format(client, residents, login) -> None:
    headers = login(Role.OPERATOR)
    for raw in ("13800138000", "+86 138-0013-8000", "0086 13800138000"):
        body = client.get("/api/v1/residents", params={"phone": raw}, headers=headers).json()
        assert body["total"] == 1 and body["items"][0]["id"] == residents["a"]
    assert (
        client.get("/api/v1/residents", params={"phone": "13900000000"}, headers=headers).json()["total"] == 0
    )
    r = client.get("/api/v1/residents", params={"phone": "12345"}, headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "invalid_phone"


@pytest.mark.parametrize(
    ("q", "who"), [("张秀英", "a"), ("张秀", "a"), ("张秀瑛", "a"), ("文新家园", "b"), ("翠苑一区3幢", "a")]
)
def test_fuzzy_search(client, residents, login, q: str, who: str) -> None:
    body = client.get("/api/v1/residents", params={"q": q}, headers=login(Role.OPERATOR)).json()
    assert body["items"], q
    assert body["items"][0]["id"] == residents[who]


def test_search_needs_exactly_one_of_phone_or_q(client, residents, login) -> None:
    headers = login(Role.OPERATOR)
    assert client.get("/api/v1/residents", headers=headers).status_code == 400
    assert (
        client.get(
            "/api/v1/residents", params={"q": "张", "phone": "13800138000"}, headers=headers
        ).status_code
        == 400
    )


def test_profile_and_tag_edit(client, residents, login) -> None:
    headers = login(Role.OPERATOR)
    detail = client.get(f"/api/v1/residents/{residents['a']}", headers=headers).json()
    assert detail["name"] == "张秀英" and detail["tags"] == ["独居老人"]
    assert detail["orders"] == [] and detail["calls"] == [] and detail["open_orders"] == []
    r = client.patch(
        f"/api/v1/residents/{residents['a']}", json={"tags": ["独居老人", "残疾"]}, headers=headers
    )
    assert r.status_code == 200 and r.json()["tags"] == ["独居老人", "残疾"]
    r = client.patch(f"/api/v1/residents/{residents['a']}", json={"tags": ["有钱人"]}, headers=headers)
    assert r.status_code == 422
    assert client.get("/api/v1/residents/99999", headers=headers).status_code == 404


def test_history_after_intake(client, residents, login, session_factory) -> None:
    from tests.factories import load_catalogue

    with session_factory() as s:
        load_catalogue(s)
        s.commit()
    headers = login(Role.OPERATOR)
    order = client.post(
        "/api/v1/orders",
        json={"caller_phone": "13800138000", "description": "家里马桶堵了", "channel": "phone"},
        headers=headers,
    ).json()
    assert order["resident_id"] == residents["a"]
    detail = client.get(f"/api/v1/residents/{residents['a']}", headers=headers).json()
    assert [o["number"] for o in detail["open_orders"]] == [order["number"]]


def test_providers_cannot_read_personal_data(client, residents, login) -> None:
    for role in (Role.WORKER, Role.ORG_ADMIN):
        assert client.get(f"/api/v1/residents/{residents['a']}", headers=login(role)).status_code == 403
