"""Sign-in, tokens, and role checks on every router."""

from __future__ import annotations

import pytest

from dispatch.app import create_app
from models import Role
from tests.factories import PASSWORD, make_user


def test_health_needs_no_auth(client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_openapi_and_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/auth/token" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_token_and_me(client, session_factory) -> None:
    with session_factory() as s:
        make_user(s, role=Role.SUPERVISOR, username="sup", extension=None)
        s.commit()
    r = client.post("/api/v1/auth/token", data={"username": "sup", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "sup"
    assert me.json()["role"] == "supervisor"


@pytest.mark.parametrize(
    ("username", "password"),
    [("sup", "wrong-password"), ("nobody", PASSWORD)],
    ids=["bad-password", "no-user"],
)
def test_bad_credentials_are_401(client, session_factory, username: str, password: str) -> None:
    with session_factory() as s:
        make_user(s, role=Role.SUPERVISOR, username="sup")
        s.commit()
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_credentials"


def test_inactive_user_cannot_sign_in(client, session_factory) -> None:
    with session_factory() as s:
        make_user(s, role=Role.OPERATOR, username="gone", active=False)
        s.commit()
    r = client.post("/api/v1/auth/token", data={"username": "gone", "password": PASSWORD})
    assert r.status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "Basic abc"])
def test_missing_or_bad_token_is_401(client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert set(r.json()) == {"error", "detail", "message"}


def test_token_signed_with_another_secret_is_401(client, session_factory) -> None:
    from datetime import UTC, datetime

    from dispatch.auth.security import issue_token

    with session_factory() as s:
        user = make_user(s, role=Role.ADMIN)
        s.commit()
    forged = issue_token(
        user_id=user.id, role="admin", version=0, secret="x" * 32, now=datetime.now(UTC), minutes=5
    )
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_expired_token_is_401(client, session_factory, settings) -> None:
    from datetime import UTC, datetime, timedelta

    from dispatch.auth.security import issue_token

    with session_factory() as s:
        user = make_user(s, role=Role.ADMIN)
        s.commit()
    old = datetime.now(UTC) - timedelta(hours=2)
    token = issue_token(
        user_id=user.id, role="admin", version=0, secret=settings.auth.jwt_secret, now=old, minutes=60
    )
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wrong_role_is_403(client, login) -> None:
    worker = login(Role.WORKER)
    r = client.get("/api/v1/providers", headers=worker)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"


def test_every_api_route_requires_auth(settings) -> None:
    """No /api route other than sign-in answers without a token."""
    from fastapi.testclient import TestClient

    app = create_app(settings)
    with TestClient(app) as c:
        for route in app.routes:
            path = getattr(route, "path", "")
            if not path.startswith("/api/") or path == "/api/v1/auth/token":
                continue
            for method in getattr(route, "methods", ()) - {"HEAD", "OPTIONS"}:
                concrete = path.replace("{", "").replace("}", "")
                concrete = "/".join(
                    "1" if part.endswith("_id") or part == "id" else part for part in concrete.split("/")
                )
                r = c.request(method, concrete)
                assert r.status_code == 401, f"{method} {path} answered {r.status_code} without a token"
