"""Staff accounts over HTTP: admins only; extensions unique; bad input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dispatch.auth.security import verify_password
from models import ProviderKind, Role, User
from tests.factories import make_provider


def test_only_admins_manage_users(client, login) -> None:
    for role in (Role.SUPERVISOR, Role.OPERATOR, Role.WORKER, Role.ORG_ADMIN):
        headers = login(role)
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        body = {"username": "x", "role": "operator", "password": "long-enough"}
        assert client.post("/api/v1/users", json=body, headers=headers).status_code == 403
        assert client.patch("/api/v1/users/1", json={"extension": "1009"}, headers=headers).status_code == 403


def test_create_list_and_edit_an_operator(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    body = {
        "username": "zhang",
        "role": "operator",
        "password": "long-enough",
        "display_name": "张坐席",
        "extension": "1003",
    }
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["username"], user["role"], user["extension"], user["active"]) == (
        "zhang",
        "operator",
        "1003",
        True,
    )
    found = client.get("/api/v1/users", params={"extension": "1003"}, headers=admin).json()
    assert [u["id"] for u in found["items"]] == [user["id"]]
    assert client.get("/api/v1/users", params={"q": "张"}, headers=admin).json()["total"] == 1
    r = client.patch(
        f"/api/v1/users/{user['id']}", json={"extension": "2001", "password": "another-pass"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["extension"] == "2001"
    with session_factory() as s:
        assert verify_password(s.get(User, user["id"]).password_hash, "another-pass")
    r = client.patch(f"/api/v1/users/{user['id']}", json={"extension": None, "active": False}, headers=admin)
    assert r.json()["extension"] is None and r.json()["active"] is False
    assert client.get(f"/api/v1/users/{user['id']}", headers=admin).json()["active"] is False


def test_an_extension_belongs_to_one_user(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    login(Role.OPERATOR, extension="1001")
    other = client.post(
        "/api/v1/users", json={"username": "li", "role": "operator", "password": "long-enough"}, headers=admin
    ).json()
    r = client.patch(f"/api/v1/users/{other['id']}", json={"extension": "1001"}, headers=admin)
    assert r.status_code == 409 and "1001" in r.json()["detail"]
    body = {"username": "wang", "role": "operator", "password": "long-enough", "extension": "1001"}
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 409
    with session_factory() as s:
        assert s.scalar(select(func.count(User.id)).where(User.username == "wang")) == 0
        assert s.get(User, other["id"]).extension is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "a", "role": "operator", "password": "short"}, 422),
        ({"username": "a", "role": "boss", "password": "long-enough"}, 422),
        ({"username": "a", "role": "operator", "password": "long-enough", "extension": "10 01"}, 422),
        ({"username": "a", "role": "worker", "password": "long-enough"}, 400),
        ({"username": "a", "role": "operator", "password": "long-enough", "provider_id": 999}, 400),
        ({"username": "a", "role": "operator", "password": "long-enough", "is_admin": True}, 422),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_written(
    client, login, session_factory, body, status
) -> None:
    admin = login(Role.ADMIN)
    with session_factory() as s:
        before = s.scalar(select(func.count(User.id)))
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == status and set(r.json()) == {"error", "detail", "message"}
    with session_factory() as s:
        assert s.scalar(select(func.count(User.id))) == before


def test_worker_accounts_act_for_their_provider(client, login, session_factory) -> None:
    with session_factory() as s:
        worker = make_provider(s)
        s.commit()
    body = {"username": "w1", "role": "worker", "password": "long-enough", "provider_id": worker.id}
    r = client.post("/api/v1/users", json=body, headers=login(Role.ADMIN))
    assert r.status_code == 201 and r.json()["provider_id"] == worker.id
    r = client.post("/api/v1/users", json=body, headers=login(Role.ADMIN))
    assert r.status_code == 409 and r.json()["error"] == "user_exists"


def test_admins_cannot_lock_themselves_out(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    me = client.get("/api/v1/me", headers=admin).json()
    r = client.patch(f"/api/v1/users/{me['id']}", json={"active": False}, headers=admin)
    assert r.status_code == 400
    assert client.patch("/api/v1/users/99999", json={"active": True}, headers=admin).status_code == 404


def test_admins_move_an_account_to_another_role(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    with session_factory() as s:
        org = make_provider(s, kind=ProviderKind.ORGANISATION)
        worker = make_provider(s)
        s.commit()
        org_id, worker_id = org.id, worker.id
    body = {"username": "li", "role": "operator", "password": "long-enough"}
    user = client.post("/api/v1/users", json=body, headers=admin).json()

    def patch(**change):
        return client.patch(f"/api/v1/users/{user['id']}", json=change, headers=admin)

    r = patch(role="worker")  # a worker acts for a worker: which one?
    assert r.status_code == 400 and "needs" in r.json()["detail"]
    assert patch(role="worker", provider_id=org_id).status_code == 400  # an organisation
    assert patch(provider_id=worker_id).status_code == 400  # an operator acts for nobody
    r = patch(role="worker", provider_id=worker_id)
    assert r.status_code == 200 and (r.json()["role"], r.json()["provider_id"]) == ("worker", worker_id)
    r = patch(role="org_admin", provider_id=org_id)
    assert (r.json()["role"], r.json()["provider_id"]) == ("org_admin", org_id)
    r = patch(role="supervisor")  # back to staff: the provider goes with the old role
    assert (r.json()["role"], r.json()["provider_id"]) == ("supervisor", None)
    with session_factory() as s:
        row = s.get(User, user["id"])
        assert (row.role, row.provider_id) == (Role.SUPERVISOR, None)
    me = client.get("/api/v1/me", headers=admin).json()
    r = client.patch(f"/api/v1/users/{me['id']}", json={"role": "operator"}, headers=admin)
    assert r.status_code == 400 and "own role" in r.json()["detail"]
    assert patch(role=None).status_code == 400
