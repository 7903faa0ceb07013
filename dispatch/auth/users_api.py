"""Staff accounts over HTTP (admins): list, create, edit — including the phone extension that
routes an operator's screen pops."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from dispatch.auth.schemas import MeOut, me_out
from dispatch.auth.users import (
    EXTENSION_PATTERN,
    MIN_PASSWORD_LENGTH,
    PROVIDER_ROLES,
    UserError,
    create_user,
    set_active,
    set_extension,
    set_password,
    set_role,
)
from dispatch.deps import Db, require_roles
from dispatch.errors import ROLE_LABELS, BadRequest, Conflict, NotFound
from dispatch.inputs import Flag, Id
from dispatch.pagination import Page, paginate
from models import Role, User

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]


class UserOut(MeOut):
    active: bool


class UserList(BaseModel):
    items: list[UserOut]
    total: int


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=50)
    role: Role
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=200)
    display_name: str = Field("", max_length=100)
    provider_id: Id | None = None
    extension: str | None = Field(None, pattern=EXTENSION_PATTERN)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, min_length=1, max_length=100)
    extension: str | None = Field(None, pattern=EXTENSION_PATTERN, description="null clears it")
    active: Flag | None = None
    password: str | None = Field(None, min_length=MIN_PASSWORD_LENGTH, max_length=200)
    role: Role | None = None
    provider_id: Id | None = Field(
        None,
        description="the provider a worker or organisation admin acts for; dropped when the role "
        "changes to a staff role",
    )


def user_out(user: User) -> UserOut:
    return UserOut(**me_out(user).model_dump(), active=user.active)


def _conflict_or_bad(exc: UserError) -> Exception:
    return (
        Conflict(str(exc), code="user_exists", message=exc.message)
        if "already" in str(exc)
        else BadRequest(str(exc), code="invalid_user", message=exc.message)
    )


@router.get("", response_model=UserList)
def list_users(
    db: Db,
    _admin: Admin,
    page: Page,
    role: Role | None = None,
    q: Annotated[
        str | None, Query(max_length=50, description="part of the user name or display name")
    ] = None,
    extension: Annotated[str | None, Query(max_length=20)] = None,
) -> UserList:
    stmt = select(User).order_by(User.id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(
            or_(User.username.contains(q, autoescape=True), User.display_name.contains(q, autoescape=True))
        )
    if extension:
        stmt = stmt.where(User.extension == extension)
    rows, total = paginate(db, stmt, page)
    return UserList(items=[user_out(u) for u in rows], total=total)


@router.post("", response_model=UserOut, status_code=201)
def add_user(body: UserIn, db: Db, _admin: Admin) -> UserOut:
    try:
        user = create_user(db, **body.model_dump())
    except UserError as exc:
        raise _conflict_or_bad(exc) from None
    return user_out(user)


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: Id, db: Db, _admin: Admin) -> UserOut:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", message=f"未找到编号为 {user_id} 的用户")
    return user_out(user)


@router.patch("/{user_id}", response_model=UserOut)
def edit_user(user_id: Id, patch: UserPatch, db: Db, admin: Admin) -> UserOut:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", message=f"未找到编号为 {user_id} 的用户")
    given = patch.model_fields_set
    if "active" in given and patch.active is False and user.id == admin.id:
        raise BadRequest(
            "you cannot deactivate your own account", code="invalid_user", message="不能停用自己的账号"
        )
    if "active" in given and patch.active is None:
        raise BadRequest("active: true or false", code="invalid_user", message="启用状态：请填 true 或 false")
    if patch.role is not None and patch.role != user.role and user.id == admin.id:
        raise BadRequest("you cannot change your own role", code="invalid_user", message="不能修改自己的角色")
    if "role" in given and patch.role is None:
        raise BadRequest(
            "role: one of " + ", ".join(r.value for r in Role),
            code="invalid_user",
            message="角色：可选 " + "、".join(f"{r.value}（{ROLE_LABELS[r.value]}）" for r in Role),
        )
    try:
        if "role" in given or "provider_id" in given:
            role = patch.role or user.role
            if "provider_id" in given:
                provider_id = patch.provider_id
            else:  # a staff role has no provider; a provider role keeps the one it has
                provider_id = user.provider_id if role in PROVIDER_ROLES else None
            set_role(db, user, role, provider_id)
        if "extension" in given:
            set_extension(db, user, patch.extension)
        if patch.password is not None:
            set_password(user, patch.password)
    except UserError as exc:
        raise _conflict_or_bad(exc) from None
    if patch.display_name is not None:
        user.display_name = patch.display_name
    if patch.active is not None:
        set_active(user, patch.active)
    db.flush()
    return user_out(user)
