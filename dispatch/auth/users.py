"""Staff accounts."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.auth.security import hash_password
from dispatch.errors import ROLE_LABELS, InvalidValue
from models import Provider, ProviderKind, Role, User

MIN_PASSWORD_LENGTH = 8
# The roles that take calls: only they have a phone extension, and only their console gets the
# screen pop (a resident's name, phones, address and open orders) when it rings.
CALL_TAKING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR})
# A PBX extension or agent id: digits mostly; letters, *, #, _ and - allowed.
EXTENSION_PATTERN = r"^[0-9A-Za-z*#_-]{1,20}$"


class UserError(InvalidValue):
    """A staff account that cannot be created as asked (``message``: why, in Chinese)."""


def _role_zh(role: Role) -> str:
    return ROLE_LABELS.get(role.value, role.value)


def create_user(
    session: Session,
    *,
    username: str,
    role: str | Role,
    password: str,
    provider_id: int | None = None,
    display_name: str = "",
    extension: str | None = None,
) -> User:
    username = username.strip()
    if not username or len(username) > 50:
        raise UserError("the user name must have 1 to 50 characters", message="用户名须为 1 到 50 个字符")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(
            f"unknown role {role!r}: use one of {', '.join(r.value for r in Role)}",
            message=f"未知的角色 {role}，可选：{'、'.join(f'{r.value}（{_role_zh(r)}）' for r in Role)}",
        ) from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            message=f"密码至少要有 {MIN_PASSWORD_LENGTH} 个字符",
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"a user named {username!r} already exists", message=f"用户名“{username}”已存在")
    _check_provider(session, role, provider_id)
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password),
        provider_id=provider_id,
        display_name=display_name or username,
    )
    set_extension(session, user, extension)
    session.add(user)
    session.flush()
    return user


PROVIDER_ROLES = (Role.WORKER, Role.ORG_ADMIN)


def _check_provider(session: Session, role: Role, provider_id: int | None) -> None:
    """Workers act for a worker, organisation admins for an organisation, staff for none."""
    if role in PROVIDER_ROLES:
        if provider_id is None:
            raise UserError(
                f"a {role.value} account needs --provider (the provider it acts for)",
                message=f"{_role_zh(role)}账号须指定所代表的服务方",
            )
        provider = session.get(Provider, provider_id)
        if provider is None:
            raise UserError(
                f"no provider with id {provider_id}", message=f"没有编号为 {provider_id} 的服务方"
            )
        if role == Role.ORG_ADMIN and provider.kind != ProviderKind.ORGANISATION:
            raise UserError(
                f"provider {provider_id} is a worker, not an organisation",
                message=f"服务方 {provider_id} 是服务人员，不是机构",
            )
        if role == Role.WORKER and provider.kind != ProviderKind.WORKER:
            raise UserError(
                f"provider {provider_id} is an organisation, not a worker",
                message=f"服务方 {provider_id} 是机构，不是服务人员",
            )
    elif provider_id is not None:
        raise UserError(
            f"a {role.value} account does not belong to a provider",
            message=f"{_role_zh(role)}账号不属于任何服务方，请不要指定服务方",
        )


def end_sign_ins(user: User) -> None:
    """Refuse every token and event stream the account holds now: it signs in again.

    Tokens carry the version they were issued under (``dispatch.auth.security``); requests are
    refused at once, open event streams at their next re-check (``[auth] stream_recheck_seconds``).
    """
    user.token_version = (user.token_version or 0) + 1


def set_role(session: Session, user: User, role: Role, provider_id: int | None) -> None:
    """Move an account to another role or provider. Its sign-ins end: what it may see changed,
    and its open event stream was subscribed for the old role and providers."""
    _check_provider(session, role, provider_id)
    if (role, provider_id) != (user.role, user.provider_id):
        end_sign_ins(user)
    if role != user.role:
        # The extension was given for the old role: whoever should take calls in the new one gets
        # it again explicitly (set_extension after set_role), never by carrying it over.
        user.extension = None
    user.role, user.provider_id = role, provider_id


def set_extension(session: Session, user: User, extension: str | None) -> None:
    """Give ``user`` this phone extension (None or "" clears it); one user per extension, and
    only accounts of a call-taking role have one (set the role first)."""
    extension = (extension or "").strip() or None
    if extension is not None:
        if user.role not in CALL_TAKING_ROLES:
            raise UserError(
                f"a {user.role.value} account cannot have a phone extension: only "
                f"{', '.join(sorted(r.value for r in CALL_TAKING_ROLES))} accounts take calls",
                message=f"{_role_zh(user.role)}账号不接听来电，不能设置分机号"
                f"（只有{'、'.join(_role_zh(r) for r in sorted(CALL_TAKING_ROLES))}账号可以设置）",
            )
        if not re.fullmatch(EXTENSION_PATTERN, extension):
            raise UserError(
                f"extension {extension!r}: 1-20 digits, letters, *, #, _ or -",
                message=f"分机号“{extension}”格式不正确：须为 1–20 位数字、字母或 * # _ -",
            )
        owner = session.scalar(select(User.id).where(User.extension == extension))
        if owner is not None and owner != user.id:
            raise UserError(
                f"extension {extension} already belongs to another user",
                message=f"分机号 {extension} 已属于其他用户",
            )
    user.extension = extension


def set_password(user: User, password: str) -> None:
    """A new password ends the account's sign-ins, the one that set it too (an admin setting their
    own password signs in again): whoever held a session under the old password loses it."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            message=f"密码至少要有 {MIN_PASSWORD_LENGTH} 个字符",
        )
    user.password_hash = hash_password(password)
    end_sign_ins(user)


def set_active(user: User, active: bool) -> None:
    """Deactivating ends the account's sign-ins (it can no longer sign in either)."""
    if user.active and not active:
        end_sign_ins(user)
    user.active = active
