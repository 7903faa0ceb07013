"""Sign-in (OAuth2 password flow) and the current user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from dispatch.auth.schemas import MeOut, TokenOut, me_out
from dispatch.auth.security import issue_token, verify_password
from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import NotAuthenticated
from models import User

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=TokenOut)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Ctx, db: Db) -> TokenOut:
    user = db.scalar(select(User).where(User.username == form.username))
    if user is None or not user.active or not verify_password(user.password_hash, form.password):
        raise NotAuthenticated(
            "wrong username or password", code="invalid_credentials", message="用户名或密码错误，请重新输入"
        )
    minutes = ctx.settings.auth.token_minutes
    access = issue_token(
        user_id=user.id,
        role=user.role.value,
        version=user.token_version,
        secret=ctx.settings.auth.jwt_secret,
        # Token lifetimes follow the real clock, not the business clock tests may freeze.
        now=datetime.now(UTC),
        minutes=minutes,
    )
    return TokenOut(access_token=access, expires_in=minutes * 60)


@router.get("/me", response_model=MeOut)
def me(user: Annotated[User, Depends(require_roles(*ALL_ROLES))]) -> MeOut:
    return me_out(user)
