"""Request dependencies: the transaction, the current user and role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from dispatch.auth.security import read_token
from dispatch.context import AppContext
from dispatch.errors import NotAuthenticated, role_refused
from models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in the
# thread pool, and each such hop costs a thread switch on every request.
async def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_context)]


async def get_db(ctx: Ctx) -> AsyncIterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client
    never sees success for a change that failed to commit.

    Opening a session does no I/O (the connection is taken on first use), so it happens on the
    event loop; only the end, commit or rollback and close, goes to a worker thread. That thread
    comes from its own limiter, as FastAPI does for ``def`` dependencies: a request waiting to
    commit must never wait behind requests that wait for its write lock.
    """
    session = ctx.sessions()
    try:
        yield session
    except BaseException:
        with CancelScope(shield=True):
            await anyio.to_thread.run_sync(_finish, session, False, limiter=CapacityLimiter(1))
        raise
    with CancelScope(shield=True):
        await anyio.to_thread.run_sync(_finish, session, True, limiter=CapacityLimiter(1))


def _finish(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db, scope="function")]


def get_current_user(ctx: Ctx, db: Db, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    if not token:
        raise NotAuthenticated("sign in first: send an Authorization: Bearer token", message="请先登录")
    user_id = read_token(token, secret=ctx.settings.auth.jwt_secret)
    user = db.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        raise NotAuthenticated(
            "the access token is invalid or has expired", message="登录已失效或账号已停用，请重新登录"
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

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
