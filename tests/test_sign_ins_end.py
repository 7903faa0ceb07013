"""Sign-ins end when the account changes: a password, role or provider change and a deactivation
refuse every token issued before it (``user.token_version``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatch.auth.security import issue_token
from models import ProviderKind, Role, User
from tests.factories import PASSWORD, bearer, make_provider, make_user


def _user(session_factory, role: Role = Role.OPERATOR, **kw) -> User:
    with session_factory() as s:
        user = make_user(s, role=role, **kw)
        s.commit()
    return user


def _me(client, headers: dict[str, str]) -> int:
    return client.get("/api/v1/me", headers=headers).status_code


@pytest.mark.parametrize(
    "change",
    [
        {"password": "a-new-password"},
        {"role": "supervisor"},
        {"active": False},
    ],
    ids=["password", "role", "deactivation"],
)
def test_old_tokens_are_refused_after_the_change(client, login, session_factory, settings, change) -> None:
    admin = login(Role.ADMIN)
    user = _user(session_factory)
    old = bearer(user, settings)
    assert _me(client, old) == 200
    r = client.patch(f"/api/v1/users/{user.id}", json=change, headers=admin)
    assert r.status_code == 200, r.text
    refused = client.get("/api/v1/me", headers=old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "not_authenticated" and refused.json()["message"]
    if change.get("active") is False:
        return
    # Signing in again gives a token that works.
    password = change.get("password", PASSWORD)
    r = client.post("/api/v1/auth/token", data={"username": user.username, "password": password})
    assert r.status_code == 200
    assert _me(client, {"Authorization": f"Bearer {r.json()['access_token']}"}) == 200


def test_a_provider_change_ends_the_sign_in(client, login, session_factory, settings) -> None:
    admin = login(Role.ADMIN)
    with session_factory() as s:
        first = make_provider(s, kind=ProviderKind.WORKER)
        second = make_provider(s, kind=ProviderKind.WORKER)
        user = make_user(s, role=Role.WORKER, provider_id=first.id)
        s.commit()
    old = bearer(user, settings)
    assert _me(client, old) == 200
    r = client.patch(f"/api/v1/users/{user.id}", json={"provider_id": second.id}, headers=admin)
    assert r.status_code == 200, r.text
    assert _me(client, old) == 401


def test_changes_that_grant_nothing_keep_the_sign_in(client, login, session_factory, settings) -> None:
    admin = login(Role.ADMIN)
    user = _user(session_factory)
    token = bearer(user, settings)
    for change in ({"display_name": "新名字"}, {"extension": "3001"}, {"role": "operator"}, {"active": True}):
        assert client.patch(f"/api/v1/users/{user.id}", json=change, headers=admin).status_code == 200
        assert _me(client, token) == 200, change


def test_an_admin_setting_their_own_password_signs_in_again(client, session_factory, settings) -> None:
    admin = _user(session_factory, Role.ADMIN)
    headers = bearer(admin, settings)
    r = client.patch(f"/api/v1/users/{admin.id}", json={"password": "my-new-password"}, headers=headers)
    assert r.status_code == 200  # the change itself is answered…
    assert _me(client, headers) == 401  # …and the session it came from is over


def test_a_token_without_a_version_is_refused(client, session_factory, settings) -> None:
    import jwt

    user = _user(session_factory)
    now = datetime.now(UTC)
    legacy = jwt.encode(
        {"sub": str(user.id), "role": "operator", "iat": now, "exp": now.timestamp() + 600},
        settings.auth.jwt_secret,
        algorithm="HS256",
    )
    assert _me(client, {"Authorization": f"Bearer {legacy}"}) == 401
    current = issue_token(
        user_id=user.id, role="operator", version=0, secret=settings.auth.jwt_secret, now=now, minutes=10
    )
    assert _me(client, {"Authorization": f"Bearer {current}"}) == 200
    ahead = issue_token(
        user_id=user.id, role="operator", version=1, secret=settings.auth.jwt_secret, now=now, minutes=10
    )
    assert _me(client, {"Authorization": f"Bearer {ahead}"}) == 401
