"""Request dependencies: the transaction, the current user and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from dispatch.auth.addresses import client_address
from dispatch.auth.security import read_resident_token, read_token
from dispatch.context import AppContext
from dispatch.db import take_later, transaction
from dispatch.errors import Forbidden, NotAuthenticated, NotFound, role_refused
from dispatch.selfservice import accounts
from dispatch.selfservice.accounts import SignedInResident
from models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in the
# thread pool, and each such hop costs a thread switch on every request.
async def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_context)]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_db(ctx: Ctx, request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    A request that only reads (GET) gets a read-only session: on SQLite a deferred transaction
    that takes no writer lock, so reads never queue behind writers (a login flood, a burst of
    intake). Rows it hands over with ``db.write_later`` (access records) are written in a short
    transaction of their own once the read is over. Other requests get a write transaction, which
    on SQLite takes the process's writer lock at its first statement: heavy work (password
    hashing, classification, geocoding, ranking) belongs before that.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client
    never sees success for a change that failed to commit.

    Opening a session does no I/O (the connection is taken on first use), so it happens on the
    event loop; only the end, commit or rollback and close, goes to a worker thread. That thread
    comes from its own limiter, as FastAPI does for ``def`` dependencies: a request waiting to
    commit must never wait behind requests that wait for its write lock.
    """
    reads = request.method in READ_METHODS
    session = ctx.read_sessions() if reads else ctx.sessions()
    try:
        yield session
    except BaseException:
        with CancelScope(shield=True):
            await anyio.to_thread.run_sync(_finish, session, False, None, limiter=CapacityLimiter(1))
        raise
    with CancelScope(shield=True):
        later = ctx.sessions if reads else None
        await anyio.to_thread.run_sync(_finish, session, not reads, later, limiter=CapacityLimiter(1))


def _finish(session: Session, commit: bool, later: sessionmaker[Session] | None) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        rows = take_later(session)
        session.close()
    if rows and later is not None:
        with transaction(later) as writer:
            writer.add_all(rows)


Db = Annotated[Session, Depends(get_db, scope="function")]


def get_current_user(ctx: Ctx, db: Db, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    """The token's user, while the token is valid and its sign-in has not ended (the account's
    ``token_version`` is still the token's: no password, role or provider change, no deactivation)."""
    if not token:
        raise NotAuthenticated("sign in first: send an Authorization: Bearer token", message="请先登录")
    claims = read_token(token, secret=ctx.settings.auth.jwt_secret)
    user = db.get(User, claims.user_id) if claims is not None else None
    if user is None or not user.active or user.token_version != claims.version:
        raise NotAuthenticated(
            "the access token is invalid, has expired or was revoked",
            message="登录已失效或账号已变更，请重新登录",
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_client_address(request: Request, ctx: Ctx) -> str:
    """The client's IP address: the socket peer, or what ``[server] trusted_proxies`` say it is."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, tuple(ctx.settings.server.trusted_proxies))


ClientAddress = Annotated[str, Depends(get_client_address)]

ALL_ROLES = tuple(Role)
STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise role_refused(allowed, user.role)
        return user

    # Who may call a route, readable from its dependencies (the contract fuzz test signs in as
    # each of them).
    check.roles = allowed  # type: ignore[attr-defined]
    return check


# The residents' app signs in by SMS code (``POST /api/v1/r/auth/token``), not with the staff's
# password form: a scheme of its own in the OpenAPI document.
resident_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ResidentToken",
    description="a resident's token from POST /api/v1/r/auth/token (sign-in by SMS code)",
)


def get_current_resident(
    ctx: Ctx, db: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(resident_scheme)]
) -> SignedInResident:
    """The resident a resident token speaks for, while its sign-in stands. A staff token is
    refused here (and a resident token on every staff endpoint: ``auth.security``)."""
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated(
            "sign in first: send the resident token as Authorization: Bearer",
            code="resident_sign_in_required",
            message="请先用手机号和短信验证码登录",
        )
    secret = ctx.settings.auth.jwt_secret
    claims = read_resident_token(credentials.credentials, secret=secret)
    if claims is None and read_token(credentials.credentials, secret=secret) is not None:
        raise Forbidden(
            "a staff token cannot be used for the residents' app: sign in with a phone number",
            code="resident_only",
            message="工作人员账号不能使用居民服务，请用居民的手机号登录",
        )
    resident = accounts.current(db, claims) if claims is not None else None
    if resident is None:
        raise NotAuthenticated(
            "the resident token is invalid, has expired or was signed out",
            code="resident_sign_in_required",
            message="登录已失效，请重新用手机号登录",
        )
    return resident


CurrentResident = Annotated[SignedInResident, Depends(get_current_resident)]


async def residents_app_on(ctx: Ctx) -> None:
    """The residents' API answers only while ``[residents_app] enabled`` (its /config always)."""
    if not ctx.settings.residents_app.enabled:
        raise NotFound(
            "the residents' app is switched off here",
            code="residents_app_off",
            message=f"居民网上服务暂未开通，请拨打服务热线 {ctx.settings.residents_app.hotline}",
        )
