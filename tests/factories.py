"""Small factories with keyword defaults for test data."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from dispatch.auth.security import hash_password
from models import Provider, ProviderKind, ProviderService, Role, User

_seq = itertools.count(1)
PASSWORD = "secret-pass-1"
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for the whole run


def make_user(
    session: Session, *, role: Role = Role.OPERATOR, username: str | None = None, **kw: Any
) -> User:
    user = User(
        username=username or f"{role.value}{next(_seq)}",
        role=role,
        password_hash=_HASH,
        display_name=kw.pop("display_name", "Test User"),
        **kw,
    )
    session.add(user)
    session.flush()
    return user


def make_provider(
    session: Session,
    *,
    kind: ProviderKind = ProviderKind.WORKER,
    name: str | None = None,
    lat: float = 30.27,
    lon: float = 120.13,
    item_ids: tuple[int, ...] = (),
    category_ids: tuple[int, ...] = (),
    **kw: Any,
) -> Provider:
    provider = Provider(kind=kind, name=name or f"provider {next(_seq)}", lat=lat, lon=lon, **kw)
    provider.services = [ProviderService(item_id=i) for i in item_ids] + [
        ProviderService(category_id=c) for c in category_ids
    ]
    session.add(provider)
    session.flush()
    return provider
