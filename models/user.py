"""Staff accounts."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped, str_enum


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"  # 督办
    OPERATOR = "operator"  # 坐席
    ORG_ADMIN = "org_admin"  # 社会组织管理员
    WORKER = "worker"  # 社工 / 服务人员


class User(Timestamped, Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(200))
    # Workers and org admins act for one provider (the worker, or the organisation).
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("provider.id"), index=True)
    # Operator's phone extension: a ringing extension pops this user's console.
    extension: Mapped[str | None] = mapped_column(String(20), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Raised on every change that must end the account's sign-ins (password, role, deactivation):
    # a token carries the value it was issued under and is refused once it differs.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
