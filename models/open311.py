"""Open311 GeoReport v2: the applications' API keys, every use of them, and what they submitted."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, str_enum


class Open311Key(Base):
    """A key an admin issued to a named application (a city's 12345 platform, a mini-program).
    Only the SHA-256 of the key is stored: the key itself is shown once, when issued."""

    __tablename__ = "open311_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(200), default="")
    # The key's first characters, to tell keys apart on the admin's screen.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Requests a minute; null: the ``[open311] rate_per_minute`` default.
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    last_used_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class Open311KeyUse(Base):
    """One request made with a key: what, when, from where, and how it ended."""

    __tablename__ = "open311_key_use"
    __table_args__ = (Index("ix_open311_key_use_key_id_at", "key_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_key.id"))
    at: Mapped[datetime]
    # post_request | get_services | get_service | get_requests | get_request | get_token
    operation: Mapped[str] = mapped_column(String(30))
    status: Mapped[int] = mapped_column(Integer)
    # The order number (service_request_id) or the token the request made or read.
    reference: Mapped[str] = mapped_column(String(100), default="")
    client_address: Mapped[str] = mapped_column(String(64), default="")


class SubmissionStatus(enum.StrEnum):
    ORDERED = "ordered"  # an order: service_request_id is its number
    PENDING = "pending"  # waits for the call centre (a token was answered)
    REJECTED = "rejected"  # the call centre did not make an order of it


class Open311Submission(Base):
    """One request an application POSTed: the order it became, or, while it waits for the call
    centre, what it said (``form``, personal data: the call centre's eyes only)."""

    __tablename__ = "open311_submission"
    __table_args__ = (
        Index("ix_open311_submission_key_id_fingerprint", "key_id", "fingerprint"),
        Index("ix_open311_submission_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_key.id"))
    created_at: Mapped[datetime]
    status: Mapped[SubmissionStatus] = mapped_column(str_enum(SubmissionStatus))
    token: Mapped[str | None] = mapped_column(String(40), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    # SHA-256 of device_id, service_code and description: the same device repeating itself.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(100), default="")
    # Why it waits (address_unresolved), and what was said of it when turned down.
    reason: Mapped[str] = mapped_column(String(40), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    form: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
