"""Request dependencies: the transaction, the current user and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from dispatch.auth.security import read_token
from dispatch.context import AppContext
from dispatch.errors import Forbidden, NotAuthenticated
from models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_context(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_context)]


def get_db(ctx: Ctx) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client
    never sees success for a change that failed to commit.
    """
    with ctx.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


Db = Annotated[Session, Depends(get_db, scope="function")]


def get_current_user(ctx: Ctx, db: Db, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    if not token:
        raise NotAuthenticated("sign in first: send an Authorization: Bearer token")
    user_id = read_token(token, secret=ctx.settings.auth.jwt_secret)
    user = db.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        raise NotAuthenticated("the access token is invalid or has expired")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

ALL_ROLES = tuple(Role)
STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"this needs one of the roles: {names} (you are {user.role.value})")
        return user

    return check
