"""Sign-in (OAuth2 password flow), the current user, and the sign-in records admins read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from dispatch.auth.schemas import AttemptList, AttemptOut, MeOut, TokenOut, me_out
from dispatch.auth.security import issue_token
from dispatch.auth.signin import sign_in
from dispatch.auth.throttle import ThrottleRules
from dispatch.deps import ALL_ROLES, ClientAddress, Ctx, Db, require_roles
from dispatch.inputs import AwareTime
from dispatch.pagination import Page, paginate
from dispatch.settings import AuthSettings
from models import LoginAttempt, Role, User

router = APIRouter(prefix="/api/v1", tags=["auth"])


def throttle_rules(auth: AuthSettings) -> ThrottleRules:
    return ThrottleRules(
        window=timedelta(minutes=auth.failure_window_minutes),
        per_account_address=auth.max_failures_per_account_address,
        per_address=auth.max_failures_per_address,
        per_account=auth.max_failures_per_account,
        known_address_for=timedelta(days=auth.known_address_days),
        base_seconds=auth.lockout_base_seconds,
        max_seconds=auth.lockout_max_seconds,
    )


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={429: {"description": "Too many failed sign-ins: try again after Retry-After seconds"}},
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: Ctx, address: ClientAddress
) -> TokenOut:
    """A bearer token for the account. Every attempt is recorded (``GET /api/v1/auth/attempts``);
    repeated failures are throttled (429 with ``Retry-After``, whatever the password)."""
    auth = ctx.settings.auth
    signed = await sign_in(
        ctx.sessions,
        username=form.username,
        password=form.password,
        address=address,
        now=ctx.clock.now(),
        rules=throttle_rules(auth),
        checks=ctx.password_limiter(),
        lockouts=ctx.lockouts,
        throttled_delay=auth.throttled_answer_delay_seconds,
    )
    access = issue_token(
        user_id=signed.user_id,
        role=signed.role.value,
        version=signed.token_version,
        secret=auth.jwt_secret,
        # Token lifetimes follow the real clock, not the business clock tests may freeze.
        now=datetime.now(UTC),
        minutes=auth.token_minutes,
    )
    return TokenOut(access_token=access, expires_in=auth.token_minutes * 60)


@router.get("/me", response_model=MeOut)
def me(user: Annotated[User, Depends(require_roles(*ALL_ROLES))]) -> MeOut:
    return me_out(user)


@router.get("/auth/attempts", response_model=AttemptList)
def attempts(
    db: Db,
    _admin: Annotated[User, Depends(require_roles(Role.ADMIN))],
    page: Page,
    username: Annotated[str | None, Query(max_length=50, description="the user name as typed")] = None,
    address: Annotated[str | None, Query(max_length=64, description="the client's IP address")] = None,
    success: Annotated[bool | None, Query(description="true: signed in; false: refused")] = None,
    from_: Annotated[
        AwareTime | None, Query(alias="from", description="at or after (ISO 8601, with a time zone)")
    ] = None,
    to: Annotated[AwareTime | None, Query(description="before (ISO 8601, with a time zone)")] = None,
) -> AttemptList:
    """Sign-in attempts, newest first: who tried which account from where, and what came of it
    (``ok``, ``wrong_password``, ``unknown_user``, ``inactive``, ``throttled``; ``pending`` while
    the password is being checked)."""
    stmt = select(LoginAttempt).order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
    if username:
        stmt = stmt.where(LoginAttempt.username == username.strip())
    if address:
        stmt = stmt.where(LoginAttempt.address == address.strip())
    if success is not None:
        stmt = stmt.where(LoginAttempt.success.is_(success))
    if from_ is not None:
        stmt = stmt.where(LoginAttempt.at >= from_)
    if to is not None:
        stmt = stmt.where(LoginAttempt.at < to)
    rows, total = paginate(db, stmt, page)
    return AttemptList(items=[AttemptOut.model_validate(r, from_attributes=True) for r in rows], total=total)
