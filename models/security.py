"""Security records: sign-in attempts (throttling, an admin's view of failures), single-use stream
tickets, and the append-only access trail of residents' personal data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class LoginAttempt(Base):
    """One sign-in attempt, kept for throttling (failures per account and per address in a window)
    and for admins to see who is guessing."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    username: Mapped[str] = mapped_column(String(50))  # as typed (an unknown name too), trimmed
    address: Mapped[str] = mapped_column(String(64))  # the client's IP address
    success: Mapped[bool] = mapped_column(Boolean)
    # wrong_password | unknown_user | inactive | throttled | ok
    outcome: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class ResidentSignInCode(Base):
    """One SMS code sent to a phone number for the residents' app. Only its HMAC is kept
    (``dispatch.selfservice.codes``); the rows also count the codes a number and an address asked
    for, which the resend limits are read from."""

    __tablename__ = "resident_sign_in_code"
    __table_args__ = (
        Index("ix_resident_sign_in_code_phone_created_at", "phone", "created_at"),
        Index("ix_resident_sign_in_code_address_created_at", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, hex
    address: Mapped[str] = mapped_column(String(64))  # the client's IP address that asked for it
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    tries: Mapped[int] = mapped_column(Integer, default=0)  # wrong codes typed so far
    used_at: Mapped[datetime | None]


class StreamTicket(Base):
    """A short-lived, single-use ticket that opens one event stream, so no long-lived token ever
    travels in a URL (EventSource cannot send headers). Stored as a hash."""

    __tablename__ = "stream_ticket"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    token_version: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AccessRecord(Base):
    """One read of a resident's personal data: who, when, which resident (or order), what was seen
    and why. Append-only: no API changes or deletes a row, and the database refuses to (triggers
    added by migration 0004)."""

    __tablename__ = "access_record"
    __table_args__ = (
        Index("ix_access_record_resident_at", "resident_id", "at"),
        Index("ix_access_record_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    username: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    # profile | screen_pop | phone_reveal | order_detail | resident_search | export | callback
    action: Mapped[str] = mapped_column(String(30))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")  # what was shown: fields, a query
