"""Outbox: every SMS, call and notification is written in the transaction that causes it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, str_enum, utcnow


class OutboxChannel(enum.StrEnum):
    SMS = "sms"
    CALL = "call"  # outbound callback call
    NOTIFY = "notify"  # in-console notification to a user or role


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanent failure, kept for a person to see
    # SMS or call whose outcome is unknown (the provider timed out after taking the request, or the
    # sender died mid-send): never resent blindly; reconciled with the provider, else an admin
    # resends or drops it.
    UNCERTAIN = "uncertain"
    DROPPED = "dropped"  # an admin decided an uncertain message is not to be sent


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[OutboxChannel] = mapped_column(str_enum(OutboxChannel))
    recipient: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id", ondelete="SET NULL"), index=True)
    # Same key → same message: lets a retried job enqueue without duplicating.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None]
    # When the last send attempt was claimed: reconciling an uncertain message looks for what the
    # provider took from then on.
    claimed_at: Mapped[datetime | None]
