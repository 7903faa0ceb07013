"""Phone extensions belong to call-taking roles (admin, supervisor, operator) only: a worker is never
given one, a role change clears it, and a ringing extension pops personal data only on a
call-taking role's console."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from dispatch import migrate
from dispatch.calls.events import CallRinging
from dispatch.calls.ingest import CallIngest
from dispatch.db import make_engine
from dispatch.live.hub import EventHub
from models import Call, ProviderKind, Role, User
from tests.factories import make_provider, make_user

RANG_AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _worker_provider(session_factory) -> int:
    with session_factory() as s:
        provider = make_provider(s, kind=ProviderKind.WORKER)
        s.commit()
        return provider.id


def test_a_worker_cannot_be_given_an_extension(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    pid = _worker_provider(session_factory)
    body = {
        "username": "w1",
        "role": "worker",
        "password": "long-enough",
        "provider_id": pid,
        "extension": "7197",
    }
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_user" and "分机" in r.json()["message"]
    with session_factory() as s:
        assert s.scalar(select(User).where(User.username == "w1")) is None
    worker = client.post("/api/v1/users", json={**body, "extension": None}, headers=admin).json()
    r = client.patch(f"/api/v1/users/{worker['id']}", json={"extension": "7197"}, headers=admin)
    assert r.status_code == 400 and "extension" in r.json()["detail"]
    with session_factory() as s:
        assert s.get(User, worker["id"]).extension is None


def test_a_role_change_clears_the_extension(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    pid = _worker_provider(session_factory)
    body = {"username": "op", "role": "operator", "password": "long-enough", "extension": "7197"}
    op = client.post("/api/v1/users", json=body, headers=admin).json()
    assert op["extension"] == "7197"
    r = client.patch(f"/api/v1/users/{op['id']}", json={"role": "worker", "provider_id": pid}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "worker" and r.json()["extension"] is None
    # A demotion that tries to keep it is refused as a whole.
    r = client.patch(
        f"/api/v1/users/{op['id']}", json={"role": "org_admin", "extension": "7197"}, headers=admin
    )
    assert r.status_code == 400
    # Another call-taking role gets the extension only when it is given again, in the same change.
    r = client.patch(
        f"/api/v1/users/{op['id']}", json={"role": "supervisor", "extension": "7197"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["extension"] == "7197"
    r = client.patch(f"/api/v1/users/{op['id']}", json={"role": "operator"}, headers=admin)
    assert r.json()["extension"] is None


def _ring(ext: str, call_id: str) -> CallRinging:
    return CallRinging(call_id, "simulator", "13800138000", "12345", "hotline", ext, RANG_AT)


class PopSpy(EventHub):
    """The hub, remembering whom each screen pop was published to."""

    def __init__(self) -> None:
        super().__init__()
        self.pops: list[frozenset[str]] = []

    def publish(self, targets, event, data):  # type: ignore[no-untyped-def]
        message = super().publish(targets, event, data)
        if event == "screen_pop":
            self.pops.append(message.targets)
        return message


def _pops(ingest: CallIngest, hub: PopSpy, ext: str, call_id: str) -> bool:
    """Ring ``ext``: True when a screen pop was published."""
    before = len(hub.pops)
    ingest.pop(_ring(ext, call_id))
    return len(hub.pops) > before


@pytest.mark.parametrize("role", [Role.WORKER, Role.ORG_ADMIN])
def test_no_pop_and_no_call_for_an_extension_left_on_another_role(session_factory, role) -> None:
    """An account left with an extension from before the rule (or written around it) is not rung."""
    with session_factory() as s:
        pid = make_provider(
            s, kind=ProviderKind.WORKER if role == Role.WORKER else ProviderKind.ORGANISATION
        ).id
        make_user(s, role=role, provider_id=pid, extension="7197")
        make_user(s, role=Role.OPERATOR, extension="1001")
        s.commit()
    hub = PopSpy()
    ingest = CallIngest(session_factory, hub, region="CN")
    assert not _pops(ingest, hub, "7197", "C1")
    assert _pops(ingest, hub, "1001", "C2")  # the same path pops an operator
    ingest.store(_ring("7197", "C1"))
    with session_factory() as s:
        call = s.scalar(select(Call).where(Call.external_id == "C1"))
        assert call is not None and call.operator_id is None


def test_a_demoted_operator_gets_no_pop(client, login, session_factory) -> None:
    admin = login(Role.ADMIN)
    pid = _worker_provider(session_factory)
    body = {"username": "op", "role": "operator", "password": "long-enough", "extension": "7197"}
    op = client.post("/api/v1/users", json=body, headers=admin).json()
    hub = PopSpy()
    ingest = CallIngest(session_factory, hub, region="CN")
    assert _pops(ingest, hub, "7197", "D1") and hub.pops[-1] == {f"user:{op['id']}"}
    client.patch(f"/api/v1/users/{op['id']}", json={"role": "worker", "provider_id": pid}, headers=admin)
    assert not _pops(ingest, hub, "7197", "D2")


def test_the_migration_clears_extensions_left_on_other_roles(sqlite_url: str) -> None:
    migrate.downgrade(sqlite_url, "0004")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        for name, role, ext in (("w", "worker", "7197"), ("o", "operator", "1001"), ("a", "org_admin", "9")):
            conn.execute(
                text(
                    'INSERT INTO "user" (username, display_name, role, password_hash, extension, active, '
                    "token_version, created_at, updated_at) VALUES (:n, :n, :r, 'x', :e, 1, 0, "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"n": name, "r": role, "e": ext},
            )
    engine.dispose()
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text('SELECT username, extension FROM "user"')).all())
    engine.dispose()
    assert rows == {"w": None, "o": "1001", "a": None}
