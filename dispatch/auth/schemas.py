"""Account payloads: the token, and a staff account as its owner and admins see it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from models import User


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    provider_id: int | None
    extension: str | None


def me_out(user: User) -> MeOut:
    return MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role.value,
        provider_id=user.provider_id,
        extension=user.extension,
    )


class AttemptOut(BaseModel):
    id: int
    at: datetime
    username: str
    address: str
    success: bool
    outcome: str
    user_id: int | None


class AttemptList(BaseModel):
    items: list[AttemptOut]
    total: int
